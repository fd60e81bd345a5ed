// Repairing a damaged or outdated root (compat.md 1.4, 1.5, 1.7, 4.2 step 6-8).
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, isSymlink, linkTarget, scenario, waitFor } from "../helpers/index.ts";

test.concurrent("relink after the link is deleted by hand", async () => {
  await using t = await scenario();
  t.start("--period=100ms");
  const h = head(t.repo);
  await t.waitHash(h);
  rmSync(t.link);
  await t.waitHash(h);
  expect(t.read()).toBe("initial\n");
});

test.concurrent("recreate a root deleted while running", async () => {
  await using t = await scenario();
  t.start("--period=100ms");
  const h = head(t.repo);
  await t.waitHash(h);
  rmSync(t.root, { recursive: true });
  await t.waitHash(h);
  await waitFor("content back", () => t.read() === "initial\n");
});

test.concurrent("recreate a worktree deleted by hand", async () => {
  await using t = await scenario();
  t.start("--period=100ms");
  const h = head(t.repo);
  await t.waitHash(h);
  rmSync(t.worktree(h), { recursive: true });
  await waitFor("worktree recreated", () => t.read() === "initial\n");
  expect(t.hash()).toBe(h);
});

test.concurrent("recreate the whole .worktrees dir deleted by hand", async () => {
  await using t = await scenario();
  await t.syncOk();
  rmSync(join(t.root, ".worktrees"), { recursive: true });
  await t.syncOk();
  expect(t.hash()).toBe(head(t.repo));
  expect(t.read()).toBe("initial\n");
});

test.concurrent("rebuild a worktree whose HEAD was moved by hand", async () => {
  await using t = await scenario();
  t.start("--period=100ms");
  const h = head(t.repo);
  await t.waitHash(h);
  writeFileSync(join(t.link, "file"), "local edit\n");
  git(t.link, "commit", "-q", "-am", "local commit");
  expect(git(t.link, "rev-parse", "HEAD")).not.toBe(h);
  await waitFor("worktree HEAD back at the synced commit", () => git(t.link, "rev-parse", "HEAD") === h);
  await waitFor("worktree content restored", () => t.read() === "initial\n");
  expect(t.hash()).toBe(h);
});

test.concurrent("remove junk files and dirs from .worktrees", async () => {
  await using t = await scenario();
  await t.syncOk();
  const wts = join(t.root, ".worktrees");
  writeFileSync(join(wts, "junk-file"), "x");
  mkdirSync(join(wts, "junk-dir", "deeper"), { recursive: true });
  writeFileSync(join(wts, "junk-dir", "deeper", "f"), "x");
  const h2 = commit(t.repo, "file", "two\n");
  await t.syncOk();
  expect(t.hash()).toBe(h2);
  expect(readdirSync(wts)).toEqual([h2]);
});

test.concurrent("remove junk from .worktrees on a sync with no new commit", async () => {
  await using t = await scenario();
  await t.syncOk();
  const wts = join(t.root, ".worktrees");
  mkdirSync(join(wts, "junk-dir"));
  writeFileSync(join(wts, "junk-file"), "x");
  await t.syncOk();
  expect(readdirSync(wts)).toEqual([head(t.repo)]);
});

test.concurrent("finish a sync that crashed between worktree and link", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  await t.syncOk();
  const h2 = commit(t.repo, "file", "two\n");
  // What a crash leaves: a (partial) worktree dir for the new hash, the link still at the old one.
  mkdirSync(t.worktree(h2));
  writeFileSync(join(t.worktree(h2), "partial"), "x");
  expect(t.hash()).toBe(h1);
  await t.syncOk();
  expect(t.hash()).toBe(h2);
  expect(t.read()).toBe("two\n");
  expect(existsSync(join(t.link, "partial"))).toBe(false);
  expect(git(t.link, "rev-parse", "HEAD")).toBe(h2);
});

for (const prefix of ["", "rev-"]) {
  test.concurrent(`upgrade a v3 layout in place (root/${prefix}<sha>)`, async () => {
    await using t = await scenario();
    const h1 = head(t.repo);
    await t.syncOk();
    // v3 kept the worktree at root/<sha> (v3.1-3.2: root/rev-<sha>) and linked to it.
    const old = join(t.root, `${prefix}${h1}`);
    renameSync(t.worktree(h1), old);
    rmSync(t.link);
    symlinkSync(`${prefix}${h1}`, t.link);
    const h2 = commit(t.repo, "file", "two\n");
    await t.syncOk();
    expect(t.hash()).toBe(h2);
    expect(linkTarget(t.link)).toBe(`.worktrees/${h2}`);
    expect(t.read()).toBe("two\n");
    expect(existsSync(old)).toBe(false);
  });
}

test.concurrent("upgrade a v3 layout in place when the remote hash did not change", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  await t.syncOk();
  const old = join(t.root, h1);
  renameSync(t.worktree(h1), old);
  rmSync(t.link);
  symlinkSync(h1, t.link);
  await t.syncOk();
  expect(linkTarget(t.link)).toBe(`.worktrees/${h1}`);
  expect(t.read()).toBe("initial\n");
  expect(existsSync(old)).toBe(false);
});

test.concurrent("sync despite a stale tmp-link in the link dir", async () => {
  await using t = await scenario();
  await t.syncOk();
  symlinkSync("does-not-exist", join(t.root, "tmp-link"));
  const h2 = commit(t.repo, "file", "two\n");
  await t.syncOk();
  expect(t.hash()).toBe(h2);
  expect(t.read()).toBe("two\n");
  expect(isSymlink(join(t.root, "tmp-link"))).toBe(false);
});
