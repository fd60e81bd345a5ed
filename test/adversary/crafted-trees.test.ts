// Issue 20: a commit decides every name git-sync writes in a copy, and what a worktree holds.
// Trees git itself would refuse (made with hash-object --literally), names git-sync writes in
// --link, and `.git` look-alikes: in both link modes nothing is written outside the link, the
// refused commit is reported (log and error file), the last good tree stays served equal to
// `git archive` of it, and a good commit after the bad one publishes.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { archive, freePort, git, head, httpGet, linkHash, metric, runBinary, scenario, snapshot, waitFor, type Running, type Scenario } from "../helpers/index.ts";
import { blob, Canary, commitTree, expectServes, nextRefusal, rawTree, served, tree, type LinkMode } from "./trees.ts";

const MODES: LinkMode[] = ["symlink", "copy"];

/**
 * A long-running git-sync in `mode` (extra flags after), its first commit published. With the
 * default --max-failures=0: a refused tree is a refusal, not a failure, so it must not end the process.
 */
async function start(t: Scenario, mode: LinkMode, ...extra: string[]): Promise<{ gs: Running; good: string }> {
  const gs = t.start(`--link-mode=${mode}`, "--period=100ms", "--error-file=error.json", "-v=1", ...extra);
  const good = head(t.repo);
  await expectServes(t, gs, mode, good);
  return { gs, good };
}

/** The refusal was reported in the log and the error file, and the last good tree is still served. */
async function expectRefused(t: Scenario, gs: Running, mode: LinkMode, good: string, why: RegExp): Promise<void> {
  const error = await nextRefusal(gs);
  expect(error).toMatch(why);
  expect(error).toContain("(bad-tree)");
  const file = JSON.parse(readFileSync(join(t.root, "error.json"), "utf8")) as { Err: string };
  expect(file.Err).toMatch(why);
  expect(served(t, mode)).toBe(good);
  await expectServes(t, gs, mode, good);
}

/** After a refusal: a good commit (on the last good one) publishes. */
async function expectRecovers(t: Scenario, gs: Running, mode: LinkMode, good: string): Promise<void> {
  const next = commitTree(t.repo, tree(t.repo, { file: "after the refusal\n", d: { z: "z\n" } }), good, "good again");
  await expectServes(t, gs, mode, next);
  // Deleted once the attempt is over (after the publish): its event, not a time window.
  await waitFor("error file removed after the good sync", () => !existsSync(join(t.root, "error.json")));
}

// git's fsck on fetch refuses these (fetch.fsckObjects); copy mode's own check refuses them too
// when that is turned off (objects fetched before it was on).
const VARIANTS: Array<{ mode: LinkMode; flags: string[]; why: RegExp; label: string }> = [
  { mode: "symlink", flags: [], why: /fsck/, label: "symlink mode" },
  { mode: "copy", flags: [], why: /fsck/, label: "copy mode" },
  { mode: "copy", flags: ["--git-config=fetch.fsckObjects:false"], why: /refusing to copy/, label: "copy mode without fsck on fetch" },
];

for (const v of VARIANTS) {
  test.concurrent(`a tree with a symlink "a" and a directory "a/" cannot write through the symlink (${v.label})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const { gs, good } = await start(t, v.mode, ...v.flags);
    const r = t.repo;
    // "0" shares a/x's blob, so a copy writes a/x (making a/ a directory) before the symlink a,
    // then a/y: a remembered "a/ is a directory" would write a/y through the symlink.
    const x = blob(r, "x\n");
    const sub = rawTree(r, [
      ["100644", "x", x],
      ["100644", "y", blob(r, "overwritten through the symlink\n")],
    ]);
    const bad = rawTree(r, [
      ["100644", "0", x],
      ["120000", "a", blob(r, canary.dir)],
      ["40000", "a", sub],
    ]);
    commitTree(r, bad, good);
    await expectRefused(t, gs, v.mode, good, v.why);
    canary.expectUntouched();
    await expectRecovers(t, gs, v.mode, good);
    canary.expectUntouched();
  });

  test.concurrent(`a tree listing one name twice is refused (${v.label})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const { gs, good } = await start(t, v.mode, ...v.flags);
    const r = t.repo;
    const bad = rawTree(r, [
      ["120000", "f", blob(r, canary.file)],
      ["100644", "f", blob(r, "second\n")],
    ]);
    commitTree(r, bad, good);
    await expectRefused(t, gs, v.mode, good, v.why);
    canary.expectUntouched();
    await expectRecovers(t, gs, v.mode, good);
  });

  test.concurrent(`.git look-alikes (.GIT, .Git, .g\\u200cit, git~1, ".git. ") are refused (${v.label})`, async () => {
    await using t = await scenario();
    const { gs, good } = await start(t, v.mode, ...v.flags);
    const r = t.repo;
    const hooks = tree(r, { config: "[core]\n\tfsmonitor = touch /tmp/pwned\n", hooks: { "post-checkout": "#!/bin/sh\ntouch /tmp/pwned\n" } });
    for (const name of [".GIT", ".Git", ".g\u200cit", "git~1", ".git. "]) {
      const bad = rawTree(r, [
        ["40000", name, hooks],
        ["100644", "file", blob(r, "bad\n")],
      ]);
      commitTree(r, bad, good, `look-alike ${JSON.stringify(name)}`);
      await expectRefused(t, gs, v.mode, good, v.why);
    }
    await expectRecovers(t, gs, v.mode, good);
  });

  test.concurrent(`a path with ".." cannot leave the link (${v.label})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const { gs, good } = await start(t, v.mode, ...v.flags);
    const r = t.repo;
    const bad = rawTree(r, [
      ["40000", "..", tree(r, { "..": { outside: { y: "overwritten\n" } } })],
      ["100644", "file", blob(r, "bad\n")],
    ]);
    commitTree(r, bad, good);
    await expectRefused(t, gs, v.mode, good, v.why);
    canary.expectUntouched();
  });
}

for (const mode of MODES) {
  // Regression test: the original code already followed these type changes without leaving the link.
  test.concurrent(`a path that turns from file to symlink (pointing outside) to directory never writes outside (${mode})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const { gs, good } = await start(t, mode);
    const r = t.repo;
    const asFile = commitTree(r, tree(r, { a: "a file\n", file: "1\n" }), good);
    await expectServes(t, gs, mode, asFile);
    const asLink = commitTree(r, tree(r, { a: { link: canary.dir }, file: "2\n" }), asFile);
    await expectServes(t, gs, mode, asLink);
    const asDir = commitTree(r, tree(r, { a: { y: "in the link\n", z: "z\n" }, file: "3\n" }), asLink);
    await expectServes(t, gs, mode, asDir);
    const backToLink = commitTree(r, tree(r, { a: { link: canary.file }, file: "4\n" }), asDir);
    await expectServes(t, gs, mode, backToLink);
    canary.expectUntouched();
  });
}

// Names copy mode writes in --link. In symlink mode they are ordinary names (published as they
// are); in copy mode the commit is refused. Either way nothing outside changes.
const RESERVED: Array<{ what: string; spec: (canary: Canary, pid: number) => Parameters<typeof tree>[1] }> = [
  { what: "a symlink named .git-sync-tmp.<pid> pointing outside", spec: (c, pid) => ({ [`.git-sync-tmp.${pid}`]: { link: c.file }, file: "tmp\n" }) },
  { what: "a symlink named .git-sync-tmp.<pid> in a subdirectory", spec: (c, pid) => ({ d: { [`.git-sync-tmp.${pid}`]: { link: c.file }, e: "e\n" }, file: "tmp\n" }) },
  { what: "a directory named .git-sync-hash", spec: () => ({ ".git-sync-hash": { x: "not a hash\n" }, file: "dir\n" }) },
  { what: "a file named .git-sync-hash", spec: () => ({ ".git-sync-hash": "0000000000000000000000000000000000000000\n", file: "hash\n" }) },
  { what: "a symlink named .git-sync-hash pointing outside", spec: (c) => ({ ".git-sync-hash": { link: c.file }, file: "hash\n" }) },
];

for (const mode of MODES) {
  for (const c of RESERVED) {
    test.concurrent(`${c.what}: ${mode === "copy" ? "refused by copy mode" : "published as an ordinary name"}, nothing outside changes (${mode})`, async () => {
      await using t = await scenario();
      const canary = new Canary(t.dir);
      const { gs, good } = await start(t, mode);
      const bad = commitTree(t.repo, tree(t.repo, c.spec(canary, gs.proc.pid)), good);
      if (mode === "copy") {
        await expectRefused(t, gs, mode, good, /refusing to copy .*git-sync/);
        canary.expectUntouched();
        await expectRecovers(t, gs, mode, good);
      } else {
        await expectServes(t, gs, mode, bad);
      }
      canary.expectUntouched();
    });
  }
}

// A refused tree is reported where an operator looks, as the verdict it is, and remembered: polls
// that find the ref where it was fetch nothing (no "update required"/fetch log line).
test.concurrent("a refused tree is the verdict bad-tree in /status, git-sync status and the metric, and is not fetched again", async () => {
  await using t = await scenario();
  const port = freePort();
  const { gs, good } = await start(t, "symlink", `--http-bind=127.0.0.1:${port}`, "--http-metrics", "-v=2");
  const r = t.repo;
  const bad = commitTree(r, rawTree(r, [["100644", "f", blob(r, "one\n")], ["100644", "f", blob(r, "two\n")]]), good);
  await expectRefused(t, gs, "symlink", good, /fsck/);
  const status = JSON.parse((await httpGet(port, "/status")).body) as { verify: { result: string; hash: string } };
  expect(status.verify).toMatchObject({ result: "bad-tree", hash: bad });
  expect(await metric(port, 'git_sync_verify_count_total{result="bad-tree"}')).toBe(1);
  const cli = await runBinary(["status", `--http-bind=127.0.0.1:${port}`]);
  expect(cli.code).toBe(1);
  expect(cli.stdout).toMatch(/tree check: +bad-tree: /);
  // Remembered: the next polls re-report it without a fetch.
  const fetches = () => gs.logs().filter((l) => l.msg === "fetching").length;
  const before = fetches();
  await waitFor("two refusals re-reported from memory", () => gs.logs().filter((l) => l.verdict === "bad-tree" && String(l.msg).includes("before")).length >= 2);
  expect(fetches()).toBe(before);
  expect(served(t, "symlink")).toBe(good);
});

// --also-link: one fetch brings every ref that moved. A crafted tree on one ref is refused for
// that link alone (git's fsck refuses the whole pack, so the refs are then fetched one by one),
// the other ref publishes, and with the default --max-failures=0 the process keeps running.
test.concurrent("--also-link: a crafted tree on one ref is refused as bad-tree for that link alone; the other ref publishes", async () => {
  await using t = await scenario();
  const r = t.repo;
  const good = head(r);
  git(r, "branch", "release", good);
  const port = freePort();
  const gs = t.start("--period=100ms", "--also-link=rel=release", "--error-file=error.json", `--http-bind=127.0.0.1:${port}`, "--http-metrics");
  const rel = join(t.root, "rel");
  await waitFor("both links published", () => t.hash() === good && linkHash(rel) === good);
  // release gets the crafted tree, main a good commit: both move in one poll.
  const bad = git(r, "commit-tree", rawTree(r, [["100644", "f", blob(r, "one\n")], ["100644", "f", blob(r, "two\n")]]), "-p", good, "-m", "crafted");
  git(r, "update-ref", "refs/heads/release", bad);
  const next = commitTree(r, tree(r, { file: "main moves on\n" }), good, "good");
  await waitFor("main published", () => t.hash() === next || gs.done);
  await waitFor("the refusal counted", async () => ((await metric(port, 'git_sync_verify_count_total{result="bad-tree"}')) ?? 0) >= 1 || gs.done);
  expect(gs.done).toBe(false);
  expect(linkHash(rel)).toBe(good);
  const status = JSON.parse((await httpGet(port, "/status")).body) as { links: Array<{ lastError: string }> };
  expect(status.links[0]?.lastError).toContain("(bad-tree)");
  expect(snapshot(rel)).toEqual(archive(r, good, join(t.dir, "archive")));
});
