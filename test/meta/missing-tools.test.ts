// `npm test` on a machine without sshd and podman: the tests that need them are skipped, the run
// exits 0, and one line at the end says what was missing and how to get it. Black-box: runs
// scripts/test.ts --tests-only on two files that need them, with a PATH that has neither.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanup, tmpDir } from "../helpers/index.ts";
import { which } from "../helpers/prereqs.ts";

const dir = tmpDir("gs-missing-tools-");
afterAll(() => cleanup(dir));

test("without sshd and podman on PATH, npm test skips their tests, exits 0 and says how to get them", async () => {
  // A PATH holding git and the ssh client tools, and neither sshd nor podman.
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["git", "ssh", "ssh-keygen", "sh", "id"]) {
    const p = which(tool);
    if (p) symlinkSync(p, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, "bun"));
  const env: Record<string, string> = { ...process.env, PATH: bin, GIT_SYNC_TEST_INSTALL: "0" };
  // The outer run's switches would turn the skips into failures; its notes file is its own.
  for (const k of ["GIT_SYNC_REQUIRE_TOOLS", "GIT_SYNC_REQUIRE_IMAGE", "GIT_SYNC_TEST_SKIPS"]) delete env[k];
  // Named files only, so the inner run never reaches this file.
  const p = Bun.spawn([process.execPath, join(ROOT, "scripts", "test.ts"), "--tests-only", "./test/auth/ssh.test.ts", "./test/pod/pods.test.ts"], {
    cwd: ROOT,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const show = `exit ${code}\n--- stdout\n${out}\n--- stderr\n${err}`;
  expect(code, show).toBe(0);
  expect(out, show).not.toContain("installing test tools");
  const summary = /^skipped (\d+) tests?: (.*)$/m.exec(out);
  expect(summary, show).not.toBeNull();
  expect(Number(summary![1])).toBeGreaterThan(0);
  expect(summary![2]).toContain("sshd missing (apt-get install openssh-server)");
  expect(summary![2]).toContain("podman missing (bash scripts/image/build.sh)");
  expect(out).toMatch(/^0 passed, 0 failed, \d+ skipped$/m);
}, 60_000);
