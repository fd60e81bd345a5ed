// Loop control (behaviour.md 4.1, 4.4, 4.5, 4.6, 4.9): failure limits, periods, timeouts, signals.
import { expect, test } from "bun:test";
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { commit, countMsg, expectExit0, git, head, isAlive, isSymlink, readOr, scenario, waitFor } from "../helpers/index.ts";

const RETRY = "error syncing repo, will retry";
const ABORT = "too many failures, aborting";

test.concurrent("exit on the 2nd consecutive failure with --max-failures=2", async () => {
  await using t = await scenario();
  const gs = t.start("--ref=nope", "--max-failures=2", "--period=100ms");
  expect(await gs.exited()).toBe(1);
  expect(gs.count(RETRY)).toBe(1);
  expect(gs.count(ABORT)).toBe(1);
  expect(isSymlink(t.link)).toBe(false);
});

test.concurrent("exit on the first failure with the default --max-failures=0", async () => {
  await using t = await scenario();
  const gs = t.start("--ref=nope", "--period=100ms");
  expect(await gs.exited()).toBe(1);
  expect(gs.count(RETRY)).toBe(0);
  expect(gs.count(ABORT)).toBe(1);
});

test.concurrent("keep retrying with --max-failures=-1", async () => {
  await using t = await scenario();
  const gs = t.start("--ref=nope", "--max-failures=-1", "--period=100ms");
  await gs.waitLog(RETRY, 5);
  expect(gs.done).toBe(false);
  expect(gs.count(ABORT)).toBe(0);
});

test.concurrent("docs/laptop.md: a mirror in sync ends at its first outage by default; --max-failures=-1 rides it out and catches up", async () => {
  await using t = await scenario();
  const away = join(t.dir, "repo-away");
  // The default: one failed poll after a good sync is the end (exit 1), the link stays.
  const strict = t.start("--period=100ms");
  await t.waitHash(head(t.repo), 15_000, strict);
  renameSync(t.repo, away); // the remote stops answering
  expect(await strict.exited()).toBe(1);
  expect(strict.count(ABORT)).toBe(1);
  renameSync(away, t.repo);

  const patient = t.start("--period=100ms", "--max-failures=-1");
  await t.waitHash(head(t.repo), 15_000, patient);
  renameSync(t.repo, away);
  await patient.waitLog(RETRY, 3);
  expect(patient.done).toBe(false);
  renameSync(away, t.repo);
  const next = commit(t.repo, "file", "after the outage\n");
  await t.waitHash(next, 15_000, patient);
  expect(patient.count(ABORT)).toBe(0);
});

test.concurrent("--init-max-failures bounds the failures before the first success", async () => {
  await using t = await scenario();
  const gs = t.start("--ref=nope", "--init-max-failures=3", "--max-failures=-1", "--period=100ms");
  expect(await gs.exited()).toBe(1);
  expect(gs.count(RETRY)).toBe(2);
  expect(gs.count(ABORT)).toBe(1);
});

test.concurrent("--init-max-failures no longer applies after the first success", async () => {
  await using t = await scenario();
  git(t.repo, "branch", "feature");
  const gs = t.start("--ref=feature", "--init-max-failures=1", "--max-failures=-1", "--period=100ms");
  await t.waitHash(head(t.repo));
  git(t.repo, "branch", "-D", "feature");
  await gs.waitLog(RETRY, 3);
  expect(gs.done).toBe(false);
});

test.concurrent("--init-period paces the retries until the first success, then --period applies", async () => {
  await using t = await scenario();
  const gs = t.start("--ref=feature", "--init-period=100ms", "--period=1h", "--max-failures=-1", "-v=2");
  // Retries at 100ms although the period is an hour.
  await gs.waitLog(RETRY, 2);
  git(t.repo, "branch", "feature");
  await t.waitHash(head(t.repo));
  await gs.waitLog("initial sync complete, switching to normal period");
  const fetches = gs.count("fetching");
  commit(t.repo, "file", "two\n");
  await Bun.sleep(500);
  expect(gs.count("fetching")).toBe(fetches);
  expect(t.hash()).not.toBe(head(t.repo));
});

test.concurrent("kill a slow fetch's whole process group at --sync-timeout", async () => {
  await using t = await scenario();
  // A fetch that would outlast the test: only the timeout ends the run (runBinary kills it at 30s: code null).
  const w = t.gitWrapper("slow-git", { sleepOnFetch: 600 });
  const r = await t.sync(`--git=${w.path}`, "--sync-timeout=1s");
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(isSymlink(t.link)).toBe(false);
  const pid = Number(readOr(w.sleepPid)?.trim());
  expect(pid).toBeGreaterThan(0);
  // The sleeping grandchild went with the wrapper (process group killed).
  await waitFor(`sleep child ${pid} gone`, () => !isAlive(pid), 15_000);
});

test.concurrent("--one-time exits 0 after a successful sync and 1 after a failed one", async () => {
  await using t = await scenario();
  const ok = await t.syncOk();
  expect(countMsg(ok.stderr, "exiting after one sync")).toBe(1);
  const bad = await t.sync("--ref=nope");
  expect(bad.code).toBe(1);
  expect(t.hash()).toBe(head(t.repo)); // the earlier link survives a failed attempt
});

test.concurrent("retry a --one-time run at the period until --max-failures", async () => {
  await using t = await scenario();
  const r = await t.sync("--ref=nope", "--max-failures=3", "--period=100ms");
  expect(r.code).toBe(1);
  expect(countMsg(r.stderr, RETRY)).toBe(2);
  expect(countMsg(r.stderr, ABORT)).toBe(1);
});

test.concurrent("finish a --one-time run that succeeds on a retry", async () => {
  await using t = await scenario();
  const gs = t.start("--one-time", "--ref=feature", "--max-failures=-1", "--period=100ms");
  await gs.waitLog(RETRY, 2);
  git(t.repo, "branch", "feature");
  expect(await gs.exited()).toBe(0);
  expect(t.hash()).toBe(head(t.repo));
});

for (const sig of ["SIGHUP", "HUP", "1"]) {
  test.concurrent(`sync on signal (--sync-on-signal=${sig}) with a long period`, async () => {
    await using t = await scenario();
    const gs = t.start(`--sync-on-signal=${sig}`, "--period=100s", "-v=1");
    await t.waitHash(head(t.repo));
    const h2 = commit(t.repo, "file", "two\n");
    await Bun.sleep(400);
    expect(t.hash()).not.toBe(h2);
    gs.proc.kill("SIGHUP");
    await t.waitHash(h2);
    expect(gs.done).toBe(false);
    expect(t.read()).toBe("two\n");
  });
}

test.concurrent("use the --git wrapper for every git call", async () => {
  await using t = await scenario();
  const w = t.gitWrapper("wrapper");
  // No git on PATH: any git call that bypassed the wrapper would fail the sync.
  expectExit0(await t.run(["--one-time", ...t.args(`--git=${w.path}`)], { env: { PATH: t.dir } }));
  expect(t.hash()).toBe(head(t.repo));
  const calls = readFileSync(w.log, "utf8");
  for (const sub of ["version", "init", "fetch", "worktree add"]) expect(calls).toContain(sub);
});

// Not upstream: while attempts succeed, --period is the time from one attempt's start to the
// next, so a slow update (here a fetch held for 400 ms) shortens the pause after it; after a
// failure the whole period passes, as upstream.
test.concurrent("--period is a cadence while attempts succeed, and a full pause after a failure", async () => {
  await using t = await scenario();
  const w = t.gitWrapper("slow-git", { sleepOnFetch: 0.4 });
  const ok = t.start(`--git=${w.path}`, "--period=1s", "-v=3");
  await ok.waitLog("next sync");
  const afterSuccess = String(ok.logs().find((l) => l.msg === "next sync")?.waitTime);
  // Go duration text: "612ms" for a pause of 1s minus the attempt.
  expect(afterSuccess).toMatch(/^\d+(\.\d+)?ms$/);
  expect(parseFloat(afterSuccess)).toBeLessThanOrEqual(600);

  const failing = t.spawn([`--repo=${join(t.dir, "missing")}`, `--root=${join(t.dir, "root2")}`, "--period=1s", "--max-failures=-1", "-v=3"]);
  await failing.waitLog("next sync");
  expect(failing.logs().find((l) => l.msg === "next sync")?.waitTime).toBe("1s");
});
