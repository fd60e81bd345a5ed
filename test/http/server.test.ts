// The HTTP endpoint (behaviour.md 7 and our additions) over real HTTP on 127.0.0.1.
import { afterEach, describe, expect, it } from "bun:test";
import { fetchCount, hookRunCount, syncCount, syncDuration } from "../../src/state/metrics.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { parseBind } from "../../src/lib/bind.ts";
import { registerSecret } from "../../src/log/logger.ts";
import { newSyncState } from "../../src/state/sync-state.ts";
import { startTestServer, testLogger, type TestServer } from "./_server.ts";

let t: TestServer | undefined;
afterEach(() => {
  t?.stop();
  t = undefined;
});

/** The value of the series whose line starts with `prefix ` (how upstream's e2e tests read metrics). */
function metric(body: string, prefix: string): string | undefined {
  return body
    .split("\n")
    .find((l) => l.startsWith(prefix + " "))
    ?.slice(prefix.length + 1);
}

describe("the / probe", () => {
  it("is 503 'repo is not ready' on any path and method before the first success, 200 after", async () => {
    t = startTestServer();
    for (const [method, path] of [
      ["GET", "/"],
      ["GET", "/healthz"],
      ["POST", "/"],
      ["DELETE", "/x/y"],
      ["GET", "/metrics"],
      ["GET", "/debug/pprof/"],
    ] as const) {
      const r = await fetch(t.base + path, { method });
      expect(r.status).toBe(503);
      expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await r.text()).toBe("repo is not ready\n");
    }
    t.state.ready = true;
    const r = await fetch(t.base + "/anything", { method: "PUT" });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("");
  });

  it("logs serving HTTP with the endpoint and reasons", () => {
    t = startTestServer({ httpMetrics: true, httpPprof: true });
    const line = JSON.parse(t.logs.find((l) => l.includes('"serving HTTP"'))!) as Record<string, unknown>;
    expect(line.level).toBe(0);
    expect(line.endpoint).toBe("127.0.0.1:0");
    expect(line.reasons).toEqual(["liveness", "metrics", "pprof"]);
    t.stop();
    t = startTestServer();
    expect(JSON.parse(t.logs[0]!).reasons).toEqual(["liveness"]);
  });
});

describe("/metrics", () => {
  it("shows exact counter values after syncs and failures", async () => {
    t = startTestServer({ httpMetrics: true });
    const before = {
      success: syncCount.get({ status: "success" }),
      error: syncCount.get({ status: "error" }),
      fetch: fetchCount.get(),
      hook: hookRunCount.get({ name: "exechook", status: "success" }),
    };
    for (let i = 0; i < 3; i++) {
      syncCount.inc({ status: "success" });
      syncDuration.observe(0.5, { status: "success" });
      fetchCount.inc();
    }
    syncCount.inc({ status: "error" });
    syncCount.inc({ status: "error" });
    hookRunCount.inc({ name: "exechook", status: "success" });

    const r = await fetch(t.base + "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const body = await r.text();
    expect(metric(body, 'git_sync_count_total{status="success"}')).toBe(String(before.success + 3));
    expect(metric(body, 'git_sync_count_total{status="error"}')).toBe(String(before.error + 2));
    expect(metric(body, "git_fetch_count_total")).toBe(String(before.fetch + 3));
    expect(metric(body, 'git_sync_hook_run_count_total{name="exechook",status="success"}')).toBe(String(before.hook + 1));
    expect(metric(body, 'git_sync_duration_seconds_count{status="success"}')).toMatch(/^\d+$/);
    expect(body).toContain("# TYPE git_sync_count_total counter\n");
    expect(body).toContain("# TYPE git_sync_duration_seconds summary\n");
  });

  it("has process metrics with plausible values", async () => {
    t = startTestServer({ httpMetrics: true });
    const body = await (await fetch(t.base + "/metrics")).text();
    const start = Number(metric(body, "process_start_time_seconds"));
    expect(start).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(Number(metric(body, "process_resident_memory_bytes"))).toBeGreaterThan(1_000_000);
    expect(Number(metric(body, "process_cpu_seconds_total"))).toBeGreaterThan(0);
    expect(Number(metric(body, "process_open_fds"))).toBeGreaterThan(2);
    expect(Number(metric(body, "process_max_fds"))).toBeGreaterThan(2);
    expect(Number(metric(body, "process_virtual_memory_bytes"))).toBeGreaterThan(Number(metric(body, "process_resident_memory_bytes")));
    expect(body).toContain("# TYPE process_cpu_seconds_total counter\n");
    expect(body).toContain("# HELP process_open_fds ");
  });

  it("has the last-success timestamp only after a success, and the failure gauge", async () => {
    t = startTestServer({ httpMetrics: true });
    let body = await (await fetch(t.base + "/metrics")).text();
    expect(body).not.toContain("git_sync_last_success_timestamp_seconds");
    expect(metric(body, "git_sync_consecutive_failures")).toBe("0");
    t.state.lastSuccess = 1_700_000_000_500;
    t.state.consecutiveFailures = 4;
    body = await (await fetch(t.base + "/metrics")).text();
    expect(metric(body, "git_sync_last_success_timestamp_seconds")).toBe("1700000000.5");
    expect(metric(body, "git_sync_consecutive_failures")).toBe("4");
    expect(body).toContain("# TYPE git_sync_last_success_timestamp_seconds gauge\n");
  });
});

describe("/readyz", () => {
  it("without the readiness options behaves like /", async () => {
    t = startTestServer();
    let r = await fetch(t.base + "/readyz");
    expect([r.status, await r.text()]).toEqual([503, "repo is not ready\n"]);
    t.state.ready = true;
    t.state.consecutiveFailures = 100;
    r = await fetch(t.base + "/readyz");
    expect([r.status, await r.text()]).toEqual([200, ""]);
  });

  it("turns unready after N consecutive failures and ready again after a success", async () => {
    t = startTestServer({ readinessMaxFailures: 3 });
    t.state.ready = true;
    t.state.lastSuccess = Date.now();
    t.state.consecutiveFailures = 2;
    expect((await fetch(t.base + "/readyz")).status).toBe(200);
    t.state.consecutiveFailures = 3;
    const r = await fetch(t.base + "/readyz");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("not ready: 3 consecutive failures\n");
    // Upstream's probe never goes back.
    expect((await fetch(t.base + "/")).status).toBe(200);
    t.state.consecutiveFailures = 0;
    expect((await fetch(t.base + "/readyz")).status).toBe(200);
  });

  it("turns unready when the last success is too old, and ready after a fresh one", async () => {
    t = startTestServer({ readinessMaxAge: 10 * 60_000 });
    t.state.ready = true;
    t.state.lastSuccess = Date.now() - 12 * 60_000;
    const r = await fetch(t.base + "/readyz");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("not ready: last successful sync 12m0s ago\n");
    t.state.lastSuccess = Date.now();
    expect((await fetch(t.base + "/readyz")).status).toBe(200);
  });
});

describe("/status", () => {
  it("shows errors as log lines show them: registered secrets replaced", async () => {
    registerSecret("askpass-body-s3cret");
    t = startTestServer();
    Object.assign(t.state, {
      lastError: 'auth URL returned status 500, body: "password=askpass-body-s3cret"',
      hooks: {
        webhook: { name: "webhook", pending: "", lastSuccessHash: "", lastRun: null, lastError: "token askpass-body-s3cret refused", consecutiveFailures: 1, running: false },
      },
    });
    const text = await (await fetch(t.base + "/status")).text();
    expect(text).not.toContain("askpass-body-s3cret");
    expect(text).toContain('body: \\"password=REDACTED\\"');
  });

  it("reports the sync state as JSON with the repo redacted", async () => {
    t = startTestServer({ readinessMaxFailures: 2 });
    Object.assign(t.state, {
      ready: true,
      hash: "a".repeat(40),
      lastAttempt: Date.parse("2024-05-01T10:00:05Z"),
      lastSuccess: Date.parse("2024-05-01T10:00:00Z"),
      consecutiveFailures: 2,
      lastError: "can't fetch https://user:hunter2@git.example.com/org/repo.git: exit 128",
      syncCount: 7,
      hooks: {
        exechook: { name: "exechook", pending: "", lastSuccessHash: "a".repeat(40), lastRun: Date.parse("2024-05-01T10:00:01Z"), lastError: "", consecutiveFailures: 0, running: false },
      },
    });
    const r = await fetch(t.base + "/status");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toStartWith("application/json");
    const doc = (await r.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      repo: "https://REDACTED@git.example.com/org/repo.git",
      ref: "main",
      root: "/tmp/git",
      link: "/tmp/git/repo",
      hash: "a".repeat(40),
      ready: true,
      healthy: false,
      reason: "not ready: 2 consecutive failures",
      lastAttempt: "2024-05-01T10:00:05.000Z",
      lastSuccess: "2024-05-01T10:00:00.000Z",
      consecutiveFailures: 2,
      lastError: "can't fetch https://REDACTED@git.example.com/org/repo.git: exit 128",
      syncCount: 7,
      hooks: { exechook: { name: "exechook", lastRun: "2024-05-01T10:00:01.000Z", consecutiveFailures: 0, running: false } },
      pid: process.pid,
    });
    expect(typeof doc.version).toBe("string");
    expect(doc.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(doc)).not.toContain("hunter2");
  });

  it("has null times before anything happened", async () => {
    t = startTestServer();
    const doc = (await (await fetch(t.base + "/status")).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({ ready: false, healthy: false, lastAttempt: null, lastSuccess: null, hash: "", hooks: {} });
  });

  it("has a serve section with --serve-git (changedAt as RFC 3339), null without", async () => {
    t = startTestServer();
    expect(((await (await fetch(t.base + "/status")).json()) as Record<string, unknown>).serve).toBeNull();
    const serve = { auth: "secret" as const, maxPacks: 4, inFlight: 1, requests: { ok: 7, unauthorized: 2 }, bytesSent: 4096, refs: [{ name: "HEAD", oid: "a".repeat(40) }] };
    t.state.serve = { ...serve, changedAt: Date.parse("2024-05-01T10:00:00Z") };
    const doc = (await (await fetch(t.base + "/status")).json()) as Record<string, unknown>;
    expect(doc.serve).toEqual({ ...serve, changedAt: "2024-05-01T10:00:00.000Z" });
  });
});

describe("/debug/pprof", () => {
  it("offers an index, cmdline and heap; anything else is 404", async () => {
    t = startTestServer({ httpPprof: true });
    let r = await fetch(t.base + "/debug/pprof/");
    expect(r.status).toBe(200);
    expect(await r.text()).toContain("heap");
    r = await fetch(t.base + "/debug/pprof/cmdline");
    expect(r.status).toBe(200);
    expect((await r.text()).split("\0")[0]).toBe(process.execPath);
    r = await fetch(t.base + "/debug/pprof/heap");
    expect(r.status).toBe(200);
    const heap = (await r.json()) as { memoryUsage: { rss: number }; heapStats?: { heapSize: number } };
    expect(heap.memoryUsage.rss).toBeGreaterThan(0);
    expect(heap.heapStats?.heapSize).toBeGreaterThan(0);
    for (const p of ["profile", "trace", "symbol", "nope/deeper"]) {
      expect((await fetch(`${t.base}/debug/pprof/${p}`)).status).toBe(404);
    }
    r = await fetch(t.base + "/debug/pprof", { redirect: "manual" });
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe("/debug/pprof/");
  });
});

describe("POST /sync without --http-sync-secret-file", () => {
  it("is off: 403 with the flag to set, no sync; other methods are 405", async () => {
    t = startTestServer();
    t.state.ready = true;
    let r = await fetch(t.base + "/sync", { method: "POST", headers: { Authorization: "Bearer anything" } });
    expect([r.status, await r.text()]).toEqual([403, "push trigger is off: start git-sync with --http-sync-secret-file\n"]);
    r = await fetch(t.base + "/sync", { method: "POST" });
    expect(r.status).toBe(403);
    r = await fetch(t.base + "/sync");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
    expect(t.syncRequests()).toBe(0);
  });
});

describe("binding", () => {
  it("throws when the port is busy", () => {
    t = startTestServer();
    const deps = { state: newSyncState(), log: testLogger([]), requestSync: () => {} };
    const config = { httpBind: `127.0.0.1:${t.server.port}`, httpMetrics: false, httpPprof: false, httpSyncSecretFile: "", httpSyncMinInterval: 0, readinessMaxFailures: 0, readinessMaxAge: 0, repo: "", ref: "", root: "", link: "" };
    expect(() => startHttpServer(config, deps)).toThrow(/in use/);
  });

  it(":port listens on every interface, 127.0.0.1 included", async () => {
    t = startTestServer({ httpBind: ":0" });
    expect((await fetch(`http://127.0.0.1:${t.server.port}/`)).status).toBe(503);
  });

  for (const [bind, host, port] of [
    [":8080", "", 8080],
    ["127.0.0.1:1234", "127.0.0.1", 1234],
    ["localhost:80", "localhost", 80],
    ["[::1]:9000", "::1", 9000],
    ["[::]:0", "::", 0],
  ] as const) {
    it(`parses ${bind}`, () => expect(parseBind(bind)).toEqual({ host, port }));
  }
  for (const bad of ["8080", "host:", "::1:80", "host:99999", "host:port"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => expect(() => parseBind(bad)).toThrow(/invalid --http-bind/));
  }
});
