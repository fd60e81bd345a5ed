// Following the remote over time and across restarts (behaviour.md 1.3 step 5, 4.2, 12).
import { expect, test } from "bun:test";
import { commit, expectExit0, git, gitOk, head, scenario } from "../helpers/index.ts";

test.concurrent("pick up a new commit", async () => {
  await using t = await scenario();
  t.start("--period=100ms");
  await t.waitHash(head(t.repo));
  const h2 = commit(t.repo, "file", "two\n");
  await t.waitHash(h2);
  expect(t.read()).toBe("two\n");
  const h3 = commit(t.repo, "other", "three\n");
  await t.waitHash(h3);
  expect(t.read("other")).toBe("three\n");
});

test.concurrent("switch branches across restarts", async () => {
  await using t = await scenario();
  git(t.repo, "checkout", "-q", "-b", "other");
  const other = commit(t.repo, "file", "other\n");
  git(t.repo, "checkout", "-q", "main");
  const main = commit(t.repo, "file", "main\n");
  await t.syncOk("--ref=main");
  expect(t.hash()).toBe(main);
  await t.syncOk("--ref=other");
  expect(t.hash()).toBe(other);
  expect(t.read()).toBe("other\n");
  await t.syncOk("--ref=main");
  expect(t.hash()).toBe(main);
  expect(t.read()).toBe("main\n");
});

test.concurrent("switch repos over existing storage", async () => {
  await using t = await scenario();
  const repo2 = t.makeRepo("repo2");
  const h2 = commit(repo2, "file", "repo2\n");
  await t.syncOk();
  expect(t.hash()).toBe(head(t.repo));
  expect(git(t.root, "remote", "get-url", "origin")).toBe(t.repo);
  expectExit0(await t.run(["--one-time", `--repo=${repo2}`, `--root=${t.root}`, "--link=link"]));
  expect(t.hash()).toBe(h2);
  expect(t.read()).toBe("repo2\n");
  expect(git(t.root, "remote", "get-url", "origin")).toBe(repo2);
});

test.concurrent("move a tag forward and backward", async () => {
  await using t = await scenario();
  const h1 = commit(t.repo, "file", "one\n");
  git(t.repo, "tag", "v1");
  t.start("--ref=v1", "--period=100ms");
  await t.waitHash(h1);
  const h2 = commit(t.repo, "file", "two\n");
  git(t.repo, "tag", "-f", "v1", h2);
  await t.waitHash(h2);
  expect(t.read()).toBe("two\n");
  git(t.repo, "tag", "-f", "v1", h1);
  await t.waitHash(h1);
  expect(t.read()).toBe("one\n");
});

test.concurrent("move an annotated tag forward and backward", async () => {
  await using t = await scenario();
  const h1 = commit(t.repo, "file", "one\n");
  git(t.repo, "tag", "-a", "v1", "-m", "one");
  t.start("--ref=v1", "--period=100ms");
  await t.waitHash(h1);
  const h2 = commit(t.repo, "file", "two\n");
  git(t.repo, "tag", "-f", "-a", "v1", "-m", "two", h2);
  await t.waitHash(h2);
  git(t.repo, "tag", "-f", "-a", "v1", "-m", "back", h1);
  await t.waitHash(h1);
  expect(t.read()).toBe("one\n");
});

test.concurrent("ignore commits made after the tagged commit", async () => {
  await using t = await scenario();
  const h1 = commit(t.repo, "file", "one\n");
  git(t.repo, "tag", "v1");
  const gs = t.start("--ref=v1", "--period=100ms", "-v=2");
  await t.waitHash(h1);
  commit(t.repo, "file", "two\n");
  const seen = gs.count("update not required");
  await gs.waitLog("update not required", seen + 3);
  expect(t.hash()).toBe(h1);
  expect(t.read()).toBe("one\n");
});

test.concurrent("move a branch backward", async () => {
  await using t = await scenario();
  const h1 = commit(t.repo, "file", "one\n");
  const h2 = commit(t.repo, "file", "two\n");
  t.start("--period=100ms");
  await t.waitHash(h2);
  git(t.repo, "reset", "-q", "--hard", h1);
  await t.waitHash(h1);
  expect(t.read()).toBe("one\n");
});

// behaviour.md 4.2 step 8: root's branch points at the synced commit, keeping it reachable (git-sync
// writes the ref under git's lock file instead of running `git reset --soft`).
test.concurrent("root's branch follows the synced commit, and root stays a valid repo", async () => {
  await using t = await scenario();
  await t.syncOk();
  expect(git(t.root, "rev-parse", "HEAD")).toBe(head(t.repo));
  expect(git(t.root, "symbolic-ref", "HEAD")).toBe("refs/heads/git-sync");
  const h2 = commit(t.repo, "file", "two\n");
  const r = t.start("--period=100ms");
  await t.waitHash(h2, 15_000, r);
  expect(git(t.root, "rev-parse", "git-sync")).toBe(h2);
  // Not while the old worktree's cleanup (rm, prune, gc) may still be running beside fsck.
  await r.stop();
  // A replaced commit may be left dangling until gc; nothing may be missing.
  expect(gitOk(t.root, "fsck", "--no-progress", "--connectivity-only")).toBe(true);
});

// The ref is written directly only in the usual shape (HEAD naming a branch); anything else is
// left to `git reset --soft`, as upstream runs it.
test.concurrent("a root with a detached HEAD still follows the synced commit", async () => {
  await using t = await scenario();
  await t.syncOk();
  git(t.root, "update-ref", "--no-deref", "HEAD", head(t.repo));
  const h2 = commit(t.repo, "file", "two\n");
  await t.syncOk();
  expect(t.hash()).toBe(h2);
  expect(git(t.root, "rev-parse", "HEAD")).toBe(h2);
});
