// Configuration mistakes through the binary (behaviour.md 2.1, 2.4, 4.9). The config module has
// its own table tests; these prove the binary wires messages and exit codes through.
import { expect, test } from "bun:test";
import { expectExit0, scenario } from "../helpers/index.ts";

const SEE_HELP = "run 'git-sync --help' for usage";

test.concurrent("reject an unknown flag with exit 2, the error and where the usage is", async () => {
  await using t = await scenario();
  const r = await t.run(["--no-such-flag", `--repo=${t.repo}`, `--root=${t.root}`]);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe(`unknown flag: --no-such-flag\n${SEE_HELP}\n`);
});

test.concurrent("a bad --period value is one line of error and one of advice, not the whole usage (exit 2 as upstream)", async () => {
  await using t = await scenario();
  const r = await t.run([`--repo=${t.repo}`, `--root=${t.root}`, "--period=5"]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).toBe(`invalid argument "5" for "--period" flag: time: missing unit in duration "5"\n${SEE_HELP}\n`);
});

test.concurrent("a config error is its message and where the usage is, exit 1", async () => {
  await using t = await scenario();
  const r = await t.run([`--repo=${t.repo}`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`required flag: --root must be specified\n${SEE_HELP}\n`);
});

test.concurrent("reject a v3 single-dash long flag with exit 2", async () => {
  await using t = await scenario();
  const r = await t.run([`-repo=${t.repo}`, `--root=${t.root}`]);
  expect(r.code).toBe(2);
});

test.concurrent("reject --depth=-1 with exit 1 and its message", async () => {
  await using t = await scenario();
  const r = await t.sync("--depth=-1");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("invalid flag: --depth must be greater than or equal to 0");
});

test.concurrent("require --root", async () => {
  await using t = await scenario();
  const r = await t.run([`--repo=${t.repo}`, "--one-time"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("required flag: --root must be specified");
});

test.concurrent("require --repo", async () => {
  await using t = await scenario();
  const r = await t.run([`--root=${t.root}`, "--one-time"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("required flag: --repo must be specified");
});

test.concurrent("reject an invalid bool in the environment (GITSYNC_ONE_TIME=yes)", async () => {
  await using t = await scenario();
  const r = await t.run(t.args(), { env: { GITSYNC_ONE_TIME: "yes" } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('FATAL: invalid bool env GITSYNC_ONE_TIME="yes"');
});

test.concurrent("reject an invalid --submodules value", async () => {
  await using t = await scenario();
  const r = await t.sync("--submodules=all");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('invalid flag: --submodules must be one of "recursive", "shallow", or "off"');
});

test.concurrent("reject a --period under 10ms", async () => {
  await using t = await scenario();
  const r = await t.sync("--period=1ms");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("invalid flag: --period must be at least 10ms");
});

test.concurrent("reject a --git that is not on PATH", async () => {
  await using t = await scenario();
  const r = await t.sync("--git=no-such-git-binary");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("git executable not found");
});

test.concurrent("reject a --git path that does not exist, before touching the root", async () => {
  await using t = await scenario();
  const r = await t.sync(`--git=${t.dir}/no/such/git`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("FATAL: git executable not found");
  expect(t.hash()).toBe("");
});

test.concurrent("print the version on stdout and exit 0", async () => {
  await using t = await scenario();
  const r = expectExit0(await t.run(["--version"]));
  expect(r.stdout).toMatch(/^v\S+\n$/);
});

test.concurrent("print the usage on stdout for --help and exit 0", async () => {
  await using t = await scenario();
  const r = expectExit0(await t.run(["--help"]));
  expect(r.stdout).toContain("--repo");
  expect(r.stdout).toContain("--root");
});

test.concurrent("--help names the operator subcommands status and sync-now, with their main flags", async () => {
  await using t = await scenario();
  const r = expectExit0(await t.run(["--help"]));
  expect(r.stdout).toMatch(/^ {2}git-sync status \[--json\] \[--root DIR\] \[--link PATH\] \[--http-bind ADDR\] \[--pid N\]$/m);
  expect(r.stdout).toMatch(/^ {2}git-sync sync-now \[--root DIR\] \[--link PATH\] \[--http-bind ADDR\] \[--pid N\] \[--secret-file FILE\]$/m);
  expect(r.stdout).toMatch(/^ {2}git-sync help \[status\|sync-now\]/m);
});

test.concurrent.each<[string[], string]>([
  [["help"], "Usage of git-sync:\n"],
  [["help", "--period=5"], "Usage of git-sync:\n"],
  [["help", "status"], "usage: git-sync status "],
  [["status", "--help"], "usage: git-sync status "],
  [["help", "sync-now"], "usage: git-sync sync-now "],
  [["sync-now", "--help"], "usage: git-sync sync-now "],
])("git-sync %p prints help on stdout and exits 0", async (args, start) => {
  await using t = await scenario();
  // No --root anywhere: help must not need one.
  const r = expectExit0(await t.run(args, { env: { GITSYNC_ROOT: "", GITSYNC_REPO: "" } }));
  expect(r.stdout).toStartWith(start);
  expect(r.stderr).toBe("");
});

test.concurrent("git-sync help on an unknown topic says which topics there are, exit 2", async () => {
  await using t = await scenario();
  const r = await t.run(["help", "bogus"], { env: { GITSYNC_ROOT: "", GITSYNC_REPO: "" } });
  expect([r.code, r.stdout]).toEqual([2, ""]);
  expect(r.stderr).toBe('git-sync help: no help on "bogus": the topics are status and sync-now (git-sync help alone prints the flags)\n');
});

test.concurrent("help is a subcommand only as the first argument: elsewhere it is an ignored positional, as upstream", async () => {
  await using t = await scenario();
  const r = await t.run(["--one-time", `--repo=${t.repo}`, `--root=${t.root}`, "--link=link", "help"]);
  expectExit0(r);
  expect(t.hash()).not.toBe("");
});
