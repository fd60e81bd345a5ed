// The startup sequence through the binary (behaviour.md 3): what is fatal, what is logged, and what
// the private git config and the hooks' environment hold.
import { expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, head, jsonLines, scenario, waitFor } from "../helpers/index.ts";

test.concurrent("a busy --http-bind port is fatal: exit 1 with can't bind HTTP endpoint", async () => {
  await using t = await scenario();
  const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const r = await t.sync(`--http-bind=127.0.0.1:${busy.port}`);
    expect(r.code).toBe(1);
    const err = jsonLines(r.stderr).find((l) => l.msg === "can't bind HTTP endpoint");
    expect(err).toBeDefined();
    expect(t.hash()).toBe("");
  } finally {
    busy.stop(true);
  }
});

test.concurrent("a root reached through a symlink logs normalized root path with both paths", async () => {
  await using t = await scenario();
  const real = join(t.dir, "real");
  mkdirSync(real);
  const alias = join(t.dir, "alias");
  symlinkSync(real, alias);
  const r = await t.run(["--one-time", `--repo=${t.repo}`, `--root=${alias}`, "--link=link"]);
  expect(r.code).toBe(0);
  expect(jsonLines(r.stderr).find((l) => l.msg === "normalized root path")).toMatchObject({ level: 0, root: alias, result: real });
});

test.concurrent("an unparsable --git-config is fatal at startup: exit 1, nothing synced", async () => {
  await using t = await scenario();
  const r = await t.sync("--git-config=no-colon-here");
  expect(r.code).toBe(1);
  const err = jsonLines(r.stderr).find((l) => String(l.msg).startsWith("can't parse --git-config flag"));
  expect(err).toBeDefined();
  expect(t.hash()).toBe("");
});

test.concurrent("--git-config values reach git, and secret-looking keys are redacted in the git config log", async () => {
  await using t = await scenario();
  const secret = "Bearer s3cr3t-t0ken";
  const r = await t.sync("--git-config=core.abbrev:12", `--git-config-add=http.extraHeader:Authorization: ${secret}`);
  expect(r.code).toBe(0);
  const shown = jsonLines(r.stderr).find((l) => l.msg === "git config")?.config as Record<string, string>;
  expect(shown["core.abbrev"]).toBe("12");
  expect(shown["http.extraheader"]).toBe("REDACTED");
  expect(shown["safe.directory"]).toBe("*");
  expect(r.stderr).not.toContain("s3cr3t");
});

test.concurrent("hooks inherit the environment but not GITSYNC_PASSWORD", async () => {
  await using t = await scenario();
  const out = join(t.dir, "hook-env");
  const hook = join(t.dir, "hook.sh");
  writeFileSync(hook, `#!/bin/sh\nenv > '${out}'\n`);
  chmodSync(hook, 0o755);
  // A local-path repo never asks for the password, so the sync itself succeeds.
  const r = await t.run(["--one-time", ...t.args("--username=alice", `--exechook-command=${hook}`)], {
    env: { GITSYNC_PASSWORD: "hunter2-secret", KEEP_ME: "yes" },
  });
  expect(r.code).toBe(0);
  await waitFor("the hook's env dump", () => readFileSync(out, "utf8").includes(`GITSYNC_HASH=${head(t.repo)}`));
  const env = readFileSync(out, "utf8");
  expect(env).toContain("KEEP_ME=yes");
  expect(env).toContain("GIT_CONFIG_GLOBAL=");
  expect(env).not.toContain("hunter2-secret");
});

test.concurrent("git version is logged at V0, and a git that can't answer it ends the process with exit 1", async () => {
  await using t = await scenario();
  const ok = await t.syncOk();
  const logged = jsonLines(ok.stderr).find((l) => l.msg === "git version");
  expect(String(logged?.version)).toMatch(/^git version \d+\.\d+/);

  const broken = join(t.dir, "no-version-git");
  writeFileSync(broken, `#!/bin/sh\n[ "$1" = version ] && { echo "broken" >&2; exit 3; }\nexec ${Bun.which("git")} "$@"\n`, { mode: 0o755 });
  const root = join(t.dir, "root2");
  const r = await t.run(["--one-time", `--repo=${t.repo}`, `--root=${root}`, `--git=${broken}`, "--max-failures=5"]);
  expect(r.code).toBe(1);
  const fatal = jsonLines(r.stderr).find((l) => l.msg === "FATAL: can't run git version");
  expect(String(fatal?.error)).toContain("exit status 3");
  expect(existsSync(join(root, "link"))).toBe(false);
});

test.concurrent("a relative --repo path is read from the directory git-sync starts in, like a relative --root", async () => {
  await using t = await scenario();
  // The user's shell is in the scenario dir, which holds `repo`; git itself would look in root.
  const r = await t.run(["--one-time", "--repo=repo", "--root=root", "--link=link"], { cwd: t.dir });
  expect(r.code).toBe(0);
  expect(t.hash()).toBe(head(t.repo));
  expect(jsonLines(r.stderr).find((l) => l.msg === "normalized repo path")).toMatchObject({ level: 0, repo: "repo", result: realpathSync(t.repo) });
});

test.concurrent("a relative --repo that names nothing from the start directory keeps upstream's reading, from root", async () => {
  await using t = await scenario();
  // From <dir>/a/b, ../repo would be <dir>/a/repo (absent); from <dir>/root it is <dir>/repo.
  const start = join(t.dir, "a", "b");
  mkdirSync(start, { recursive: true });
  const r = await t.run(["--one-time", "--repo=../repo", `--root=${t.root}`, "--link=link"], { cwd: start });
  expect(r.code).toBe(0);
  expect(t.hash()).toBe(head(t.repo));
});

test.concurrent("a relative --repo that names nothing yet stays relative to root, as upstream: it syncs once it appears there", async () => {
  await using t = await scenario();
  // Started from <dir>/a/b with --repo=../late: <dir>/a/late from there, <dir>/late from root.
  const start = join(t.dir, "a", "b");
  mkdirSync(start, { recursive: true });
  const gs = t.spawn(["--repo=../late", `--root=${t.root}`, "--link=link", "--period=100ms", "--max-failures=-1"], { cwd: start });
  await waitFor("a failed attempt", () => gs.stderr.includes("error syncing repo") || gs.done, 15_000);
  git(t.dir, "clone", "-q", "--bare", t.repo, "late");
  await waitFor("the link", () => t.hash() === head(t.repo) || gs.done, 15_000);
  expect(gs.stderr).not.toContain("normalized repo path");
});

test.concurrent("--root naming a file or a dangling symlink: exit 1 saying so", async () => {
  await using t = await scenario();
  const file = join(t.dir, "a-file");
  writeFileSync(file, "");
  symlinkSync(join(t.dir, "nowhere"), join(t.dir, "dangling"));
  for (const [root, error] of [
    [file, `--root ${file} is not a directory`],
    [join(file, "sub"), `--root ${join(file, "sub")}: ${file} is not a directory`],
    [join(t.dir, "dangling"), `--root ${join(t.dir, "dangling")} is a dangling symlink`],
  ]) {
    const r = await t.run(["--one-time", `--repo=${t.repo}`, `--root=${root}`]);
    expect(r.code).toBe(1);
    expect(jsonLines(r.stderr).find((l) => l.msg === "FATAL: can't make root dir"), r.stderr).toMatchObject({ error });
    expect(r.stderr).not.toContain("EEXIST");
  }
});
