// The image tests run podman against the project's own podman store, the one
// scripts/image/build.sh fills, not the host's: scripts/image/podman-env.sh names it, for the
// build and for these tests alike.
import { join } from "node:path";
import { which } from "./prereqs.ts";

/**
 * Puts podman-env.sh's variables (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, ...) into
 * process.env, so every podman and skopeo this process starts uses that store. Call it before
 * the first podman command.
 */
export function usePrivatePodman(): void {
  // Without podman the tests that use it skip (prereqs.ts); there is nothing to point at a store.
  if (which("podman") === undefined) return;
  const script = join(import.meta.dir, "../../scripts/image/podman-env.sh");
  const p = Bun.spawnSync(["bash", script], { stdout: "pipe", stderr: "pipe", env: process.env });
  if (p.exitCode !== 0) throw new Error(`bash ${script}: exit ${p.exitCode}: ${p.stderr.toString()}`);
  for (const line of p.stdout.toString().split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) process.env[line.slice(0, eq)] = line.slice(eq + 1);
  }
}
