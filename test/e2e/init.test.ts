// Root validation and initialization (behaviour.md 1.2, 1.3, 12): whatever state --root is in,
// one --one-time run leaves a valid repo and a link to the remote HEAD.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, countMsg, expectExit0, git, head, linkHash, linkTarget, readOr, scenario } from "../helpers/index.ts";

test.concurrent("sync into an empty root", async () => {
  await using t = await scenario();
  mkdirSync(t.root);
  await t.syncOk();
  expect(t.hash()).toBe(head(t.repo));
  expect(linkTarget(t.link)).toBe(`.worktrees/${head(t.repo)}`);
  expect(t.read()).toBe("initial\n");
});

test.concurrent("sync into a nonexistent root", async () => {
  await using t = await scenario();
  const root = join(t.dir, "a", "b", "root");
  expectExit0(await t.run(["--one-time", `--repo=${t.repo}`, `--root=${root}`, "--link=link"]));
  expect(linkHash(join(root, "link"))).toBe(head(t.repo));
  expect(readOr(join(root, "link", "file"))).toBe("initial\n");
});

test.concurrent("sync into a root that is a symlink", async () => {
  await using t = await scenario();
  const real = join(t.dir, "real");
  mkdirSync(real);
  symlinkSync(real, t.root);
  await t.syncOk();
  // The resolved root is used everywhere: the link lives in the real dir, relative target.
  expect(linkHash(join(real, "link"))).toBe(head(t.repo));
  expect(linkTarget(join(real, "link"))).toBe(`.worktrees/${head(t.repo)}`);
  expect(existsSync(join(real, ".worktrees", head(t.repo), "file"))).toBe(true);
  expect(t.read()).toBe("initial\n");
});

test.concurrent("sync into a ../-laden root", async () => {
  await using t = await scenario();
  // Relative to the cwd, through directories that don't exist: cleaned lexically (1.2).
  expectExit0(await t.run(["--one-time", `--repo=${t.repo}`, "--root=x/y/../../root/../root/", "--link=link"], { cwd: t.dir }));
  expect(t.hash()).toBe(head(t.repo));
  expect(existsSync(join(t.dir, "x"))).toBe(false);
  expect(t.read()).toBe("initial\n");
});

test.concurrent("wipe and re-init a root inside another repo, leaving the parent repo untouched", async () => {
  await using t = await scenario();
  const parent = t.makeRepo("parent");
  const parentHead = head(parent);
  const root = join(parent, "root");
  mkdirSync(root);
  writeFileSync(join(root, "junk"), "junk\n");
  const r = expectExit0(await t.run(["--one-time", `--repo=${t.repo}`, `--root=${root}`, "--link=link"]));
  expect(r.stderr).toContain("repo directory is under another repo");
  expect(linkHash(join(root, "link"))).toBe(head(t.repo));
  expect(existsSync(join(root, "junk"))).toBe(false);
  expect(git(root, "rev-parse", "--show-toplevel")).toBe(root);
  // The parent repo: same HEAD, same files, nothing staged.
  expect(head(parent)).toBe(parentHead);
  expect(readOr(join(parent, "file"))).toBe("initial\n");
  expect(git(parent, "diff", "--cached", "--name-only")).toBe("");
});

test.concurrent("wipe and re-init a root with a broken .git", async () => {
  await using t = await scenario();
  await t.syncOk();
  // Not a valid HEAD: git no longer sees a repo here (`rev-parse --show-toplevel` fails).
  writeFileSync(join(t.root, ".git", "HEAD"), "garbage\n");
  const h2 = commit(t.repo, "file", "two\n");
  const r = await t.syncOk();
  expect(countMsg(r.stderr, "repo directory was empty or failed checks")).toBe(1);
  expect(t.hash()).toBe(h2);
  expect(t.read()).toBe("two\n");
});

test.concurrent("wipe and re-init a root holding junk files", async () => {
  await using t = await scenario();
  mkdirSync(join(t.root, "junkdir", "deeper"), { recursive: true });
  writeFileSync(join(t.root, "junkfile"), "x");
  writeFileSync(join(t.root, "junkdir", "deeper", "f"), "x");
  writeFileSync(join(t.root, ".hidden"), "x");
  const r = await t.syncOk();
  expect(r.stderr).toContain("repo directory was empty or failed checks");
  expect(t.hash()).toBe(head(t.repo));
  expect(readdirSync(t.root).sort()).toEqual([".git", ".worktrees", "link"]);
});

test.concurrent("remove a killed git's leftover .git/shallow.lock instead of wiping root", async () => {
  await using t = await scenario();
  await t.syncOk();
  writeFileSync(join(t.root, ".git", "shallow.lock"), "");
  const h2 = commit(t.repo, "file", "two\n");
  const r = await t.syncOk();
  // Not upstream (issue 13): git-sync holds root's lock, so no live git can own this one.
  expect(countMsg(r.stderr, "removed a lock file a killed git left behind")).toBe(1);
  expect(countMsg(r.stderr, "repo directory was empty or failed checks")).toBe(0);
  expect(existsSync(join(t.root, ".git", "shallow.lock"))).toBe(false);
  expect(t.hash()).toBe(h2);
  expect(t.read()).toBe("two\n");
});
