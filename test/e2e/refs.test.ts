// Which commit gets synced for each kind of --ref (behaviour.md 2.2 --ref, 4.2 steps 4-5, 4.8, 12).
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, isSymlink, scenario } from "../helpers/index.ts";

test.concurrent("sync the remote default branch (not named master) when ref is HEAD", async () => {
  await using t = await scenario({ branch: "trunk" });
  const h = commit(t.repo, "file", "trunk\n");
  git(t.repo, "branch", "other", "HEAD~1");
  await t.syncOk();
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("trunk\n");
});

test.concurrent("sync a branch", async () => {
  await using t = await scenario();
  git(t.repo, "checkout", "-q", "-b", "feature");
  const h = commit(t.repo, "file", "feature\n");
  git(t.repo, "checkout", "-q", "main");
  commit(t.repo, "file", "main\n");
  await t.syncOk("--ref=feature");
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("feature\n");
});

test.concurrent("sync a lightweight tag", async () => {
  await using t = await scenario();
  const h = commit(t.repo, "file", "tagged\n");
  git(t.repo, "tag", "v1");
  commit(t.repo, "file", "after\n");
  await t.syncOk("--ref=v1");
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("tagged\n");
});

test.concurrent("sync an annotated tag, peeled to its commit", async () => {
  await using t = await scenario();
  const h = commit(t.repo, "file", "tagged\n");
  git(t.repo, "tag", "-a", "v1", "-m", "release 1");
  expect(head(t.repo, "v1")).not.toBe(h); // the tag object itself
  commit(t.repo, "file", "after\n");
  await t.syncOk("--ref=v1");
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("tagged\n");
});

test.concurrent("sync any ref name (refs/pull/1/head)", async () => {
  await using t = await scenario();
  git(t.repo, "checkout", "-q", "-b", "pr");
  const h = commit(t.repo, "file", "pull request\n");
  git(t.repo, "update-ref", "refs/pull/1/head", h);
  git(t.repo, "checkout", "-q", "main");
  git(t.repo, "branch", "-D", "pr");
  await t.syncOk("--ref=refs/pull/1/head");
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("pull request\n");
});

test.concurrent("sync a full commit hash", async () => {
  await using t = await scenario();
  const h = commit(t.repo, "file", "pinned\n");
  commit(t.repo, "file", "after\n");
  await t.syncOk(`--ref=${h}`);
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("pinned\n");
});

test.concurrent("fail an abbreviated commit hash", async () => {
  await using t = await scenario();
  const h = commit(t.repo, "file", "pinned\n");
  commit(t.repo, "file", "after\n");
  const r = await t.sync(`--ref=${h.slice(0, 10)}`);
  expect(r.code).toBe(1);
  expect(isSymlink(t.link)).toBe(false);
});

test.concurrent("stop polling after syncing a full commit hash", async () => {
  await using t = await scenario();
  const h = head(t.repo);
  const gs = t.start(`--ref=${h}`, "--period=100ms", "-v=2");
  await gs.waitLog("ref appears to be a git hash, no further sync needed");
  expect(t.hash()).toBe(h);
  const fetches = gs.count("fetching");
  commit(t.repo, "file", "later\n");
  await Bun.sleep(600); // six periods
  expect(gs.count("fetching")).toBe(fetches);
  expect(gs.done).toBe(false);
  expect(t.hash()).toBe(h);
  expect(t.read()).toBe("initial\n");
});

test.concurrent("fail a bad ref: non-zero exit, no link, error file names the missing ref", async () => {
  await using t = await scenario();
  const r = await t.sync("--ref=does-not-exist", "--error-file=error.json");
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(isSymlink(t.link)).toBe(false);
  const errorFile = join(t.root, "error.json");
  expect(readFileSync(errorFile, "utf8")).toContain("couldn't find remote ref");
  expect(r.stderr).toContain("couldn't find remote ref");
});

test.concurrent("remove the error file after a later successful run", async () => {
  await using t = await scenario();
  const errorFile = join(t.root, "error.json");
  expect((await t.sync("--ref=does-not-exist", "--error-file=error.json")).code).not.toBe(0);
  expect(existsSync(errorFile)).toBe(true);
  await t.syncOk("--ref=main", "--error-file=error.json");
  expect(t.hash()).toBe(head(t.repo));
  expect(existsSync(errorFile)).toBe(false);
});
