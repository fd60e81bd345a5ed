// POST /sync, the push trigger (src/http/push.ts), over real HTTP on 127.0.0.1: each forge's
// credentials, refusals that never wake the loop, the ref filter, events, coalescing and the
// request budget. The pure parts (ref matching, the coalescer's clock, the budget) as tables.
import { createHmac } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushRequestCount } from "../../src/state/metrics.ts";
import { BURST, MAX_BODY, PushCoalescer, RequestBudget, pushedRef, refMatches } from "../../src/http/push.ts";
import { waitFor } from "../helpers/index.ts";
import { startTestServer, type TestServer } from "./_server.ts";

const SECRET = "s3cret-push";
const dir = mkdtempSync(join(tmpdir(), "gs-push-"));
const secretFile = join(dir, "secret");
// A trailing newline, as `echo s3cret > file` writes it, is not part of the secret.
writeFileSync(secretFile, SECRET + "\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestServer | undefined;
afterEach(() => {
  t?.stop();
  t = undefined;
});

// node:crypto, not Bun.CryptoHasher: that one trips over an OpenSSL error another test file left (lib/secrets.test.ts).
const hex = (key: string, body: string) => createHmac("sha256", key).update(body).digest("hex");
const MAIN = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40) });
const OTHER = JSON.stringify({ ref: "refs/heads/other", after: "b".repeat(40) });

function start(overrides: Parameters<typeof startTestServer>[0] = {}): TestServer {
  t = startTestServer({ httpSyncSecretFile: secretFile, ...overrides });
  return t;
}

async function push(headers: Record<string, string>, body: string = MAIN): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const r = await fetch(t!.base + "/sync", { method: "POST", headers, body });
  return { status: r.status, body: await r.text(), retryAfter: r.headers.get("retry-after") };
}

const github = (body: string, event = "push") => ({ "X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + hex(SECRET, body), "Content-Type": "application/json" });

describe("credentials", () => {
  it.each<[string, Record<string, string>, string?]>([
    ["GitHub: X-Hub-Signature-256", github(MAIN)],
    ["GitHub: upper-case hex", { "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hex(SECRET, MAIN).toUpperCase() }],
    ["Gitea: X-Gitea-Signature (bare hex)", { "X-Gitea-Event": "push", "X-Gitea-Signature": hex(SECRET, MAIN) }],
    ["Forgejo: X-Forgejo-Signature (bare hex)", { "X-Forgejo-Event": "push", "X-Forgejo-Signature": hex(SECRET, MAIN) }],
    ["git-sync: Gitsync-Signature-256", { "Gitsync-Signature-256": "sha256=" + hex(SECRET, MAIN) }],
    ["GitLab: X-Gitlab-Token, Push Hook", { "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET }],
    ["GitLab: Tag Push Hook", { "X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": SECRET }, JSON.stringify({ ref: "refs/tags/main" })],
    ["generic: Authorization: Bearer", { Authorization: `Bearer ${SECRET}` }],
    ["generic: bearer scheme in lower case", { Authorization: `bearer ${SECRET}` }],
    ["generic: bearer with an empty body", { Authorization: `Bearer ${SECRET}` }, ""],
  ])("%s -> 202 and one wake", async (_name, headers, body = MAIN) => {
    start();
    const r = await push(headers, body);
    expect([r.status, r.body]).toEqual([202, "sync requested\n"]);
    expect(t!.syncRequests()).toBe(1);
  });

  it.each<[string, Record<string, string>]>([
    ["no credentials", { "X-GitHub-Event": "push" }],
    ["a signature made with another secret", { "X-Hub-Signature-256": "sha256=" + hex("other", MAIN) }],
    ["a signature of another body", { "X-Hub-Signature-256": "sha256=" + hex(SECRET, OTHER) }],
    ["X-Hub-Signature-256 without sha256=", { "X-Hub-Signature-256": hex(SECRET, MAIN) }],
    ["a wrong X-Gitea-Signature", { "X-Gitea-Signature": hex("other", MAIN) }],
    ["a wrong X-Forgejo-Signature", { "X-Forgejo-Signature": "" }],
    ["a wrong Gitsync-Signature-256", { "Gitsync-Signature-256": "sha256=" + hex(SECRET + "x", MAIN) }],
    ["a wrong X-Gitlab-Token", { "X-Gitlab-Token": SECRET.slice(0, -1) }],
    ["the secret and more", { "X-Gitlab-Token": SECRET + "x" }],
    ["a wrong bearer token", { Authorization: "Bearer nope" }],
    ["the secret as Basic credentials", { Authorization: `Basic ${SECRET}` }],
    ["the secret in a header we do not read", { "X-Sync-Token": SECRET }],
    // A valid token does not rescue a wrong signature: the signature is the one checked.
    ["a wrong signature next to a right token", { "X-Hub-Signature-256": "sha256=" + hex("other", MAIN), "X-Gitlab-Token": SECRET }],
  ])("%s -> 401, no wake, logged at v1 with the remote address", async (_name, headers) => {
    start();
    const before = pushRequestCount.get({ result: "unauthorized" });
    const r = await push(headers);
    expect(r.status).toBe(401);
    expect(t!.syncRequests()).toBe(0);
    expect(pushRequestCount.get({ result: "unauthorized" })).toBe(before + 1);
    const line = t!.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "refused a sync request");
    expect(line).toMatchObject({ level: 1, remote: "127.0.0.1" });
    expect(t!.logs.join("")).not.toContain(SECRET);
  });

  it("reads the secret file per request, so a rotated secret takes effect at once", async () => {
    const file = join(dir, "rotated");
    writeFileSync(file, "first");
    start({ httpSyncSecretFile: file });
    expect((await push({ "X-Gitlab-Token": "first" })).status).toBe(202);
    writeFileSync(file, "second");
    expect((await push({ "X-Gitlab-Token": "first" })).status).toBe(401);
    expect((await push({ Authorization: "Bearer second" })).status).toBe(202);
    expect(t!.syncRequests()).toBe(2);
  });

  it.each([
    ["missing", join(dir, "missing")],
    ["empty", join(dir, "empty")],
  ])("answers 500 and wakes nothing when the secret file is %s", async (_name, file) => {
    writeFileSync(join(dir, "empty"), "\n");
    start({ httpSyncSecretFile: file });
    // An empty secret must not match an empty token.
    const r = await push({ Authorization: "Bearer  " });
    expect(r.status).toBe(401);
    expect((await push({ "X-Gitlab-Token": "" })).status).toBe(500);
    expect(t!.syncRequests()).toBe(0);
  });

  it("refuses a body over MAX_BODY, by its length or while reading it", async () => {
    start();
    const big = new Uint8Array(MAX_BODY + 1);
    let r = await fetch(t!.base + "/sync", { method: "POST", headers: { Authorization: `Bearer ${SECRET}` }, body: big });
    expect(r.status).toBe(413);
    // Chunked: no length to check first.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i <= MAX_BODY >> 20; i++) c.enqueue(new Uint8Array(1 << 20));
        c.close();
      },
    });
    r = await fetch(t!.base + "/sync", { method: "POST", headers: { "X-Hub-Signature-256": "sha256=00" }, body: stream });
    expect(r.status).toBe(413);
    expect(t!.syncRequests()).toBe(0);
  });
});

describe("the pushed ref", () => {
  it.each<[string, string, string, boolean]>([
    // pushed, state.remoteRef, --ref, matches
    ["refs/heads/main", "refs/heads/main", "main", true],
    ["refs/heads/other", "refs/heads/main", "main", false],
    ["refs/tags/main", "refs/heads/main", "main", false],
    ["refs/heads/main", "refs/heads/main", "HEAD", true],
    ["refs/heads/dev", "refs/heads/main", "HEAD", false],
    ["refs/tags/v1", "refs/tags/v1^{}", "v1", true],
    // remoteRef unknown: git's DWIM of --ref.
    ["refs/heads/main", "", "main", true],
    ["refs/tags/main", "", "main", true],
    ["refs/main", "", "main", true],
    ["refs/heads/other", "", "main", false],
    ["refs/heads/xmain", "", "main", false],
    ["refs/heads/main", "", "refs/heads/main", true],
    ["refs/heads/main", "", "refs/tags/main", false],
    ["refs/heads/feature/x", "", "feature/x", true],
    ["refs/heads/anything", "", "HEAD", true],
    ["refs/heads/anything", "HEAD", "HEAD", true],
    ["refs/heads/main", "", "0123456789abcdef0123456789abcdef01234567", false],
    // semver: any tag push can change which tag is highest; branch pushes cannot.
    ["refs/tags/v1.3.0", "refs/tags/v1.2.0", "semver:^1", true],
    ["refs/tags/v1.3.0", "", "semver:^1", true],
    ["refs/heads/main", "refs/tags/v1.2.0", "semver:^1", false],
  ])("push to %s, remoteRef %p, --ref %s -> %p", (pushed, remoteRef, ref, want) => {
    expect(refMatches(pushed, remoteRef, ref)).toBe(want);
  });

  const bytes = (s: string) => new TextEncoder().encode(s);
  it.each<[string, string, string]>([
    ['{"ref":"refs/heads/main"}', "application/json", "refs/heads/main"],
    ["", "", ""],
    ["not json", "text/plain", ""],
    ["[1,2]", "application/json", ""],
    ["null", "application/json", ""],
    ['{"ref":42}', "application/json", ""],
    // git-sync's --webhook-payload carries its --ref as given.
    ['{"ref":"HEAD"}', "application/json", ""],
    [`payload=${encodeURIComponent('{"ref":"refs/tags/v1"}')}`, "application/x-www-form-urlencoded", "refs/tags/v1"],
  ])("body %p (%s) names %p", (body, type, want) => {
    expect(pushedRef(bytes(body), type)).toBe(want);
  });

  it("with remoteRef known: a push to it wakes, a push to another ref answers 200 and does not", async () => {
    start({ ref: "HEAD" });
    t!.state.remoteRef = "refs/heads/main";
    const ignored = await push(github(OTHER), OTHER);
    expect([ignored.status, ignored.body]).toEqual([200, "ignored: push to refs/heads/other, syncing refs/heads/main\n"]);
    expect(t!.syncRequests()).toBe(0);
    expect((await push(github(MAIN))).status).toBe(202);
    expect(t!.syncRequests()).toBe(1);
  });

  it("with remoteRef unknown: --ref main takes refs/heads/main only; --ref HEAD takes any push", async () => {
    start({ ref: "main" });
    const ignored = await push({ Authorization: `Bearer ${SECRET}` }, OTHER);
    expect([ignored.status, ignored.body]).toEqual([200, "ignored: push to refs/heads/other, syncing main\n"]);
    expect((await push({ Authorization: `Bearer ${SECRET}` }, MAIN)).status).toBe(202);
    expect(t!.syncRequests()).toBe(1);
    t!.stop();
    start({ ref: "HEAD" });
    expect((await push(github(OTHER), OTHER)).status).toBe(202);
    expect(t!.syncRequests()).toBe(1);
  });

  it("GitHub's form-encoded delivery is filtered too", async () => {
    start();
    const body = `payload=${encodeURIComponent(OTHER)}`;
    const r = await push({ ...github(body), "Content-Type": "application/x-www-form-urlencoded" }, body);
    expect(r.status).toBe(200);
    expect(t!.syncRequests()).toBe(0);
  });

  it("another git-sync's webhook (Gitsync-Hash) syncs whatever ref its payload names", async () => {
    start();
    t!.state.remoteRef = "refs/heads/main";
    const r = await push({ "Gitsync-Signature-256": "sha256=" + hex(SECRET, OTHER), "Gitsync-Hash": "b".repeat(40) }, OTHER);
    expect(r.status).toBe(202);
    expect(t!.syncRequests()).toBe(1);
  });
});

describe("events", () => {
  it.each<[string, Record<string, string>, string]>([
    ["GitHub ping", { "X-GitHub-Event": "ping" }, "pong\n"],
    ["GitHub issues", { "X-GitHub-Event": "issues" }, "ignored: not a push (X-GitHub-Event: issues)\n"],
    ["Gitea create", { "X-Gitea-Event": "create" }, "ignored: not a push (X-Gitea-Event: create)\n"],
    ["Forgejo release", { "X-Forgejo-Event": "release" }, "ignored: not a push (X-Forgejo-Event: release)\n"],
    ["GitLab merge request", { "X-Gitlab-Event": "Merge Request Hook" }, "ignored: not a push (X-Gitlab-Event: Merge Request Hook)\n"],
  ])("%s -> 200, no wake", async (_name, event, text) => {
    start();
    const before = pushRequestCount.get({ result: "ignored" });
    const r = await push({ ...event, Authorization: `Bearer ${SECRET}` });
    expect([r.status, r.body]).toEqual([200, text]);
    expect(t!.syncRequests()).toBe(0);
    expect(pushRequestCount.get({ result: "ignored" })).toBe(before + 1);
  });

  it("an unauthenticated ping is refused like anything else", async () => {
    start();
    expect((await push({ "X-GitHub-Event": "ping" })).status).toBe(401);
  });
});

describe("coalescing", () => {
  it("a burst of 10 pushes inside --http-sync-min-interval: one wake at once, one at the end of the interval", async () => {
    // The burst must land inside the interval. Whether it did, the answers say (the deferred wake
    // has not fired yet): a machine too busy to send ten loopback requests in 2s gets a longer
    // interval and another burst, instead of a failure that says nothing about coalescing.
    let interval = 2_000;
    let answers: string[] = [];
    let began = 0;
    for (let attempt = 1; ; attempt++) {
      t?.stop();
      start({ httpSyncMinInterval: interval });
      const accepted = pushRequestCount.get({ result: "accepted" });
      began = performance.now();
      answers = [];
      for (let i = 0; i < 10; i++) {
        const r = await push(github(MAIN));
        expect(r.status).toBe(202);
        answers.push(r.body);
      }
      expect(pushRequestCount.get({ result: "accepted" })).toBe(accepted + 10);
      if (t!.syncRequests() === 1 || attempt === 3) break;
      interval *= 4;
    }
    expect(answers[0]).toBe("sync requested\n");
    for (const a of answers.slice(1)) expect(a).toMatch(/^sync requested: joins the sync due in \d+ms\n$/);
    expect(t!.syncRequests()).toBe(1);
    await waitFor("the deferred wake", () => t!.syncRequests() >= 2, interval + 15_000);
    expect(performance.now() - began).toBeGreaterThanOrEqual(interval - 100);
    // A quarter interval more: no third wake.
    await Bun.sleep(interval / 4);
    expect(t!.syncRequests()).toBe(2);
  });

  it("pushes spaced wider than the interval each wake at once", async () => {
    start({ httpSyncMinInterval: 100 });
    for (let i = 1; i <= 3; i++) {
      expect((await push(github(MAIN))).body).toBe("sync requested\n");
      expect(t!.syncRequests()).toBe(i);
      await Bun.sleep(150);
    }
  });

  it("stop() cancels a pending deferred wake", async () => {
    start({ httpSyncMinInterval: 200 });
    await push(github(MAIN));
    await push(github(MAIN));
    t!.stop();
    const s = t!;
    t = undefined;
    await Bun.sleep(400);
    expect(s.syncRequests()).toBe(1);
  });

  // The coalescer against a hand-driven clock (ms), with real timers for the deferred wake.
  it("PushCoalescer: at once, deferred to the end of the interval, joined, then at once again", async () => {
    let now = 1_000;
    let wakes = 0;
    const c = new PushCoalescer(100, () => void wakes++, () => now);
    expect(c.request()).toBe(0);
    expect(wakes).toBe(1);
    now += 30;
    expect(c.request()).toBe(70);
    now += 40;
    expect(c.request()).toBe(30);
    expect(wakes).toBe(1);
    now += 30;
    await Bun.sleep(150);
    expect(wakes).toBe(2);
    // The deferred wake started a new interval.
    now += 50;
    expect(c.request()).toBe(50);
    c.stop();
    now += 500;
    expect(c.request()).toBe(0);
    expect(wakes).toBe(3);
  });

  it("PushCoalescer with interval 0 wakes on every request", () => {
    let wakes = 0;
    const c = new PushCoalescer(0, () => void wakes++, () => 5);
    for (let i = 0; i < 5; i++) expect(c.request()).toBe(0);
    expect(wakes).toBe(5);
  });
});

describe("the request budget", () => {
  it("RequestBudget: a burst, then one request per refill interval", () => {
    let now = 0;
    const b = new RequestBudget(3, 10, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.retryAfter()).toBe(1);
    now += 50;
    expect(b.take()).toBe(false);
    now += 50;
    expect([b.take(), b.take()]).toEqual([true, false]);
    now += 10_000;
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });

  it(`over ${BURST} authenticated requests in a burst: 429 with Retry-After, and a sync is still due`, async () => {
    // Every push names another ref, so none wakes the loop by itself: only the 429s can.
    start({ httpSyncMinInterval: 60_000 });
    t!.state.remoteRef = "refs/heads/main";
    const limited = pushRequestCount.get({ result: "rate_limited" });
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof push>> | undefined;
    for (let i = 0; i < BURST + 10; i++) {
      const r = await push(github(OTHER), OTHER);
      statuses.push(r.status);
      if (r.status === 429) refused ??= r;
    }
    // The budget refills at 10/s while the burst runs, so a few more than BURST may pass.
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(BURST);
    expect(passed).toBeLessThan(BURST + 10);
    expect(statuses.slice(0, BURST)).toEqual(Array(BURST).fill(200));
    expect(refused!.retryAfter).toBe("1");
    expect(refused!.body).toMatch(/^too many requests: retry in 1s; a sync is due in 0ms anyway\n$/);
    expect(t!.syncRequests()).toBe(1);
    expect(pushRequestCount.get({ result: "rate_limited" })).toBe(limited + BURST + 10 - passed);
  });

  it("unauthenticated requests do not use up the budget", async () => {
    start();
    for (let i = 0; i < BURST + 10; i++) expect((await push({ Authorization: "Bearer wrong" })).status).toBe(401);
    expect((await push(github(MAIN))).status).toBe(202);
    expect(t!.syncRequests()).toBe(1);
  });
});
