// The release binaries from `npm run release`: formats, SHA256SUMS, and the two Linux ones run.
// Opt-in (it cross-compiles four ~100 MB executables; Bun fetches the foreign runtimes from the
// npm registry the first time): GIT_SYNC_RELEASE_TEST=1 bun test test/release
// The arm64 binary runs under qemu-user with Debian's arm64 glibc (scripts/image/arm64-sysroot.sh).
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/index.ts";
import { missing, unmet } from "../helpers/prereqs.ts";

const optedOut = unmet([process.env.GIT_SYNC_RELEASE_TEST === "1" ? undefined : { what: "release binaries not built", get: "set GIT_SYNC_RELEASE_TEST=1", strictness: "opt-in" }]);
const noFile = !optedOut && missing("file");

const dist = join(ROOT, "dist");
const TARGETS = [
  ["linux-amd64", /ELF 64-bit LSB .*x86-64/],
  ["linux-arm64", /ELF 64-bit LSB .*ARM aarch64/],
  ["darwin-amd64", /Mach-O 64-bit x86_64 executable/],
  ["darwin-arm64", /Mach-O 64-bit arm64 executable/],
] as const;

function sh(argv: string[], opts: { cwd?: string; timeoutMs?: number } = {}) {
  const p = Bun.spawnSync(argv, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe", env: process.env, timeout: opts.timeoutMs ?? 60_000 });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe.skipIf(optedOut)("release binaries", () => {
  beforeAll(() => {
    const start = Date.now();
    const r = sh([process.execPath, join(ROOT, "scripts", "build.ts"), "--release"], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`npm run release failed:\n${r.stdout}\n${r.stderr}`);
    console.log(`release build: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }, 600_000);

  test.skipIf(noFile).each(TARGETS.map(([name, re]) => [name, re] as const))("git-sync-%s has the right format", (name, re) => {
    const f = join(dist, `git-sync-${name}`);
    expect(existsSync(f)).toBe(true);
    expect(sh(["file", "-b", f]).stdout).toMatch(re);
  });

  test("SHA256SUMS lists every binary and verifies", async () => {
    const lines = readFileSync(join(dist, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[1]).sort()).toEqual(TARGETS.map(([n]) => `git-sync-${n}`).sort());
    for (const line of lines) {
      const [sum, file] = line.split(/\s+/) as [string, string];
      const actual = new Bun.CryptoHasher("sha256").update(await Bun.file(join(dist, file)).arrayBuffer()).digest("hex");
      expect(actual, file).toBe(sum);
    }
    // The format `sha256sum -c` reads, as users will run it.
    const c = sh(["sha256sum", "-c", "SHA256SUMS"], { cwd: dist });
    expect(c.code, c.stdout + c.stderr).toBe(0);
  });

  test("linux-amd64 runs --version", () => {
    const r = sh([join(dist, "git-sync-linux-amd64"), "--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^v\d+\.\d+\.\d+\S*\n$/);
  });

  test("linux-arm64 runs --version under qemu-user", () => {
    const setup = sh([join(ROOT, "scripts", "image", "arm64-sysroot.sh")], { timeoutMs: 300_000 });
    expect(setup.code, setup.stderr).toBe(0);
    const sysroot = setup.stdout.trim().split("\n").pop() ?? "";
    const r = sh(["qemu-aarch64", "-L", sysroot, join(dist, "git-sync-linux-arm64"), "--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(sh([join(dist, "git-sync-linux-amd64"), "--version"]).stdout);
  });
});
