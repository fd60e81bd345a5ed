// Nudges between peers (src/peers/nudge.ts) over real HTTP on 127.0.0.1. The inbox: a signed nudge
// wakes the loop (202); an unsigned or wrongly signed one is refused (401), counted, and wakes
// nothing; a body too large or too slow is refused without being read in full; too many unread
// bodies at once get 503; a burst of valid ones is rate limited (429). The sender: at most
// NUDGE_CONCURRENCY at once, each cut off after NUDGE_TIMEOUT_MS, and a publish during a round
// makes one more round, for the newest hash only.
import { TOKEN_WINDOW_MS } from "../../src/serve/peer-token.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { createLogger } from "../../src/log/logger.ts";
import { MAX_NUDGE, NUDGE_CONCURRENCY, NUDGE_TIMEOUT_MS, NudgeInbox, Nudger, UNCHECKED_READS } from "../../src/peers/nudge.ts";
import { SIGNATURE_HEADER, signNudge } from "../../src/peers/proof.ts";
import { metered } from "../helpers/bodies.ts";
import { waitFor } from "../helpers/index.ts";

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const KEY = sha256("fleet-secret-for-nudge-tests");
const BODY = JSON.stringify({ event: "git-sync-peer", from: "127.0.0.1:8080", hash: "a".repeat(40), at: Date.now() });

type Count = `${"sent" | "received"} ${"ok" | "failed" | "refused"}`;

/** The deps of an inbox or a nudger: a logger into `lines`, the key, and counts by direction and result. */
function deps(key: () => string | Error = () => KEY) {
  const lines: string[] = [];
  const counts: Partial<Record<Count, number>> = {};
  return {
    lines,
    counts,
    deps: {
      log: createLogger({ verbosity: 9, errorFile: "", write: (l) => void lines.push(l) }),
      key,
      counted: (d: "sent" | "received", r: "ok" | "failed" | "refused") => void (counts[`${d} ${r}`] = (counts[`${d} ${r}`] ?? 0) + 1),
    },
  };
}

let servers: Array<{ stop: (force?: boolean) => unknown }> = [];
afterEach(() => {
  for (const s of servers) void s.stop(true);
  servers = [];
});

function serve(fetch: (req: Request) => Response | Promise<Response>): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch });
  servers.push(s);
  return `127.0.0.1:${s.port}`;
}

// ---- the inbox

/** An inbox behind a real server; `entered` counts requests handed to it. */
function inbox(key?: () => string | Error, self?: string) {
  const d = deps(key);
  let wakes = 0;
  let entered = 0;
  const box = new NudgeInbox(d.deps, () => void wakes++, () => self ?? "");
  const endpoint = serve((req) => {
    entered++;
    return box.handle(req, "127.0.0.9");
  });
  return { ...d, endpoint, wakes: () => wakes, entered: () => entered };
}

async function nudge(endpoint: string, headers: Record<string, string>, body: BodyInit = BODY): Promise<{ status: number; text: string; retryAfter: string | null }> {
  try {
    const res = await fetch(`http://${endpoint}/sync`, { method: "POST", headers, body, signal: AbortSignal.timeout(20_000) });
    return { status: res.status, text: await res.text(), retryAfter: res.headers.get("retry-after") };
  } catch (e) {
    // The server may hang up on a body it will not read.
    return { status: 0, text: (e as Error).message, retryAfter: null };
  }
}

/** A nudge body of its own (each nudge is taken once). */
let sent = 0;
const fresh = (to?: string) => JSON.stringify({ event: "git-sync-peer", from: "127.0.0.1:8080", ...(to ? { to } : {}), hash: "a".repeat(40), at: Date.now() + sent++ });
const signed = (body: string | Uint8Array = BODY, key = KEY) => ({ "Content-Type": "application/json", [SIGNATURE_HEADER]: signNudge(key, body) });

describe("NudgeInbox", () => {
  it("isNudge: a POST with the peer signature header, and nothing else", () => {
    const req = (method: string, headers: Record<string, string>) => new Request("http://x/sync", { method, headers });
    expect(NudgeInbox.isNudge(req("POST", { [SIGNATURE_HEADER]: "sha256=00" }))).toBe(true);
    expect(NudgeInbox.isNudge(req("POST", { [SIGNATURE_HEADER]: "" }))).toBe(true);
    expect(NudgeInbox.isNudge(req("POST", { "X-Hub-Signature-256": "sha256=00" }))).toBe(false);
    expect(NudgeInbox.isNudge(req("GET", { [SIGNATURE_HEADER]: "sha256=00" }))).toBe(false);
  });

  it("a signed nudge: 202, the loop woken once, counted received ok", async () => {
    const b = inbox();
    expect(await nudge(b.endpoint, signed())).toEqual({ status: 202, text: "syncing\n", retryAfter: null });
    expect(b.wakes()).toBe(1);
    expect(b.counts).toEqual({ "received ok": 1 });
  });

  it("a signed nudge that does not say when it was sent, or was sent outside the token window (a replay): 401, counted, no wake", async () => {
    const b = inbox();
    const old = JSON.stringify({ event: "git-sync-peer", from: "127.0.0.1:8080", hash: "a".repeat(40), at: Date.now() - TOKEN_WINDOW_MS - 60_000 });
    const untimed = JSON.stringify({ event: "git-sync-peer", from: "127.0.0.1:8080", hash: "a".repeat(40) });
    for (const body of ["not json", untimed, old]) expect((await nudge(b.endpoint, signed(body), body)).status).toBe(401);
    expect(b.wakes()).toBe(0);
    expect(b.counts).toEqual({ "received refused": 3 });
  });

  it.each<[string, Record<string, string>, string?]>([
    ["an empty signature", { [SIGNATURE_HEADER]: "" }],
    ["a garbled signature", { [SIGNATURE_HEADER]: "sha256=zzz" }],
    ["a signature made with another secret", signed(BODY, sha256("a guess"))],
    ["a signature made with the secret's text rather than the peers' key", signed(BODY, "fleet-secret-for-nudge-tests")],
    ["a good signature over another body", signed(BODY), BODY.replace('"a', '"b')],
    ["the signature in GitHub's header", { "X-Hub-Signature-256": signNudge(KEY, BODY), [SIGNATURE_HEADER]: "x" }],
  ])("%s: 401, counted refused, no wake", async (_name, headers, body = BODY) => {
    const b = inbox();
    const r = await nudge(b.endpoint, headers, body);
    expect(r.status).toBe(401);
    expect(b.wakes()).toBe(0);
    expect(b.counts).toEqual({ "received refused": 1 });
    expect(b.lines.join("")).toContain("refused a nudge");
  });

  it("no signature header at all: 401 from the inbox (the HTTP server hands such a POST to the push trigger instead)", async () => {
    const b = inbox();
    expect((await nudge(b.endpoint, {})).status).toBe(401);
    expect([b.wakes(), b.counts["received refused"]]).toEqual([0, 1]);
  });

  it("the secret can't be read: 503, nothing woken", async () => {
    const b = inbox(() => new Error("can't read --serve-git-secret-file"));
    const r = await nudge(b.endpoint, signed());
    expect(r.status).toBe(503);
    expect(b.wakes()).toBe(0);
  });

  it(`a body declared over ${MAX_NUDGE} bytes: refused (400) before it is read, counted, no wake`, async () => {
    const b = inbox();
    const big = "x".repeat(MAX_NUDGE + 1);
    const r = await nudge(b.endpoint, signed(big), big);
    expect(r.status === 400 || r.status === 0).toBe(true);
    expect(b.wakes()).toBe(0);
    expect(b.counts).toEqual({ "received refused": 1 });
  });

  it("an endless body: refused once past the cap, the rest never pulled", async () => {
    const b = inbox();
    const body = metered(1 << 30);
    const r = await nudge(b.endpoint, { [SIGNATURE_HEADER]: "sha256=00" }, body.stream);
    expect(r.status === 400 || r.status === 0).toBe(true);
    await waitFor("the refusal counted", () => b.counts["received refused"] === 1);
    expect(b.wakes()).toBe(0);
    // A few socket buffers past 4 KiB, not the GiB.
    expect(body.sent()).toBeLessThan(16 << 20);
  });

  it(`${UNCHECKED_READS} bodies that never end: the next nudge gets 503 at once; each slow one is refused after ${NUDGE_TIMEOUT_MS} ms; then nudges are taken again`, async () => {
    const b = inbox();
    const slow = () =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode("{"));
        },
        pull: () => new Promise<void>(() => {}),
      });
    const started = Date.now();
    const held = Array.from({ length: UNCHECKED_READS }, () => nudge(b.endpoint, signed(), slow()));
    await waitFor(`${UNCHECKED_READS} slow bodies being read`, () => b.entered() === UNCHECKED_READS);
    const busy = await nudge(b.endpoint, signed());
    expect(busy.status).toBe(503);
    expect(busy.retryAfter).toBe("1");
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.status)).toEqual(Array(UNCHECKED_READS).fill(400));
    expect(answers[0]!.text).toContain("not complete in time");
    expect(Date.now() - started).toBeGreaterThanOrEqual(NUDGE_TIMEOUT_MS - 100);
    expect(b.counts["received refused"]).toBe(UNCHECKED_READS);
    expect(b.wakes()).toBe(0);
    expect((await nudge(b.endpoint, signed())).status).toBe(202);
  }, 20_000);

  it("a nudge taken once is refused again (a replay), and one addressed to another peer is refused: 401, counted, no wake", async () => {
    const b = inbox(undefined, "10.0.0.5:8080");
    const mine = fresh("10.0.0.5:8080");
    expect((await nudge(b.endpoint, signed(mine), mine)).status).toBe(202);
    expect((await nudge(b.endpoint, signed(mine), mine)).status).toBe(401);
    const theirs = fresh("10.0.0.6:8080");
    expect((await nudge(b.endpoint, signed(theirs), theirs)).status).toBe(401);
    const unaddressed = fresh();
    expect((await nudge(b.endpoint, signed(unaddressed), unaddressed)).status).toBe(401);
    expect(b.wakes()).toBe(1);
    expect(b.counts).toEqual({ "received ok": 1, "received refused": 3 });
  });

  it("a burst of signed nudges: the first ones wake, then 429 with Retry-After, never more than one wake each", async () => {
    const b = inbox();
    const started = Date.now();
    const answers: Array<Awaited<ReturnType<typeof nudge>>> = [];
    for (let i = 0; i < 30; i++) {
      const body = fresh();
      answers.push(await nudge(b.endpoint, signed(body), body));
    }
    const statuses = answers.map((a) => a.status);
    const seconds = (Date.now() - started) / 1000;
    const taken = statuses.filter((s) => s === 202).length;
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(202));
    expect(statuses.filter((s) => s !== 202 && s !== 429)).toEqual([]);
    // A burst of 10, then 5 a second for the time the burst took.
    expect(taken).toBeLessThanOrEqual(10 + Math.ceil(seconds * 5));
    expect(statuses).toContain(429);
    expect(answers.find((a) => a.status === 429)!.retryAfter).toBe("1");
    expect(b.wakes()).toBe(taken);
    expect(b.counts["received ok"]).toBe(taken);
  });
});

// ---- the sender

/** A peer that holds every nudge until the test lets it go; records bodies and signatures. */
function holdingPeer() {
  const held: Array<() => void> = [];
  const got: Array<{ body: string; signature: string | null }> = [];
  let inFlight = 0;
  let most = 0;
  const endpoint = serve(async (req) => {
    got.push({ body: await req.text(), signature: req.headers.get(SIGNATURE_HEADER) });
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise<void>((resolve) => held.push(resolve));
    inFlight--;
    return new Response("syncing\n", { status: 202 });
  });
  return { endpoint, held, got, most: () => most, inFlight: () => inFlight };
}

describe("Nudger", () => {
  it("signs each nudge over its body, says who and what, and counts the 202s", async () => {
    const d = deps();
    const got: Array<{ body: string; signature: string | null; path: string }> = [];
    const endpoint = serve(async (req) => {
      got.push({ body: await req.text(), signature: req.headers.get(SIGNATURE_HEADER), path: new URL(req.url).pathname });
      return new Response(null, { status: 202 });
    });
    const n = new Nudger(d.deps);
    n.send([endpoint, endpoint], "10.0.0.1:8080", "c".repeat(40));
    await n.idle();
    expect(got).toHaveLength(2);
    for (const g of got) {
      expect(g.path).toBe("/sync");
      expect(JSON.parse(g.body)).toMatchObject({ event: "git-sync-peer", from: "10.0.0.1:8080", to: endpoint, hash: "c".repeat(40) });
      expect(Math.abs(Date.now() - (JSON.parse(g.body) as { at: number }).at)).toBeLessThan(60_000);
      expect(g.signature).toBe(signNudge(KEY, g.body));
    }
    expect(d.counts).toEqual({ "sent ok": 2 });
  });

  it("a peer that refuses or is not there: counted failed, not retried", async () => {
    const d = deps();
    let asked = 0;
    const refusing = serve(() => {
      asked++;
      return new Response("no\n", { status: 401 });
    });
    const gone = serve(() => new Response(null, { status: 202 }));
    for (const s of servers.splice(1)) await s.stop(true);
    const n = new Nudger(d.deps);
    n.send([refusing, gone], "", "d".repeat(40));
    await n.idle();
    expect(asked).toBe(1);
    expect(d.counts).toEqual({ "sent failed": 2 });
  });

  it("no key: nothing sent, the error logged", async () => {
    const d = deps(() => new Error("--serve-git-secret-file is empty"));
    let asked = 0;
    const endpoint = serve(() => (asked++, new Response(null, { status: 202 })));
    const n = new Nudger(d.deps);
    n.send([endpoint], "", "e".repeat(40));
    await n.idle();
    expect(asked).toBe(0);
    expect(d.lines.join("")).toContain("can't nudge the peers");
  });

  it(`20 peers that hold each nudge: never more than ${NUDGE_CONCURRENCY} at once, and all 20 nudged`, async () => {
    const d = deps();
    const peer = holdingPeer();
    const n = new Nudger(d.deps);
    const total = 20;
    n.send(Array(total).fill(peer.endpoint), "", "f".repeat(40));
    // Let one go each time the sender has all it may have in flight (or all that are left).
    for (let answered = 0; answered < total; answered++) {
      const want = Math.min(NUDGE_CONCURRENCY, total - answered);
      await waitFor(`${want} nudges held (answered ${answered})`, () => peer.held.length === want && peer.inFlight() === want, 15_000, 5);
      peer.held.shift()!();
    }
    await n.idle();
    expect(peer.got).toHaveLength(total);
    expect(peer.most()).toBe(NUDGE_CONCURRENCY);
    expect(d.counts).toEqual({ "sent ok": total });
  });

  it(`a peer that never answers is cut off after ${NUDGE_TIMEOUT_MS} ms, counted failed`, async () => {
    const d = deps();
    const endpoint = serve(() => new Promise<Response>(() => {}));
    const n = new Nudger(d.deps);
    const started = Date.now();
    n.send([endpoint], "", "1".repeat(40));
    await n.idle();
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(NUDGE_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(NUDGE_TIMEOUT_MS + 1_500);
    expect(d.counts).toEqual({ "sent failed": 1 });
  }, 10_000);

  it("publishes during a round make one more round, for the newest hash only", async () => {
    const d = deps();
    const peer = holdingPeer();
    const n = new Nudger(d.deps);
    const hashes = ["2", "3", "4", "5"].map((c) => c.repeat(40));
    n.send([peer.endpoint], "", hashes[0]!);
    await waitFor("the first round's nudge held", () => peer.held.length === 1);
    for (const h of hashes.slice(1)) n.send([peer.endpoint], "", h);
    peer.held.shift()!();
    await waitFor("the second round's nudge held", () => peer.held.length === 1);
    peer.held.shift()!();
    await n.idle();
    expect(peer.got.map((g) => (JSON.parse(g.body) as { hash: string }).hash)).toEqual([hashes[0]!, hashes[3]!]);
    expect(d.counts).toEqual({ "sent ok": 2 });
  });
});
