// Stale worktrees and git garbage (behaviour.md 1.6): removal by mtime with
// --stale-worktree-timeout (within a process and across restarts) and the --git-gc modes.
import { expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { commit, git, gitOk, head, scenario, waitFor } from "../helpers/index.ts";

/** Set a path's mtime `seconds` into the past. */
function backdate(path: string, seconds: number): void {
  const past = new Date(Date.now() - seconds * 1000);
  utimesSync(path, past, past);
}

test.concurrent("remove the replaced worktree right after an update by default", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  await t.syncOk();
  const h2 = commit(t.repo, "file", "two\n");
  await t.syncOk();
  expect(t.hash()).toBe(h2);
  expect(existsSync(t.worktree(h1))).toBe(false);
  expect(readdirSync(join(t.root, ".worktrees"))).toEqual([h2]);
  // git forgot about it too (pruned).
  expect(git(t.root, "worktree", "list")).not.toContain(h1);
});

test.concurrent("keep a replaced worktree for --stale-worktree-timeout within one process", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  t.start("--stale-worktree-timeout=5s", "--period=100ms");
  await t.waitHash(h1);
  // An old worktree: only the mtime set when it is replaced can keep it alive now.
  backdate(t.worktree(h1), 60);
  const h2 = commit(t.repo, "file", "two\n");
  await t.waitHash(h2);
  // When it was replaced: the new link's own mtime, not when this test happened to look.
  const replaced = lstatSync(t.link).mtimeMs;
  await waitFor("stale worktree removed", () => !existsSync(t.worktree(h1)), 30_000);
  // Seen gone only after it was gone, which must be the timeout (5s) after the replacement.
  expect(Date.now() - replaced).toBeGreaterThan(4500);
  expect(t.read()).toBe("two\n");
});

test.concurrent("keep a replaced worktree for --stale-worktree-timeout across --one-time runs", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  await t.syncOk("--stale-worktree-timeout=5s");
  backdate(t.worktree(h1), 60);
  const h2 = commit(t.repo, "file", "two\n");
  await t.syncOk("--stale-worktree-timeout=5s");
  expect(t.hash()).toBe(h2);
  // A restart right away keeps it: its timer started when it was replaced.
  await t.syncOk("--stale-worktree-timeout=5s");
  expect(existsSync(t.worktree(h1))).toBe(true);
  // The timer is the worktree's mtime, so it survives restarts: age it past the timeout.
  backdate(t.worktree(h1), 6);
  await t.syncOk("--stale-worktree-timeout=5s");
  expect(existsSync(t.worktree(h1))).toBe(false);
  expect(t.read()).toBe("two\n");
});

for (const mode of ["off", "auto", "always", "aggressive"]) {
  test.concurrent(`accept --git-gc=${mode}`, async () => {
    await using t = await scenario();
    await t.syncOk(`--git-gc=${mode}`);
    const h2 = commit(t.repo, "file", "two\n");
    const r = await t.syncOk(`--git-gc=${mode}`);
    expect(t.hash()).toBe(h2);
    expect(r.stderr).not.toContain("git cleanup failed");
  });
}

/** Sync a commit holding a unique blob, then one without it; return whether the blob survived. */
async function oldBlobSurvives(gc: string[]): Promise<boolean> {
  await using t = await scenario();
  commit(t.repo, "old", `unique ${Math.random()}\n`);
  const blob = git(t.repo, "rev-parse", "HEAD:old");
  await t.syncOk(...gc);
  expect(gitOk(t.root, "cat-file", "-e", blob)).toBe(true);
  git(t.repo, "rm", "-q", "old");
  git(t.repo, "commit", "-q", "-m", "drop old");
  await t.syncOk(...gc);
  expect(t.hash()).toBe(head(t.repo));
  return gitOk(t.root, "cat-file", "-e", blob);
}

test.concurrent("prune unreachable objects with the default --git-gc (always)", async () => {
  expect(await oldBlobSurvives([])).toBe(false);
});

test.concurrent("prune unreachable objects with --git-gc=always", async () => {
  expect(await oldBlobSurvives(["--git-gc=always"])).toBe(false);
});

test.concurrent("keep unreachable objects with --git-gc=off", async () => {
  expect(await oldBlobSurvives(["--git-gc=off"])).toBe(true);
});
