// Webhook runner against real receivers on 127.0.0.1: a Bun.serve server counting hits.
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hookRunCount } from "../../src/state/metrics.ts";
import { cleanup, freePort, tmpDir, waitFor } from "../helpers/index.ts";
import { harness, makeConfig, messages, Receiver, type Harness } from "./_fixtures.ts";

let dir: string;
let h: Harness | undefined;
let rx: Receiver | undefined;

beforeEach(() => {
  dir = tmpDir("gs-webhook-");
});
afterEach(() => {
  h?.hooks.stop();
  rx?.stop();
  h = undefined;
  rx = undefined;
  cleanup(dir);
});

const ev = (hash: string, previousHash = "") => ({ hash, previousHash, worktree: join(dir, ".worktrees", hash) });
const metric = (status: string) => hookRunCount.get({ name: "webhook", status });

describe("webhook", () => {
  it("POSTs the hash with no body and logs success at V1", async () => {
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url } }));
    const before = metric("success");
    h.hooks.webhook!.send(ev("abc1"));
    expect(await h.hooks.webhook!.firstResult()).toBe(true);
    expect(rx.hits).toHaveLength(1);
    expect(rx.hits[0]).toMatchObject({ method: "POST", hash: "abc1", body: "" });
    expect(rx.hits[0]!.headers.get("content-type")).toBeNull();
    expect(metric("success")).toBe(before + 1);
    expect(messages(h.lines, "sending webhook")[0]).toMatchObject({ logger: "webhook", level: 0, hash: "abc1", url: rx.url, method: "POST", timeout: "1s" });
    expect(messages(h.lines, "webhook succeeded")[0]).toMatchObject({ logger: "webhook", level: 1, hash: "abc1", status: 200, body: "reply 1" });
  });

  it("method GET", async () => {
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url, method: "GET" } }));
    h.hooks.webhook!.send(ev("abc2"));
    expect(await h.hooks.webhook!.firstResult()).toBe(true);
    expect(rx.hits[0]).toMatchObject({ method: "GET", hash: "abc2" });
  });

  it("a wrong status is an error, retried at the backoff", async () => {
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url, successStatus: 123, backoff: 1000 } }));
    const before = metric("error");
    h.hooks.webhook!.send(ev("abc3"));
    // The receiver sees the second request before the runner has read its answer and counted it.
    await waitFor("second try counted", () => rx!.hits.length >= 2 && metric("error") >= before + 2);
    h.hooks.stop();
    expect(rx.hits[1]!.at - rx.hits[0]!.at).toBeGreaterThanOrEqual(950);
    expect(rx.hits.map((x) => x.hash)).toEqual(["abc3", "abc3"]);
    const failed = messages(h.lines, "hook failed")[0]!;
    expect(failed).toMatchObject({ logger: "webhook", hash: "abc3", retry: "1s", error: 'received response code 200 expected 123, body: "reply 1"' });
  });

  it("status 0 accepts any response, but a refused connection is still retried", async () => {
    const port = freePort();
    rx = new Receiver(port);
    rx.status = 500;
    h = harness(makeConfig({ webhook: { url: `http://127.0.0.1:${port}/`, successStatus: 0, backoff: 1000 } }));
    h.hooks.webhook!.send(ev("abc4"));
    await waitFor("refused once", () => h!.state.hooks.webhook?.consecutiveFailures === 1);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toStartWith(`POST "http://127.0.0.1:${port}/": `);
    rx.start();
    await waitFor("delivered", () => h!.state.hooks.webhook?.lastSuccessHash === "abc4");
    expect(rx.hits).toHaveLength(1);
    expect(messages(h.lines, "webhook succeeded")[0]).toMatchObject({ status: 500 });
  });

  it("after an outage the receiver gets exactly one call, for the newest hash", async () => {
    const port = freePort();
    rx = new Receiver(port);
    h = harness(makeConfig({ webhook: { url: `http://127.0.0.1:${port}/`, backoff: 1000 } }));
    h.hooks.webhook!.send(ev("h1"));
    await waitFor("first failure", () => h!.state.hooks.webhook?.consecutiveFailures === 1);
    h.hooks.webhook!.send(ev("h2", "h1"));
    h.hooks.webhook!.send(ev("h3", "h2"));
    rx.start();
    await waitFor("newest delivered", () => h!.state.hooks.webhook?.lastSuccessHash === "h3");
    await Bun.sleep(1200);
    expect(rx.hits.map((x) => x.hash)).toEqual(["h3"]);
  });

  it("a hash that already succeeded is not sent again", async () => {
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url } }));
    h.hooks.webhook!.send(ev("same"));
    await waitFor("delivered", () => rx!.hits.length === 1);
    h.hooks.webhook!.send(ev("same"));
    await Bun.sleep(300);
    expect(rx.hits).toHaveLength(1);
  });

  it("one-time: a failure is tried once and reported", async () => {
    rx = new Receiver().start();
    rx.status = 503;
    h = harness(makeConfig({ webhook: { url: rx.url, backoff: 1000 }, oneTime: true }));
    h.hooks.webhook!.send(ev("once"));
    expect(await h.hooks.webhook!.firstResult()).toBe(false);
    await Bun.sleep(1200);
    expect(rx.hits).toHaveLength(1);
  });

  it("an invalid URL is a failure detected at call time", async () => {
    h = harness(makeConfig({ webhook: { url: "not a url" }, oneTime: true }));
    h.hooks.webhook!.send(ev("bad"));
    expect(await h.hooks.webhook!.firstResult()).toBe(false);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toStartWith('POST "not a url": ');
  });

  it("redacts the URL user info in logs and errors", async () => {
    const port = freePort();
    h = harness(makeConfig({ webhook: { url: `http://user:hooksecret@127.0.0.1:${port}/` }, oneTime: true }));
    h.hooks.webhook!.send(ev("red"));
    expect(await h.hooks.webhook!.firstResult()).toBe(false);
    expect(h.raw.join("")).not.toContain("hooksecret");
    expect(messages(h.lines, "sending webhook")[0]!.url).toBe(`http://REDACTED@127.0.0.1:${port}/`);
  });

  it("payload and signature are verified by the receiver, and the secret is re-read on rotation", async () => {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "first-secret\n");
    let secret = "first-secret";
    const verdicts: boolean[] = [];
    rx = new Receiver(0, (hit) => {
      const want = "sha256=" + createHmac("sha256", secret).update(hit.body).digest("hex");
      verdicts.push(hit.headers.get("Gitsync-Signature-256") === want);
    }).start();
    h = harness(
      makeConfig({
        repo: "https://bob:repopass@example.com/org/repo.git",
        ref: "release",
        webhook: { url: rx.url, payload: true, signatureSecretFile: secretFile, headers: [["X-Team", "infra"], ["Authorization", "Bearer tok"]] },
      }),
    );
    h.hooks.webhook!.send(ev("p2", "p1"));
    await waitFor("first delivery", () => rx!.hits.length === 1);
    const hit = rx.hits[0]!;
    expect(hit.headers.get("content-type")).toBe("application/json");
    expect(hit.headers.get("x-team")).toBe("infra");
    expect(hit.headers.get("authorization")).toBe("Bearer tok");
    const body = JSON.parse(hit.body) as Record<string, string>;
    expect(body).toMatchObject({ repo: "https://REDACTED@example.com/org/repo.git", ref: "release", hash: "p2", previousHash: "p1" });
    expect(body.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Object.keys(body)).toEqual(["repo", "ref", "hash", "previousHash", "time"]);

    writeFileSync(secretFile, "second-secret");
    secret = "second-secret";
    h.hooks.webhook!.send(ev("p3", "p2"));
    await waitFor("second delivery", () => rx!.hits.length === 2);
    expect(verdicts).toEqual([true, true]);
    const logged = h.raw.join("");
    for (const s of ["first-secret", "second-secret", "repopass", "Bearer tok"]) expect(logged).not.toContain(s);
  });

  it("a link named after a repo URL with credentials reaches the receiver without them (header and payload)", async () => {
    rx = new Receiver().start();
    const repo = "https://bob:tok-7Hq@example.com";
    const config = makeConfig({ repo, webhook: { url: rx.url, payload: true } });
    h = harness({ ...config, alsoLinks: [{ name: "rel", ref: "release", link: join(dir, "rel") }] });
    h.hooks.webhook!.send({ ...ev("q1"), ref: "main", link: join(dir, "bob:tok-7Hq@example.com") });
    await waitFor("delivery", () => rx!.hits.length === 1);
    const hit = rx.hits[0]!;
    expect(hit.headers.get("Gitsync-Link")).toBe(join(dir, "REDACTED@example.com"));
    expect((JSON.parse(hit.body) as { link: string }).link).toBe(join(dir, "REDACTED@example.com"));
    expect(JSON.stringify([...hit.headers]) + hit.body).not.toContain("tok-7Hq");
  });

  it("without a payload the signature covers the empty body", async () => {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "k3y-value");
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url, signatureSecretFile: secretFile }, oneTime: true }));
    h.hooks.webhook!.send(ev("e1"));
    expect(await h.hooks.webhook!.firstResult()).toBe(true);
    expect(rx.hits[0]!.body).toBe("");
    expect(rx.hits[0]!.headers.get("gitsync-signature-256")).toBe("sha256=" + createHmac("sha256", "k3y-value").update("").digest("hex"));
  });

  it("a missing secret file fails the try without sending", async () => {
    rx = new Receiver().start();
    h = harness(makeConfig({ webhook: { url: rx.url, signatureSecretFile: join(dir, "absent") }, oneTime: true }));
    h.hooks.webhook!.send(ev("e2"));
    expect(await h.hooks.webhook!.firstResult()).toBe(false);
    expect(rx.hits).toHaveLength(0);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toContain("can't read webhook signature secret file");
  });
});
