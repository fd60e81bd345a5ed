// Operations over HTTP, black-box against dist/git-sync (issue 5, behaviour.md 7): the probe's
// transitions, exact metric lines, /readyz going unready and back, /status, pprof and POST /sync.
import { expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGitHTTP } from "../servers/index.ts";
import { makeBareRepo } from "../servers/repos.ts";
import { ERROR, FETCHES, NOOP, SUCCESS, type Scenario, commit, freePort, git, head, httpGet, linkHash, metric, metricValue, scenario, waitFor } from "../helpers/index.ts";

const bind = (port: number) => `--http-bind=127.0.0.1:${port}`;

async function post(port: number, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers, body });
  return { status: res.status, body: await res.text() };
}

const PUSH_SECRET = "push-s3cret";

/**
 * The flags that turn the push trigger on, with its secret written into the scenario's dir.
 * Tests that use POST /sync as a tool space nothing (--http-sync-min-interval=0).
 */
function pushTrigger(t: Scenario, ...extra: string[]): string[] {
  const file = join(t.dir, "sync-secret");
  writeFileSync(file, PUSH_SECRET + "\n");
  return [`--http-sync-secret-file=${file}`, ...extra];
}

/** POST /sync as a CI job (or `git-sync sync-now`) sends it. */
const syncRequest = (port: number) => post(port, "/sync", { Authorization: `Bearer ${PUSH_SECRET}` });

/** A push as GitHub delivers it: the event header and the HMAC of the JSON body. */
function githubPush(port: number, ref: string, after = "0".repeat(40)) {
  const body = JSON.stringify({ ref, after, repository: { full_name: "org/repo" } });
  const signature = "sha256=" + createHmac("sha256", PUSH_SECRET).update(body).digest("hex");
  return post(port, "/sync", { "X-GitHub-Event": "push", "X-Hub-Signature-256": signature, "Content-Type": "application/json" }, body);
}

/** All sync attempts so far, from /metrics. */
async function attempts(port: number): Promise<number> {
  const m = (await httpGet(port, "/metrics")).body;
  return [SUCCESS, NOOP, ERROR].reduce((n, s) => n + (metricValue(m, s) ?? 0), 0);
}

/** GET /status as JSON. */
async function status(port: number): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, unknown>;
}

test.concurrent("probe transitions: / and any path answer 503 until the first sync succeeds, then 200", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--ref=feature", "--max-failures=-1", "--period=100ms", bind(port), "--http-metrics");
  await waitFor("two failed attempts", async () => ((await metric(port, ERROR)) ?? 0) >= 2);
  for (const path of ["/", "/healthz", "/some/other/path?x=1"]) {
    const r = await httpGet(port, path);
    expect([path, r.status, r.body, r.type]).toEqual([path, 503, "repo is not ready\n", "text/plain; charset=utf-8"]);
  }
  // Any method: the catch-all does not care.
  expect(await post(port, "/")).toEqual({ status: 503, body: "repo is not ready\n" });
  expect((await httpGet(port, "/readyz")).status).toBe(503);

  // Fix the ref on the remote: the next attempt succeeds and the probe turns 200.
  git(t.repo, "branch", "feature");
  await waitFor("probe 200", async () => (await httpGet(port, "/")).status === 200);
  expect(t.hash()).toBe(head(t.repo));
  for (const path of ["/", "/healthz", "/some/other/path"]) {
    const r = await httpGet(port, path);
    expect([path, r.status, r.body]).toEqual([path, 200, ""]);
  }
  expect((await post(port, "/anything")).status).toBe(200);
}, 45_000);

test.concurrent("metrics: exact lines after N syncs and failures", async () => {
  await using t = await scenario();
  const port = freePort();
  const started = Date.now() / 1000;
  t.start("--ref=feature", "--period=1h", "--max-failures=-1", bind(port), "--http-metrics", ...pushTrigger(t, "--http-sync-min-interval=0"));
  const text = async () => (await httpGet(port, "/metrics")).body;
  const COUNTS = [SUCCESS, NOOP, ERROR, FETCHES, "git_sync_consecutive_failures"];
  const snapshot = async () => {
    const m = await text();
    return COUNTS.map((s) => `${s} ${metricValue(m, s) ?? "-"}`).join("\n");
  };
  const expectSoon = async (success: number | "-", noop: number | "-", error: number | "-", fetches: number, failures: number) => {
    const want = [success, noop, error, fetches, failures].map((v, i) => `${COUNTS[i]} ${v}`).join("\n");
    await waitFor(`metrics:\n${want}\n(now:\n${await snapshot().catch(() => "?")})`, async () => (await snapshot()) === want);
  };
  const syncNow = async () => expect((await syncRequest(port)).status).toBe(202);

  // The first attempt fails (no such branch): an error, no success series, no last-success gauge.
  await expectSoon("-", "-", 1, 0, 1);
  expect(await text()).not.toContain("git_sync_last_success_timestamp_seconds");
  await syncNow();
  await expectSoon("-", "-", 2, 0, 2);

  // The branch appears: a success and one update; the failure gauge resets.
  git(t.repo, "branch", "feature");
  await syncNow();
  await expectSoon(1, "-", 2, 1, 0);
  // Nothing new: a no-op.
  await syncNow();
  await expectSoon(1, 1, 2, 1, 0);
  // A new commit: another success and update.
  git(t.repo, "checkout", "-q", "feature");
  const h2 = commit(t.repo, "file", "two\n");
  await syncNow();
  await expectSoon(2, 1, 2, 2, 0);
  expect(t.hash()).toBe(h2);
  // And two more no-ops.
  await syncNow();
  await expectSoon(2, 2, 2, 2, 0);
  await syncNow();
  await expectSoon(2, 3, 2, 2, 0);

  const m = await text();
  const lines = m.split("\n");
  for (const line of [
    'git_sync_count_total{status="success"} 2',
    'git_sync_count_total{status="noop"} 3',
    'git_sync_count_total{status="error"} 2',
    "git_fetch_count_total 2",
    'git_sync_duration_seconds_count{status="success"} 2',
    'git_sync_duration_seconds_count{status="noop"} 3',
    'git_sync_duration_seconds_count{status="error"} 2',
  ]) {
    expect(lines).toContain(line);
  }
  for (const s of ["success", "noop", "error"]) {
    expect(metricValue(m, `git_sync_duration_seconds_sum{status="${s}"}`)).toBeGreaterThan(0);
  }
  expect(m).not.toMatch(/quantile/);
  for (const type of ["git_sync_count_total counter", "git_fetch_count_total counter", "git_sync_duration_seconds summary"]) {
    expect(lines).toContain(`# TYPE ${type}`);
  }
  // Process metrics.
  expect(metricValue(m, "process_cpu_seconds_total")).toBeGreaterThan(0);
  expect(metricValue(m, "process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
  expect(metricValue(m, "process_open_fds")).toBeGreaterThan(2);
  const start = metricValue(m, "process_start_time_seconds")!;
  expect(Math.abs(start - started)).toBeLessThan(5);
  // The stale-sync gauge: the time of the latest success (a no-op counts).
  const last = metricValue(m, "git_sync_last_success_timestamp_seconds")!;
  expect(last).toBeGreaterThan(started);
  expect(last).toBeLessThanOrEqual(Date.now() / 1000);
  expect(lines).toContain("# TYPE git_sync_last_success_timestamp_seconds gauge");
  // No float formatting of integral values.
  expect(m).not.toMatch(/^git_sync_count_total\{[^}]*\} \d+\.0$/m);
}, 45_000);

test.concurrent("/readyz goes unready after --readiness-max-failures=2 consecutive failures and back after a success", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--period=1h", "--max-failures=-1", "--readiness-max-failures=2", bind(port), ...pushTrigger(t, "--http-sync-min-interval=0"));
  const failures = async () => (await status(port)).consecutiveFailures;
  const syncAndWait = async (what: string, done: (s: Record<string, unknown>) => boolean) => {
    const before = (await status(port)).lastAttempt;
    expect((await syncRequest(port)).status).toBe(202);
    await waitFor(what, async () => {
      const s = await status(port);
      return s.lastAttempt !== before && done(s);
    });
  };
  await waitFor("/readyz 200", async () => (await httpGet(port, "/readyz")).status === 200);
  expect((await httpGet(port, "/readyz")).body).toBe("");

  // Break the remote.
  const moved = join(t.dir, "moved");
  renameSync(t.repo, moved);
  await syncAndWait("one failure", (s) => s.consecutiveFailures === 1);
  expect((await httpGet(port, "/readyz")).status).toBe(200);
  await syncAndWait("two failures", (s) => s.consecutiveFailures === 2);
  const r = await httpGet(port, "/readyz");
  expect([r.status, r.body, r.type]).toEqual([503, "not ready: 2 consecutive failures\n", "text/plain; charset=utf-8"]);
  // Upstream's probe never goes back.
  expect((await httpGet(port, "/")).status).toBe(200);
  await syncAndWait("three failures", (s) => s.consecutiveFailures === 3);
  expect((await httpGet(port, "/readyz")).status).toBe(503);

  // Repair it: one success makes it ready again.
  renameSync(moved, t.repo);
  await syncAndWait("a success", (s) => s.consecutiveFailures === 0);
  expect(await failures()).toBe(0);
  expect((await httpGet(port, "/readyz")).status).toBe(200);
}, 45_000);

test.concurrent("/readyz goes unready with --readiness-max-age=1s when syncs stop succeeding, and back", async () => {
  await using t = await scenario();
  const port = freePort();
  const started = Date.now();
  t.start("--period=100ms", "--max-failures=-1", "--readiness-max-age=1s", bind(port));
  await waitFor("/readyz 200", async () => (await httpGet(port, "/readyz")).status === 200);
  // Healthy syncing every 100ms keeps it ready past the max age: ready, still, once the process
  // has been up well past it (waited for, as a busy machine may stretch one sync past 1s).
  const firstReady = Date.now();
  await waitFor("/readyz 200 past the max age", async () => Date.now() - firstReady > 1500 && (await httpGet(port, "/readyz")).status === 200);

  renameSync(t.repo, join(t.dir, "moved"));
  // Failures alone do not count: at the first failed attempt it is still ready, whenever the
  // last success is under 1s old (the server's clock can only be behind Date.now() here).
  const failed = await waitFor("the first failed attempt", async () => {
    const s = await status(port);
    return (s.consecutiveFailures as number) >= 1 ? { healthy: s.healthy, age: Date.now() - Date.parse(s.lastSuccess as string) } : undefined;
  });
  if (failed.age < 1000) expect(failed.healthy).toBe(true);
  await waitFor("/readyz 503", async () => (await httpGet(port, "/readyz")).status === 503, 10_000, 25);
  const unready = Date.now();
  // It turns unready only once the last success is over 1s old.
  const lastSuccess = Date.parse((await status(port)).lastSuccess as string);
  expect(lastSuccess).toBeGreaterThan(started);
  expect(unready - lastSuccess).toBeGreaterThanOrEqual(1000);
  expect((await httpGet(port, "/readyz")).body).toMatch(/^not ready: last successful sync \d+s ago\n$/);
  expect((await httpGet(port, "/")).status).toBe(200);

  renameSync(join(t.dir, "moved"), t.repo);
  await waitFor("/readyz 200 again", async () => (await httpGet(port, "/readyz")).status === 200, 10_000);
}, 45_000);

test.concurrent("/status JSON: repo redacted, ref, hash of the link, last success, failures, last error and hooks", async () => {
  await using t = await scenario();
  const repos = join(t.dir, "served");
  const bare = makeBareRepo(repos, "repo.git");
  const SECRET = "hunter2-s3cret";
  const srv = startGitHTTP({ projectRoot: repos, users: { alice: SECRET } });
  try {
    const url = `${srv.url.replace("http://", `http://alice:${SECRET}@`)}/repo.git`;
    const hookLog = join(t.dir, "hook.log");
    const hook = join(t.dir, "hook.sh");
    writeFileSync(hook, `#!/bin/sh\necho "$GITSYNC_HASH" >> '${hookLog}'\n`, { mode: 0o755 });
    const deadPort = freePort();
    const port = freePort();
    const begin = Date.now();
    const gs = t.spawn([
      `--repo=${url}`,
      `--root=${t.root}`,
      "--link=link",
      "--ref=main",
      "--period=1h",
      "--max-failures=-1",
      `--exechook-command=${hook}`,
      `--webhook-url=http://127.0.0.1:${deadPort}/hook`,
      "--webhook-backoff=1s",
      bind(port),
      ...pushTrigger(t),
    ]);
    await waitFor(`link -> ${bare.head}`, () => t.hash() === bare.head || gs.done);
    expect([gs.done, t.hash()]).toEqual([false, bare.head]);
    await waitFor("exechook and webhook tried", async () => {
      const h = (await status(port)).hooks as Record<string, { lastRun: string | null; consecutiveFailures: number }>;
      return h.exechook?.lastRun && (h.webhook?.consecutiveFailures ?? 0) >= 1;
    });

    const s = await status(port);
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(s.repo).toBe(`${srv.url.replace("http://", "http://REDACTED@")}/repo.git`);
    expect(s.ref).toBe("main");
    expect(s.hash).toBe(bare.head);
    expect(s.hash).toBe(t.hash());
    expect(s.link).toBe(t.link);
    expect(s.ready).toBe(true);
    expect(s.healthy).toBe(true);
    const lastSuccess = Date.parse(s.lastSuccess as string);
    expect(lastSuccess).toBeGreaterThanOrEqual(begin);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now());
    expect(s.lastSuccess).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(s.lastAttempt as string)).toBeLessThanOrEqual(lastSuccess);
    expect(s.consecutiveFailures).toBe(0);
    expect(s.lastError).toBe("");
    expect(s.syncCount).toBe(1);
    const hooks = s.hooks as Record<string, Record<string, unknown>>;
    expect(hooks.exechook).toMatchObject({ name: "exechook", lastSuccessHash: bare.head, consecutiveFailures: 0, lastError: "" });
    expect(hooks.webhook).toMatchObject({ name: "webhook", lastSuccessHash: "" });
    expect(hooks.webhook!.lastError).not.toBe("");

    // A failing remote: counted, with the error text (credentials still redacted).
    srv.stop();
    const failedAt = Date.now();
    expect((await syncRequest(port)).status).toBe(202);
    await waitFor("a failure in /status", async () => (await status(port)).consecutiveFailures === 1);
    const f = await status(port);
    expect(JSON.stringify(f)).not.toContain(SECRET);
    expect(f.lastError).not.toBe("");
    expect(f.lastError).toContain("127.0.0.1");
    expect(Date.parse(f.lastAttempt as string)).toBeGreaterThanOrEqual(failedAt - 1000);
    expect(f.lastSuccess).toBe(s.lastSuccess);
    expect(f.hash).toBe(bare.head);
    expect(f.hash).toBe(t.hash());
  } finally {
    srv.stop();
  }
}, 45_000);

test.concurrent("--http-pprof: /debug/pprof/ answers 200", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--period=1h", bind(port), "--http-pprof");
  await waitFor("pprof index", async () => (await httpGet(port, "/debug/pprof/")).status === 200);
  expect((await httpGet(port, "/debug/pprof/")).body).toContain("heap");
  const heap = await httpGet(port, "/debug/pprof/heap");
  expect(heap.status).toBe(200);
  expect((JSON.parse(heap.body) as { memoryUsage: { rss: number } }).memoryUsage.rss).toBeGreaterThan(0);
  const cmdline = await httpGet(port, "/debug/pprof/cmdline");
  expect(cmdline.status).toBe(200);
  expect(cmdline.body.split("\0")).toContain("--http-pprof");
  expect((await httpGet(port, "/debug/pprof/trace")).status).toBe(404);
}, 45_000);

test.concurrent("without --http-sync-secret-file POST /sync is off: 403, and nothing syncs", async () => {
  await using t = await scenario();
  const port = freePort();
  t.start("--period=1h", bind(port), "--http-metrics");
  await t.waitHash(head(t.repo));
  await waitFor("first success counted", async () => (await metric(port, SUCCESS)) === 1);
  const h2 = commit(t.repo, "file", "two\n");
  expect(await post(port, "/sync")).toEqual({ status: 403, body: "push trigger is off: start git-sync with --http-sync-secret-file\n" });
  expect((await syncRequest(port)).status).toBe(403);
  expect((await httpGet(port, "/sync")).status).toBe(405);
  await Bun.sleep(1_500);
  expect(await attempts(port)).toBe(1);
  expect(t.hash()).not.toBe(h2);
  expect(await metric(port, 'git_sync_push_requests_total{result="disabled"}')).toBe(2);
}, 45_000);

test.concurrent("a GitHub-signed push to the synced branch syncs at once; a push to another branch and an unsigned one do not", async () => {
  await using t = await scenario();
  const port = freePort();
  const gs = t.start("--ref=main", "--period=1h", bind(port), "--http-metrics", ...pushTrigger(t));
  await t.waitHash(head(t.repo), 15_000, gs);
  await waitFor("first success counted", async () => (await metric(port, SUCCESS)) === 1);
  const next = commit(t.repo, "file", "pushed\n");

  // Negative checks: each answered, then a bounded wait in which nothing may sync.
  const unsigned = await post(port, "/sync", { "X-GitHub-Event": "push", "Content-Type": "application/json" }, JSON.stringify({ ref: "refs/heads/main" }));
  expect(unsigned.status).toBe(401);
  const wrong = await post(port, "/sync", { "X-Hub-Signature-256": "sha256=" + "0".repeat(64) }, "{}");
  expect(wrong.status).toBe(401);
  expect(await githubPush(port, "refs/heads/other")).toEqual({ status: 200, body: expect.stringMatching(/^ignored: push to refs\/heads\/other, syncing (refs\/heads\/)?main\n$/) });
  expect((await post(port, "/sync", { "X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + createHmac("sha256", PUSH_SECRET).update("{}").digest("hex") }, "{}")).body).toBe("pong\n");
  await Bun.sleep(1_500);
  expect(await attempts(port)).toBe(1);
  expect(t.hash()).not.toBe(next);

  expect(await githubPush(port, "refs/heads/main", next)).toEqual({ status: 202, body: "sync requested\n" });
  // Synced at once, not at --period=1h (the bench measures how fast).
  await t.waitHash(next, 30_000, gs);
  expect(t.read()).toBe("pushed\n");
  const m = (await httpGet(port, "/metrics")).body;
  expect(metricValue(m, 'git_sync_push_requests_total{result="unauthorized"}')).toBe(2);
  expect(metricValue(m, 'git_sync_push_requests_total{result="ignored"}')).toBe(2);
  expect(metricValue(m, 'git_sync_push_requests_total{result="accepted"}')).toBe(1);
  expect(m).toContain("# TYPE git_sync_push_requests_total counter\n");
}, 45_000);

test.concurrent("a burst of 10 signed pushes costs at most 2 sync attempts", async () => {
  await using t = await scenario();
  const port = freePort();
  const gs = t.start("--ref=main", "--period=1h", bind(port), "--http-metrics", ...pushTrigger(t));
  await t.waitHash(head(t.repo), 15_000, gs);
  await waitFor("first attempt counted", async () => (await attempts(port)) === 1);
  const next = commit(t.repo, "file", "burst\n");
  const began = performance.now();
  const answers = await Promise.all(Array.from({ length: 10 }, () => githubPush(port, "refs/heads/main", next)));
  const burstMs = performance.now() - began;
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
  // One sync at once, one deferred to the end of --http-sync-min-interval (1s).
  await t.waitHash(next, 20_000, gs);
  await waitFor("the deferred sync", async () => (await attempts(port)) - 1 >= 2, 20_000);
  // Then more than an interval in which nothing else may start. Push-triggered syncs start at
  // least an interval apart: ten pushes within one interval cost 2; a burst a busy machine
  // stretched over more intervals may cost one more per interval, never more.
  await Bun.sleep(1_500);
  expect((await attempts(port)) - 1).toBeLessThanOrEqual(2 + Math.floor(burstMs / 1_000));
  expect(await metric(port, 'git_sync_push_requests_total{result="accepted"}')).toBe(10);
}, 45_000);

test.concurrent("one git-sync's signed webhook triggers another's POST /sync", async () => {
  await using t = await scenario();
  const port = freePort();
  const secretFile = join(t.dir, "shared-secret");
  writeFileSync(secretFile, "chain-s3cret");
  // B: mirrors the repo every hour, unless told.
  const rootB = join(t.dir, "rootB");
  t.spawn([`--repo=${t.repo}`, `--root=${rootB}`, "--link=link", "--period=1h", `--http-bind=127.0.0.1:${port}`, `--http-sync-secret-file=${secretFile}`]);
  await waitFor("B's first sync", () => linkHash(join(rootB, "link")) === head(t.repo));
  // A: polls quickly and tells B after each update, signing its JSON payload.
  t.start("--period=100ms", `--webhook-url=http://127.0.0.1:${port}/sync`, "--webhook-success-status=202", "--webhook-payload", `--webhook-signature-secret-file=${secretFile}`);
  await t.waitHash(head(t.repo));
  const next = commit(t.repo, "file", "chained\n");
  await t.waitHash(next);
  await waitFor("B to follow A", () => linkHash(join(rootB, "link")) === next, 30_000);
});
