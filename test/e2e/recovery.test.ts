// Repairing a damaged or outdated root (behaviour.md 1.4, 1.5, 1.7, 4.2 step 6-8).
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, isSymlink, linkTarget, scenario, waitFor, type Scenario } from "../helpers/index.ts";

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

// Issue 13: restarts after a crash. The sweep over every git command is crash.test.ts.

/** Reads the file through the link every millisecond while `run` goes on; resolves with what went wrong. */
async function watchServed(t: Scenario, expected: string[], run: () => Promise<unknown>): Promise<string[]> {
  const bad: string[] = [];
  let stop = false;
  const watching = (async () => {
    while (!stop) {
      const before = linkTarget(t.link);
      const got = t.read();
      // A read that raced a publish (the link moved meanwhile) is not an outage.
      if (!expected.includes(got ?? "") && linkTarget(t.link) === before) bad.push(`${before}: ${got}`);
      await Bun.sleep(1);
    }
  })();
  await run();
  stop = true;
  await watching;
  return bad;
}

test.concurrent("a second git-sync on the same root stops with a clear error, the first keeps syncing", async () => {
  await using t = await scenario();
  const first = t.start("--period=100ms");
  await t.waitHash(head(t.repo), 15_000, first);
  const r = await t.sync();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("another git-sync is using it (each git-sync needs its own --root)");
  const h2 = commit(t.repo, "file", "two\n");
  await t.waitHash(h2, 15_000, first);
  expect(t.read()).toBe("two\n");
});

test.concurrent("lock files a killed git left in root and in a worktree's admin dir are removed on restart", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  await t.syncOk();
  const admin = join(t.root, ".git", "worktrees", h1);
  const leftovers = [join(t.root, ".git", "shallow.lock"), join(admin, "index.lock"), join(admin, "locked"), join(t.root, ".git", "objects", "pack", "tmp_pack_Xy12"), join(t.root, ".git", "refs", "heads", "git-sync.lock")];
  for (const f of leftovers) writeFileSync(f, "x");
  const h2 = commit(t.repo, "file", "two\n");
  const bad = await watchServed(t, ["initial\n", "two\n"], () => t.syncOk());
  expect(bad).toEqual([]);
  expect(leftovers.filter((f) => existsSync(f))).toEqual([]);
  expect(t.hash()).toBe(h2);
  expect(readdirSync(join(t.root, ".worktrees"))).toEqual([h2]);
});

for (const moved of [false, true]) {
  test.concurrent(`a broken .git is rebuilt while the link keeps serving (${moved ? "new commit" : "same commit"})`, async () => {
    await using t = await scenario();
    const h1 = head(t.repo);
    await t.syncOk();
    // git no longer sees a repo here: behaviour.md 1.3 wipes root, link and worktree included.
    writeFileSync(join(t.root, ".git", "HEAD"), "garbage\n");
    const h2 = moved ? commit(t.repo, "file", "two\n") : h1;
    const bad = await watchServed(t, ["initial\n", "two\n"], () => t.syncOk());
    expect(bad).toEqual([]);
    expect(linkTarget(t.link)).toBe(`.worktrees/${h2}`);
    expect(git(t.link, "rev-parse", "HEAD")).toBe(h2);
    expect(git(t.link, "status", "--porcelain")).toBe("");
    expect(readdirSync(join(t.root, ".worktrees"))).toEqual([h2]);
    expect(readdirSync(t.root).sort()).toEqual([".git", ".worktrees", "link"]);
  });
}

test.concurrent("a served worktree whose HEAD moved is rebuilt beside it, never unserved", async () => {
  await using t = await scenario();
  const h = head(t.repo);
  await t.syncOk();
  git(t.link, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "local");
  const bad = await watchServed(t, ["initial\n"], () => t.syncOk());
  expect(bad).toEqual([]);
  expect(git(t.link, "rev-parse", "HEAD")).toBe(h);
  expect(linkTarget(t.link)).toBe(`.worktrees/${h}`);
  expect(existsSync(join(t.root, ".git-sync-repair"))).toBe(false);
});
