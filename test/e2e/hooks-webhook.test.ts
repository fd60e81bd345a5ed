// The webhook of the compiled binary (behaviour.md 5.1, 5.4, issue 3): real receivers on 127.0.0.1,
// a Bun.serve one that records every hit and a raw-socket one answering in the minimal style.
import { expect, setDefaultTimeout, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, head, scenario, waitFor } from "../helpers/index.ts";
import { minimalServer, Receiver } from "../hooks/_fixtures.ts";
import { startGitHTTP } from "../servers/index.ts";

// The helpers set a default timeout only for the first test file that loads them; scenarios here
// queue for a slot and wait out backoffs, so give each test room (they set tighter waits themselves).
setDefaultTimeout(30_000);

/** A receiver on 127.0.0.1 answering `status`; it stops with the `using` scope. */
function receiver(status = 200, port = 0) {
  const r = new Receiver(port).start();
  r.status = status;
  return Object.assign(r, { [Symbol.dispose]: () => r.stop() });
}

/** The `hook failed` lines of the webhook logger in a stderr text. */
function webhookFailures(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.logger === "webhook" && l.msg === "hook failed");
}

test.concurrent("webhook: one POST per update, with the Gitsync-Hash header", async () => {
  await using t = await scenario();
  using rcv = receiver();
  t.start("--period=100ms", `--webhook-url=${rcv.url}`, "--webhook-backoff=1s");
  const h0 = head(t.repo);
  await waitFor("the call for the first hash", () => rcv.hits.length >= 1);
  const h1 = commit(t.repo, "file", "two\n");
  await waitFor("the call for the second hash", () => rcv.hits.length >= 2);
  // Several periods of no-op syncs: no more calls.
  await Bun.sleep(500);
  expect(rcv.hits.map((h) => `${h.method} ${h.hash}`)).toEqual([`POST ${h0}`, `POST ${h1}`]);
  // No body unless --webhook-payload.
  expect(rcv.hits.map((h) => h.body)).toEqual(["", ""]);
});

test.concurrent("webhook: a wrong status (expected 123, got 200) is logged with both codes and retried at the backoff", async () => {
  await using t = await scenario();
  using rcv = receiver(200);
  const gs = t.start("--period=100ms", `--webhook-url=${rcv.url}`, "--webhook-success-status=123", "--webhook-backoff=1s");
  await waitFor("three calls", () => rcv.hits.length >= 3, 15_000);
  const h0 = head(t.repo);
  expect(rcv.hits.slice(0, 3).map((h) => h.hash)).toEqual([h0, h0, h0]);
  for (let i = 1; i < 3; i++) {
    const gap = rcv.hits[i]!.at - rcv.hits[i - 1]!.at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(3000);
  }
  await waitFor("two failures logged", () => webhookFailures(gs.stderr).length >= 2);
  const failed = webhookFailures(gs.stderr)[0]!;
  expect(String(failed.error)).toContain("received response code 200 expected 123");
  expect(failed.hash).toBe(h0);
  expect(failed.retry).toBe("1s");
});

test.concurrent("webhook: fire-and-forget --webhook-success-status=0 accepts a 500", async () => {
  await using t = await scenario();
  using rcv = receiver(500);
  const r = await t.sync(`--webhook-url=${rcv.url}`, "--webhook-success-status=0");
  expect(r.code).toBe(0);
  expect(rcv.hits.map((h) => h.hash)).toEqual([head(t.repo)]);
  expect(webhookFailures(r.stderr)).toEqual([]);
});

test.concurrent("webhook: v3's GIT_SYNC_WEBHOOK_SUCCESS_STATUS=-1 is fire-and-forget too and accepts a 500", async () => {
  await using t = await scenario();
  using rcv = receiver(500);
  const r = await t.run(["--one-time", ...t.args(`--webhook-url=${rcv.url}`)], { env: { GIT_SYNC_WEBHOOK_SUCCESS_STATUS: "-1" } });
  expect(r.code).toBe(0);
  expect(rcv.hits.map((h) => h.hash)).toEqual([head(t.repo)]);
  expect(webhookFailures(r.stderr)).toEqual([]);
});

test.concurrent("webhook: fire-and-forget still fails on a connection error", async () => {
  await using t = await scenario();
  const r = await t.sync(`--webhook-url=http://127.0.0.1:${freePort()}/hook`, "--webhook-success-status=0");
  expect(r.code).toBe(1);
  expect(webhookFailures(r.stderr).length).toBe(1);
  expect(t.hash()).toBe(head(t.repo));
});

test.concurrent("webhook: --webhook-method=GET", async () => {
  await using t = await scenario();
  using rcv = receiver();
  const r = await t.sync(`--webhook-url=${rcv.url}`, "--webhook-method=GET");
  expect(r.code).toBe(0);
  expect(rcv.hits.map((h) => `${h.method} ${h.hash}`)).toEqual([`GET ${head(t.repo)}`]);
});

test.concurrent("webhook: --webhook-header='X-Env: prod' arrives", async () => {
  await using t = await scenario();
  using rcv = receiver();
  const r = await t.sync(`--webhook-url=${rcv.url}`, "--webhook-header=X-Env: prod");
  expect(r.code).toBe(0);
  expect(rcv.hits.length).toBe(1);
  expect(rcv.hits[0]!.headers.get("X-Env")).toBe("prod");
  expect(rcv.hits[0]!.hash).toBe(head(t.repo));
});

test.concurrent("webhook: a minimal receiver (HTTP/1.0, bare LF, no Content-Length, connection closed) works", async () => {
  await using t = await scenario();
  const srv = minimalServer("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nok, thanks\n");
  try {
    const r = await t.sync(`--webhook-url=${srv.url}`, "--webhook-timeout=2s");
    expect(r.code).toBe(0);
    expect(srv.requests.length).toBe(1);
    expect(srv.requests[0]!.toLowerCase()).toContain(`gitsync-hash: ${head(t.repo)}`);
  } finally {
    srv.stop();
  }
});

test.concurrent("webhook OUTAGE: receiver down while three commits are synced, then up: exactly one call, for the newest hash", async () => {
  await using t = await scenario();
  const port = freePort();
  const gs = t.start("--period=100ms", `--webhook-url=http://127.0.0.1:${port}/hook`, "--webhook-backoff=1s");
  const failedFor = (hash: string) => webhookFailures(gs.stderr).some((l) => l.hash === hash);
  await t.waitHash(head(t.repo));
  const hashes: string[] = [];
  for (let i = 1; i <= 3; i++) {
    hashes.push(commit(t.repo, "file", `commit ${i}\n`));
    await t.waitHash(hashes.at(-1)!);
  }
  const newest = hashes.at(-1)!;
  // The runner is retrying with the newest hash while the port is closed.
  await waitFor("a failed call for the newest hash", () => failedFor(newest), 10_000);
  using rcv = receiver(200, port);
  await waitFor("the call after the outage", () => rcv.hits.length >= 1, 10_000);
  // Two backoffs: no second call (no backlog, and a delivered hash is not sent again).
  await Bun.sleep(2200);
  expect(rcv.hits.map((h) => h.hash)).toEqual([newest]);
  expect(t.hash()).toBe(newest);
});

test.concurrent("webhook: --webhook-payload with --webhook-signature-secret-file, verified by the receiver", async () => {
  await using t = await scenario();
  using rcv = receiver();
  const secret = "s3cret-signing-key";
  const secretFile = join(t.dir, "webhook-secret");
  // `echo key > file`: the trailing newline is not part of the key.
  writeFileSync(secretFile, `${secret}\n`);
  // The repo over HTTP with credentials in the URL, which the payload must not show.
  const password = "pa55w0rd-in-url";
  const git = startGitHTTP({ projectRoot: t.dir, users: { user: password } });
  try {
    const repoURL = `${git.url.replace("http://", `http://user:${password}@`)}/repo`;
    const gs = t.spawn([
      `--repo=${repoURL}`,
      `--root=${t.root}`,
      "--link=link",
      "--ref=main",
      "--period=100ms",
      `--webhook-url=${rcv.url}`,
      "--webhook-backoff=1s",
      "--webhook-payload",
      `--webhook-signature-secret-file=${secretFile}`,
    ]);
    const h0 = head(t.repo);
    await waitFor("the call for the first hash", () => rcv.hits.length >= 1);
    const h1 = commit(t.repo, "file", "two\n");
    await waitFor("the call for the second hash", () => rcv.hits.length >= 2);
    expect(rcv.hits.length).toBe(2);
    const expected = [
      { hash: h0, previousHash: "" },
      { hash: h1, previousHash: h0 },
    ];
    for (const [i, hit] of rcv.hits.entries()) {
      // The receiver's check: HMAC-SHA256 of the raw body with the shared key.
      const want = "sha256=" + createHmac("sha256", secret).update(hit.body).digest("hex");
      expect(hit.headers.get("Gitsync-Signature-256")).toBe(want);
      expect(hit.headers.get("Content-Type")).toBe("application/json");
      expect(hit.hash).toBe(expected[i]!.hash);
      const body = JSON.parse(hit.body) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(["hash", "previousHash", "ref", "repo", "time"]);
      expect(body.repo).toBe(`${git.url.replace("http://", "http://REDACTED@")}/repo`);
      expect(body.ref).toBe("main");
      expect(body.hash).toBe(expected[i]!.hash);
      expect(body.previousHash).toBe(expected[i]!.previousHash);
      expect(String(body.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(String(body.time)) - hit.at)).toBeLessThan(5000);
    }
    // A body signed with another key does not verify.
    expect(rcv.hits[0]!.headers.get("Gitsync-Signature-256")).not.toBe("sha256=" + createHmac("sha256", `${secret}\n`).update(rcv.hits[0]!.body).digest("hex"));
    expect(gs.stderr).not.toContain(password);
    expect(gs.stderr).not.toContain(secret);
  } finally {
    git.stop();
  }
});
