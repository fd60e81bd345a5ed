// Files git-sync writes besides the checkout (behaviour.md 1.5, 4.7, 4.8, 10): the link wherever it
// is placed, the touch file, the error file, and group-writable output.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { commit, expectExit0, git, head, linkHash, linkTarget, readOr, scenario, waitFor } from "../helpers/index.ts";

test.concurrent("name the link after the repo's last path element by default", async () => {
  await using t = await scenario({ repoName: "repository.git" });
  expectExit0(await t.run(["--one-time", `--repo=${t.repo}/`, `--root=${t.root}`]));
  const link = join(t.root, "repository.git");
  expect(linkHash(link)).toBe(head(t.repo));
  expect(linkTarget(link)).toBe(`.worktrees/${head(t.repo)}`);
});

test.concurrent("publish an absolute link in a directory outside root", async () => {
  await using t = await scenario();
  const link = join(t.dir, "elsewhere", "link");
  expectExit0(await t.run(["--one-time", `--repo=${t.repo}`, `--root=${t.root}`, `--link=${link}`]));
  expect(linkTarget(link)).toBe(`../root/.worktrees/${head(t.repo)}`);
  expect(readOr(join(link, "file"))).toBe("initial\n");
});

test.concurrent("publish a link in a subdirectory of root", async () => {
  await using t = await scenario();
  await t.syncOk("--link=sub/dir/link");
  const link = join(t.root, "sub", "dir", "link");
  expect(linkTarget(link)).toBe(`../../.worktrees/${head(t.repo)}`);
  expect(readOr(join(link, "file"))).toBe("initial\n");
});

test.concurrent("touch the touch file after the first sync and after updates, not on no-op syncs", async () => {
  await using t = await scenario();
  const touch = join(t.root, "touch");
  const gs = t.start("--touch-file=touch", "--period=100ms", "-v=2");
  await waitFor("touch file after first sync", () => existsSync(touch));
  expect(t.hash()).toBe(head(t.repo));
  rmSync(touch);
  const noops = gs.count("update not required");
  await gs.waitLog("update not required", noops + 3);
  expect(existsSync(touch)).toBe(false);
  const h2 = commit(t.repo, "file", "two\n");
  await waitFor("touch file after an update", () => existsSync(touch));
  expect(t.hash()).toBe(h2);
});

test.concurrent("touch an absolute touch file in a directory that doesn't exist yet", async () => {
  await using t = await scenario();
  const touch = join(t.dir, "signals", "nested", "touched");
  await t.syncOk(`--touch-file=${touch}`);
  expect(existsSync(touch)).toBe(true);
  expect(statSync(touch).size).toBe(0);
});

test.concurrent("write the error file atomically while failing and remove it after a success", async () => {
  await using t = await scenario();
  const errorFile = join(t.root, "error.json");
  const gs = t.start("--ref=feature", "--error-file=error.json", "--max-failures=-1", "--period=100ms");
  await waitFor("error file", () => existsSync(errorFile));
  // behaviour.md 4.8: 0644 whatever the umask made of the temp file.
  expect(statSync(errorFile).mode & 0o777).toBe(0o644);
  // Every read sees a complete JSON document: the file is replaced by rename, never rewritten in place.
  let reads = 0;
  while (reads < 40) {
    const text = readOr(errorFile);
    if (text !== undefined) {
      const doc = JSON.parse(text) as { Msg: string; Err: string; Args: Record<string, unknown> };
      expect(Object.keys(doc)).toEqual(["Msg", "Err", "Args"]);
      expect(doc.Msg).toBe("error syncing repo, will retry");
      expect(doc.Err).toContain("couldn't find remote ref");
      reads++;
    }
    await Bun.sleep(10);
  }
  expect(readdirSync(t.root).filter((f) => f.startsWith("tmp-err-")).length).toBeLessThanOrEqual(1);
  git(t.repo, "branch", "feature");
  await t.waitHash(head(t.repo));
  await waitFor("error file removed", () => !existsSync(errorFile));
  expect(gs.done).toBe(false);
});

test.concurrent("write a fatal config error to the error file as plain text", async () => {
  await using t = await scenario();
  mkdirSync(t.root);
  const errorFile = join(t.root, "error.txt");
  const r = await t.sync("--depth=-1", "--error-file=error.txt");
  expect(r.code).toBe(1);
  expect(readOr(errorFile)).toBe("invalid flag: --depth must be greater than or equal to 0");
});

test.concurrent("make worktree files group-writable with --group-write", async () => {
  await using t = await scenario();
  commit(t.repo, "dir/nested", "x\n");
  // Whatever umask the caller had, --group-write sets 0002 (behaviour.md 3 step 3).
  expectExit0(await t.run(["--one-time", ...t.args("--group-write")], { umask: "077" }));
  const wt = t.worktree(head(t.repo));
  expect(statSync(join(wt, "file")).mode & 0o020).toBe(0o020);
  expect(statSync(join(wt, "dir")).mode & 0o020).toBe(0o020);
  expect(statSync(join(t.root, ".git", "objects")).mode & 0o020).toBe(0o020);
});

test.concurrent("leave worktree files not group-writable without --group-write", async () => {
  await using t = await scenario();
  commit(t.repo, "dir/nested", "x\n");
  // Whatever umask the caller had, git-sync sets 0022 (behaviour.md 3 step 3).
  expectExit0(await t.run(["--one-time", ...t.args()], { umask: "000" }));
  const wt = t.worktree(head(t.repo));
  expect(statSync(join(wt, "file")).mode & 0o022).toBe(0);
  expect(statSync(join(wt, "dir")).mode & 0o022).toBe(0);
});
