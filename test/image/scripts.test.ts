// The image build's scripts leave the host's configuration alone: podman's configuration and
// store live in a directory of the project (scripts/image/podman-env.sh), nothing is written
// under /etc, and packages are installed only when --install asks for it. Needs no podman.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanup, tmpDir } from "../helpers/index.ts";

const SCRIPTS = join(ROOT, "scripts", "image");
const dirs: string[] = [];
afterEach(() => cleanup(...dirs.splice(0)));

describe("scripts/image", () => {
  test.each(readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")))("%s writes nothing under /etc", (file) => {
    // A write to a host path: a redirection, tee, cp/mv/install or mkdir whose target starts at
    // /etc ("$R/etc/..." inside a stand-in's rootfs is not the host's).
    const writes = readFileSync(join(SCRIPTS, file), "utf8")
      .split("\n")
      .filter((l) => !l.trimStart().startsWith("#"))
      .filter((l) => /(>>?|\btee\b|\bcp\b|\bmv\b|\binstall\b|\bmkdir\b)[^|;&]*\s"?\/etc\//.test(l));
    expect(writes).toEqual([]);
  });

  test("podman-env.sh points podman at files and a store inside GIT_SYNC_PODMAN_DIR", () => {
    const dir = tmpDir();
    dirs.push(dir);
    const p = Bun.spawnSync(["bash", join(SCRIPTS, "podman-env.sh")], { env: { ...process.env, GIT_SYNC_PODMAN_DIR: dir }, stdout: "pipe" });
    expect(p.exitCode).toBe(0);
    const vars = Object.fromEntries(p.stdout.toString().trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(vars).toMatchObject({ GIT_SYNC_PODMAN_DIR: dir, CONTAINERS_CONF: join(dir, "containers.conf"), CONTAINERS_STORAGE_CONF: join(dir, "storage.conf") });
    expect(vars.GIT_SYNC_PODMAN_RUN).toMatch(/^\/run\/git-sync-podman-\d+$/);
  });

  /**
   * setup-podman.sh on a PATH without podman and with an apt-get that only records its
   * arguments (and then fails, which ends the script before it configures anything).
   */
  function setupWithoutPodman(args: string[]) {
    const dir = tmpDir();
    dirs.push(dir);
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const tool of ["dirname", "cksum", "cut", "cat"]) symlinkSync(Bun.which(tool)!, join(bin, tool));
    const calls = join(dir, "apt-get.calls");
    writeFileSync(join(bin, "apt-get"), `#!${Bun.which("bash")}\necho "$*" >> '${calls}'\n[ "$1" = update ]\n`, { mode: 0o755 });
    const p = Bun.spawnSync([Bun.which("bash")!, join(SCRIPTS, "setup-podman.sh"), ...args], {
      env: { PATH: bin, GIT_SYNC_PODMAN_DIR: join(dir, "podman") },
      stdout: "pipe",
      stderr: "pipe",
    });
    return { code: p.exitCode, stderr: p.stderr.toString(), stdout: p.stdout.toString(), apt: existsSync(calls) ? readFileSync(calls, "utf8") : "" };
  }

  test("a missing tool is named with the command to install it, and nothing is installed without --install", () => {
    const r = setupWithoutPodman([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("setup-podman: missing podman");
    expect(r.stderr).toContain("apt-get install -y --no-install-recommends podman skopeo runc debootstrap catatonit");
    expect(r.stderr).toContain("build.sh --install");
    expect(r.apt).toBe("");
  });

  test("--install says what it installs, then runs apt-get", () => {
    const r = setupWithoutPodman(["--install"]);
    expect(r.stdout).toContain("setup-podman: installing podman skopeo runc debootstrap catatonit with apt-get (--install)");
    expect(r.apt).toMatch(/^update .*\ninstall .*--no-install-recommends podman skopeo runc debootstrap catatonit\n$/);
  });
});
