// The HTTP endpoint (behaviour.md 7, 4.2 "consequences that tests check"): the readiness probe and
// exact sync counters.
import { expect, test } from "bun:test";
import { existsSync, lstatSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ERROR, FETCHES, NOOP, SUCCESS, commit, freePort, git, head, httpGet, metric, metricValue, scenario, waitFor } from "../helpers/index.ts";

test.concurrent("answer the probe with 503 before the first success and 200 after", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--ref=feature", "--max-failures=-1", "--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics");
  await waitFor("an error counted", async () => ((await metric(port, ERROR)) ?? 0) >= 1);
  const before = await httpGet(port, "/");
  expect(before.status).toBe(503);
  expect(before.body).toBe("repo is not ready\n");
  expect(before.type).toBe("text/plain; charset=utf-8");
  expect((await httpGet(port, "/any/other/path")).status).toBe(503);
  const m = (await httpGet(port, "/metrics")).body;
  expect(metricValue(m, FETCHES)).toBe(0);
  expect(metricValue(m, SUCCESS)).toBeUndefined();
  git(t.repo, "branch", "feature");
  await t.waitHash(head(t.repo));
  await waitFor("probe ready", async () => (await httpGet(port, "/")).status === 200);
  expect((await httpGet(port, "/")).body).toBe("");
  // Readiness never goes back, even while syncs fail again.
  git(t.repo, "branch", "-D", "feature");
  const errors = (await metric(port, ERROR)) ?? 0;
  await waitFor("another error counted", async () => ((await metric(port, ERROR)) ?? 0) > errors);
  expect((await httpGet(port, "/")).status).toBe(200);
});

test.concurrent("answer the probe with 503 after a restart on a synced root until this process syncs", async () => {
  await using t = await scenario();
  await t.syncOk();
  const w = t.gitWrapper("slow-git", { sleepOnFetch: 1 });
  const port = freePort();
  t.start(`--git=${w.path}`, "--period=100ms", `--http-bind=127.0.0.1:${port}`);
  await waitFor("the slow fetch to start", () => existsSync(w.sleepPid));
  expect((await httpGet(port, "/")).status).toBe(503);
  await waitFor("probe ready", async () => (await httpGet(port, "/")).status === 200, 10_000);
});

test.concurrent("count successes, updates, no-ops and errors exactly", async () => {
  await using t = await scenario();
  const port = freePort();
  git(t.repo, "branch", "feature");
  const gs = t.start("--ref=feature", "--period=100s", "--sync-on-signal=SIGHUP", "--max-failures=-1", `--http-bind=127.0.0.1:${port}`, "--http-metrics");
  const text = async () => (await httpGet(port, "/metrics")).body;
  const snapshot = async () => {
    const m = await text();
    return [SUCCESS, NOOP, ERROR, FETCHES].map((s) => `${s} ${metricValue(m, s) ?? "-"}`).join("\n");
  };
  const expectSoon = async (want: string) => {
    await waitFor(`metrics:\n${want}`, async () => (await snapshot()) === want);
  };
  const line = (success: number | string, noop: number | string, error: number | string, fetches: number) =>
    `${SUCCESS} ${success}\n${NOOP} ${noop}\n${ERROR} ${error}\n${FETCHES} ${fetches}`;

  await expectSoon(line(1, "-", "-", 1));
  // No change: a no-op.
  gs.proc.kill("SIGHUP");
  await expectSoon(line(1, 1, "-", 1));
  // A new commit: one more success and one more update.
  git(t.repo, "checkout", "-q", "feature");
  const h2 = commit(t.repo, "file", "two\n");
  gs.proc.kill("SIGHUP");
  await expectSoon(line(2, 1, "-", 2));
  expect(t.hash()).toBe(h2);
  // The ref disappears: an error.
  git(t.repo, "checkout", "-q", "main");
  git(t.repo, "branch", "-D", "feature");
  gs.proc.kill("SIGHUP");
  await expectSoon(line(2, 1, 1, 2));
  // It comes back at the same commit: a no-op again.
  git(t.repo, "branch", "feature", h2);
  gs.proc.kill("SIGHUP");
  await expectSoon(line(2, 2, 1, 2));
  const m = await text();
  expect(metricValue(m, 'git_sync_duration_seconds_count{status="success"}')).toBe(2);
  expect(metricValue(m, 'git_sync_duration_seconds_count{status="noop"}')).toBe(2);
  expect(metricValue(m, 'git_sync_duration_seconds_count{status="error"}')).toBe(1);
  expect(metricValue(m, 'git_sync_duration_seconds_sum{status="success"}')).toBeGreaterThan(0);
  expect(m).toContain("# TYPE git_sync_count_total counter");
  expect(m).toContain("# TYPE git_fetch_count_total counter");
  expect(m).toContain("# TYPE git_sync_duration_seconds summary");
  expect(m).not.toMatch(/git_sync_duration_seconds\{.*quantile/);
});

test.concurrent("count one update on restart over a synced root without rewriting the link", async () => {
  await using t = await scenario();
  await t.syncOk("--touch-file=touch");
  const touch = join(t.root, "touch");
  rmSync(touch);
  const before = lstatSync(t.link);
  await Bun.sleep(20); // so a rewritten link would have a different mtime
  const port = freePort();
  t.start("--touch-file=touch", "--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics");
  await waitFor("first success", async () => (await metric(port, SUCCESS)) === 1);
  await waitFor("a no-op sync", async () => ((await metric(port, NOOP)) ?? 0) >= 1);
  expect(await metric(port, SUCCESS)).toBe(1);
  expect(await metric(port, FETCHES)).toBe(1);
  expect(existsSync(touch)).toBe(true);
  const after = lstatSync(t.link);
  expect(after.ino).toBe(before.ino);
  expect(after.mtimeMs).toBe(before.mtimeMs);
  expect(t.hash()).toBe(head(t.repo));
});

test.concurrent("serve /debug/pprof/ with --http-pprof", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-pprof");
  await waitFor("pprof index", async () => (await httpGet(port, "/debug/pprof/")).status === 200);
});
