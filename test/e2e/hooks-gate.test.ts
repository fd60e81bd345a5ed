// The pre-publish hook of the compiled binary (behaviour.md 4.2 step 8, 5.3, 11) and the opt-in gate
// (--pre-publish-exechook-gate, issue 3), plus the post-publish hooks at startup on a synced root.
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, head, linkHash, linkTarget, readOr, scenario, waitFor, type Scenario } from "../helpers/index.ts";
import { Receiver, script } from "../hooks/_fixtures.ts";

// The helpers set a default timeout only for the first test file that loads them; scenarios here
// queue for a slot and wait out backoffs, so give each test room (they set tighter waits themselves).
setDefaultTimeout(30_000);

/** The non-empty lines a hook appended to `path` so far. */
function lines(path: string): string[] {
  return (readOr(path) ?? "").split("\n").filter((l) => l !== "");
}

/** A receiver on 127.0.0.1 that stops with the `using` scope. */
function receiver() {
  const r = new Receiver().start();
  return Object.assign(r, { [Symbol.dispose]: () => r.stop() });
}

/** Every hash the default link pointed at, sampled every few ms until disposed. */
function linkWatcher(t: Scenario) {
  const seen = new Set<string>();
  const sample = () => {
    const h = linkHash(t.link);
    if (h !== "") seen.add(h);
  };
  const timer = setInterval(sample, 5);
  return { seen, sample, [Symbol.dispose]: () => clearInterval(timer) };
}

/**
 * A pre-publish hook that logs "<GITSYNC_HASH> <PWD> <hash the link points at now>" and then runs
 * `verdict` (its exit status is the hook's).
 */
function prePublishHook(t: Scenario, verdict = "exit 0"): { path: string; log: string } {
  const log = join(t.dir, "pre.log");
  const path = script(
    t.dir,
    "pre.sh",
    [`now=$(readlink '${t.link}' 2>/dev/null)`, `echo "$GITSYNC_HASH $PWD \${now##*/}" >> '${log}'`, verdict].join("\n"),
  );
  return { path, log };
}

test.concurrent("pre-publish hook (no gate) gets the NEW hash in the new worktree, and a failing one does not block publishing", async () => {
  await using t = await scenario();
  const pre = prePublishHook(t, "exit 1");
  const gs = t.start("--period=100ms", `--pre-publish-exechook-command=${pre.path}`, "--pre-publish-exechook-backoff=1s");
  const h0 = head(t.repo);
  await t.waitHash(h0);
  await waitFor("the hook run for the first hash", () => lines(pre.log).length >= 1);
  const h1 = commit(t.repo, "file", "two\n");
  // Published although the hook keeps failing.
  await t.waitHash(h1);
  expect(t.read()).toBe("two\n");
  await waitFor("a hook run for the second hash", () => lines(pre.log).some((l) => l.startsWith(h1)));
  for (const line of lines(pre.log)) {
    const [hash, cwd] = line.split(" ");
    expect([h0, h1]).toContain(hash!);
    expect(cwd).toBe(t.worktree(hash!));
  }
  const failures = () => gs.logs().filter((l) => l.logger === "pre-publish-exechook" && l.msg === "hook failed");
  await waitFor("the failure for the second hash logged", () => failures().some((l) => l.hash === h1));
  const failed = failures();
  expect(failed[0]!.retry).toBe("1s");
});

test.concurrent("one-time: a failing pre-publish hook (no gate) runs once, exits 1, and the link is published", async () => {
  await using t = await scenario();
  const pre = prePublishHook(t, "exit 1");
  const r = await t.sync(`--pre-publish-exechook-command=${pre.path}`);
  expect(r.code).toBe(1);
  const h0 = head(t.repo);
  expect(lines(pre.log).map((l) => l.split(" ")[0])).toEqual([h0]);
  expect(t.hash()).toBe(h0);
});

test.concurrent("startup with the hash already present fires the exechook and webhook again, but not the pre-publish hook", async () => {
  await using t = await scenario();
  using rcv = receiver();
  const pre = prePublishHook(t);
  const execLog = join(t.dir, "exec.log");
  const exec = script(t.dir, "exec.sh", `echo "$GITSYNC_HASH $PWD" >> '${execLog}'`);
  const hooks = [`--exechook-command=${exec}`, `--pre-publish-exechook-command=${pre.path}`, `--webhook-url=${rcv.url}`];
  const h0 = head(t.repo);
  const first = await t.sync(...hooks);
  expect(first.code).toBe(0);
  const target = linkTarget(t.link);
  expect(lines(pre.log).length).toBe(1);
  expect(lines(execLog).length).toBe(1);
  expect(rcv.hits.length).toBe(1);

  // A second process on the synced root: nothing changed, but startup counts as a sync.
  const second = await t.sync(...hooks);
  expect(second.code).toBe(0);
  expect(lines(execLog)).toEqual([`${h0} ${t.worktree(h0)}`, `${h0} ${t.worktree(h0)}`]);
  expect(rcv.hits.map((h) => h.hash)).toEqual([h0, h0]);
  expect(lines(pre.log).length).toBe(1);
  expect(linkTarget(t.link)).toBe(target);
});

test.concurrent("gate: a failing gate hook keeps the link on the old hash until it passes, then the link moves", async () => {
  await using t = await scenario();
  const flag = join(t.dir, "allow");
  writeFileSync(flag, "");
  const pre = prePublishHook(t, `[ -f '${flag}' ]`);
  const execLog = join(t.dir, "exec.log");
  const exec = script(t.dir, "exec.sh", `echo "$GITSYNC_HASH" >> '${execLog}'`);
  const gs = t.start(
    "--period=100ms",
    "--pre-publish-exechook-gate",
    `--pre-publish-exechook-command=${pre.path}`,
    "--pre-publish-exechook-backoff=1s",
    `--exechook-command=${exec}`,
  );
  const h0 = head(t.repo);
  await t.waitHash(h0);
  await waitFor("the exechook for the first hash", () => lines(execLog).includes(h0));
  using watch = linkWatcher(t);

  rmSync(flag);
  const h1 = commit(t.repo, "file", "rejected for now\n");
  const runsFor = (h: string) => lines(pre.log).filter((l) => l.startsWith(`${h} `));
  await waitFor("two rejected runs of the gate hook", () => runsFor(h1).length >= 2, 10_000);
  await waitFor("the rejection logged", () => gs.count("pre-publish hook failed, not publishing; will retry") >= 2);
  // Retried at the hook's backoff (1s), not at the 100ms period.
  const rejected = gs.logs().filter((l) => l.msg === "pre-publish hook failed, not publishing; will retry");
  const gap = Date.parse(String(rejected[1]!.ts).replace(" ", "T")) - Date.parse(String(rejected[0]!.ts).replace(" ", "T"));
  expect(gap).toBeGreaterThanOrEqual(900);
  watch.sample();
  expect(t.hash()).toBe(h0);
  expect([...watch.seen]).toEqual([h0]);
  // The post-publish hooks never saw the rejected hash.
  expect(lines(execLog)).toEqual([h0]);

  writeFileSync(flag, "");
  await t.waitHash(h1);
  expect(t.read()).toBe("rejected for now\n");
  await waitFor("the exechook for the published hash", () => lines(execLog).includes(h1));
  // Every run of the gate hook for h1 happened before the swap: the link still showed h0.
  for (const line of runsFor(h1)) {
    const [, cwd, linkNow] = line.split(" ");
    expect(cwd).toBe(t.worktree(h1));
    expect(linkNow).toBe(h0);
  }
  watch.sample();
  expect([...watch.seen]).toEqual([h0, h1]);
});

test.concurrent("gate: a newer commit supersedes a rejected one", async () => {
  await using t = await scenario();
  // Content validation: refuse any commit whose `file` says "bad".
  const pre = prePublishHook(t, "! grep -q bad file");
  t.start("--period=100ms", "--pre-publish-exechook-gate", `--pre-publish-exechook-command=${pre.path}`, "--pre-publish-exechook-backoff=1s");
  const h0 = head(t.repo);
  await t.waitHash(h0);
  using watch = linkWatcher(t);

  const bad = commit(t.repo, "file", "bad\n");
  await waitFor("the gate hook to reject the bad commit", () => lines(pre.log).some((l) => l.startsWith(`${bad} `)), 10_000);
  const good = commit(t.repo, "file", "good\n");
  await t.waitHash(good);
  expect(t.read()).toBe("good\n");
  const runsAfter = lines(pre.log).length;
  // The rejected hash is not tried again once superseded.
  await Bun.sleep(300);
  expect(lines(pre.log).length).toBe(runsAfter);
  expect(lines(pre.log).filter((l) => l.startsWith(`${good} `)).length).toBe(1);
  watch.sample();
  expect([...watch.seen]).toEqual([h0, good]);
  expect(existsSync(join(t.link, "file"))).toBe(true);
});
