// A follower's question to its owner (src/peers/client.ts), asked of real small servers on
// 127.0.0.1 that play the owner: an honest one, and ones that answer without the proof, with a
// proof replayed from an earlier answer, made with another secret, over a bad age or for another
// repo, that refuse, are not there, send without end, or never answer. Each wrong one must cost
// the follower a PeerUnavailable with the reason the fleet acts on, promptly, never a listing.
import { afterEach, describe, expect, it } from "bun:test";
import { askPeer, findRef, PEER_TIMEOUT_MS, PeerQuery, PeerUnavailable, type PeerCredentials, type Unavailable } from "../../src/peers/client.ts";
import { AGE_HEADER, answerProof, challenge, KEY_HEADER, NONCE, NONCE_HEADER, PROOF_HEADER } from "../../src/peers/proof.ts";
import { keyDigest, ownershipKey } from "../../src/peers/rendezvous.ts";
import { pkt } from "../../src/repo/smart-http.ts";
import { checkPeerToken } from "../../src/serve/peer-token.ts";
import { metered } from "../helpers/bodies.ts";
import { freePort } from "../helpers/index.ts";

const MIB = 1 << 20;
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const SECRET = "fleet-secret-for-client-tests";
const KEY = sha256(SECRET);
const DIGEST = keyDigest(ownershipKey("https://git.example.com/org/repo.git", ["main"]));
const creds: PeerCredentials = { key: () => KEY, keyDigest: DIGEST, instance: "f".repeat(32) };
const MAIN = "a".repeat(40);
const TAG = "b".repeat(40);
const TAGGED = "c".repeat(40);
/** An owner's ls-refs answer: HEAD -> main, and an annotated tag. */
const LISTING = pkt(`${MAIN} HEAD symref-target:refs/heads/main\n`) + pkt(`${MAIN} refs/heads/main\n`) + pkt(`${TAG} refs/tags/v1.0.0 peeled:${TAGGED}\n`) + "0000";

interface Asked {
  headers: Headers;
  body: string;
}

let servers: Array<{ stop: (force?: boolean) => unknown }> = [];
afterEach(() => {
  for (const s of servers) void s.stop(true);
  servers = [];
});

/** A server on 127.0.0.1 answering every request with `answer`; returns its endpoint and the requests it got. */
function owner(answer: (req: Request, asked: Asked[]) => Response | Promise<Response>): { endpoint: string; asked: Asked[] } {
  const asked: Asked[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    development: false,
    async fetch(req) {
      const a = { headers: req.headers, body: await req.text() };
      asked.push(a);
      return await answer(req, asked);
    },
  });
  servers.push(server);
  return { endpoint: `127.0.0.1:${server.port}`, asked };
}

/** The headers an honest owner with `key` sends for `body` to the request's nonce. */
function proven(req: Request, body: string, o: { key?: string; age?: string; digest?: string; endpoint?: string; status?: number } = {}): Record<string, string> {
  const nonce = req.headers.get(NONCE_HEADER) ?? "";
  const age = o.age ?? "1500";
  const digest = o.digest ?? DIGEST;
  return { [AGE_HEADER]: age, [KEY_HEADER]: digest, [PROOF_HEADER]: answerProof(o.key ?? KEY, challenge(nonce, o.endpoint ?? new URL(req.url).host, o.status ?? 200), age, digest, body) };
}

const RESULT = "application/x-git-upload-pack-result";
const honest = (req: Request, o: Parameters<typeof proven>[2] = {}, status = 200, body = LISTING) => new Response(body, { status, headers: { "Content-Type": RESULT, ...proven(req, body, { status, ...o }) } });

/** askPeer's failure: its reason, message and how long it took. */
async function refusal(endpoint: string, deadline = Date.now() + 10_000): Promise<{ reason: Unavailable; message: string; ms: number }> {
  const start = Date.now();
  try {
    const a = await askPeer(endpoint, ["refs/heads/main"], creds, deadline);
    throw new Error(`askPeer answered: ${JSON.stringify({ ...a, listing: a.listing && [...a.listing.refs] })}`);
  } catch (e) {
    if (!(e instanceof PeerUnavailable)) throw e;
    return { reason: e.reason, message: e.message, ms: Date.now() - start };
  }
}

describe("askPeer: an honest owner", () => {
  it("its proven answer parses: the refs, their peeled commits, HEAD's target, the age", async () => {
    const o = owner((req) => honest(req));
    const before = Date.now();
    const a = await askPeer(o.endpoint, ["HEAD", "refs/heads/main"], creds, Date.now() + 10_000);
    expect(a.age).toBe(1500);
    expect(a.at).toBeGreaterThanOrEqual(before);
    expect(a.listing!.refs.get("refs/heads/main")).toEqual({ oid: MAIN });
    expect(a.listing!.refs.get("refs/tags/v1.0.0")).toEqual({ oid: TAG, peeled: TAGGED });
    expect(a.listing!.symrefs.get("HEAD")).toBe("refs/heads/main");
    // What the owner was asked: ls-refs for the prefixes, with a poll's token (never the secret) and a fresh nonce.
    const [q] = o.asked;
    const token = (q!.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    expect(token).not.toContain(SECRET);
    expect(checkPeerToken(KEY, token, o.endpoint)).toEqual({ objects: [] });
    expect(checkPeerToken(KEY, token, "127.0.0.9:1")).toBeNull();
    expect(checkPeerToken(sha256("another secret"), token, o.endpoint)).toBeNull();
    expect(q!.headers.get("git-protocol")).toBe("version=2");
    expect(NONCE.test(q!.headers.get(NONCE_HEADER) ?? "")).toBe(true);
    expect(q!.body).toContain("command=ls-refs");
    expect(q!.body).toContain("ref-prefix HEAD\n");
    expect(q!.body).toContain("ref-prefix refs/heads/main\n");
  });

  it("each question carries a new nonce", async () => {
    const o = owner((req) => honest(req));
    for (let i = 0; i < 3; i++) await askPeer(o.endpoint, ["HEAD"], creds, Date.now() + 10_000);
    expect(new Set(o.asked.map((q) => q.headers.get(NONCE_HEADER))).size).toBe(3);
  });

  it.each<[string, number, (req: Request) => Response]>([
    ["a young owner's age (;starting)", 20, (req) => honest(req, { age: "20;starting" })],
    ["a proven 503: nothing published yet", 1500, (req) => honest(req, {}, 503, "nothing published yet\n")],
  ])("%s: no listing, the age", async (_name, age, answer) => {
    const o = owner(answer);
    const a = await askPeer(o.endpoint, ["HEAD"], creds, Date.now() + 10_000);
    expect(a.listing).toBeNull();
    expect(a.age).toBe(age);
  });
});

describe("askPeer: owners that must not be followed", () => {
  /** Proof headers of an earlier answer, captured and replayed. */
  let captured: Record<string, string> = {};
  const rows: Array<[string, Unavailable, (req: Request, asked: Asked[]) => Response | Promise<Response>]> = [
    ["no proof at all (an impostor on the owner's address)", "unproven", () => new Response(LISTING, { headers: { "Content-Type": RESULT } })],
    ["the age and key but no proof", "unproven", (req) => new Response(LISTING, { headers: { ...proven(req, LISTING), [PROOF_HEADER]: "" } })],
    [
      "a proof replayed from an earlier answer (made for another nonce)",
      "unproven",
      (req, asked) => {
        // The first question is answered honestly and recorded; the second gets that answer again.
        if (asked.length === 1) {
          const r = honest(req);
          captured = Object.fromEntries(r.headers);
          return r;
        }
        return new Response(LISTING, { headers: captured });
      },
    ],
    ["a proof made with another secret", "unproven", (req) => honest(req, { key: sha256("a guess") })],
    ["a proof made with the secret instead of its digest", "unproven", (req) => honest(req, { key: SECRET })],
    ["a proof over another body (another commit swapped in)", "unproven", (req) => new Response(LISTING.replaceAll("a", "d"), { headers: proven(req, LISTING) })],
    ["an age that is not a number", "unproven", (req) => honest(req, { age: "soon" })],
    ["a negative age", "unproven", (req) => honest(req, { age: "-5" })],
    ["an age in exponent notation", "unproven", (req) => honest(req, { age: "1e3" })],
    ["an empty age", "unproven", (req) => honest(req, { age: "" })],
    ["an age of 16 digits", "unproven", (req) => honest(req, { age: "1".repeat(16) })],
    ["an age with a suffix other than ;starting", "unproven", (req) => honest(req, { age: "5;ready" })],
    ["a proof another replica made (the question relayed from the owner's address to it)", "unproven", (req) => honest(req, { endpoint: "127.0.0.9:8080" })],
    ["a proof for a 200 on a 503 (a ref list passed off as nothing published)", "unproven", (req) => new Response("nothing published yet\n", { status: 503, headers: proven(req, "nothing published yet\n", { status: 200 }) })],
    ["this replica itself, under another address", "self", (req) => new Response(LISTING, { headers: { ...proven(req, LISTING), "GitSync-Peer-Instance": "f".repeat(32) } })],
    ["a proven answer for another repo or refs", "other-key", (req) => honest(req, { digest: keyDigest(ownershipKey("https://git.example.com/org/other.git", ["main"])) })],
    ["a proven answer without a key", "other-key", (req) => honest(req, { digest: "" })],
    ["401: our secret is refused", "refused", () => new Response("authentication required\n", { status: 401 })],
    ["500", "unreachable", (req) => honest(req, {}, 500)],
    ["a redirect (not followed)", "unreachable", () => new Response(null, { status: 302, headers: { Location: "http://127.0.0.1:1/git" } })],
    ["a proven body that is not pkt-lines", "unreachable", (req) => honest(req, {}, 200, "<html>hello</html>")],
  ];

  it.each(rows)("%s: PeerUnavailable %s", async (name, reason, answer) => {
    const o = owner(answer);
    if (name.startsWith("a proof replayed")) {
      // The first answer is honest: the follower takes it.
      expect((await askPeer(o.endpoint, ["refs/heads/main"], creds, Date.now() + 10_000)).listing).not.toBeNull();
      expect(captured[PROOF_HEADER.toLowerCase()]).toMatch(/^sha256=/);
    }
    const r = await refusal(o.endpoint);
    expect(r.reason).toBe(reason);
    expect(r.ms).toBeLessThan(2_000);
  });

  it("nothing listening (connection refused): unreachable, at once", async () => {
    const r = await refusal(`127.0.0.1:${freePort()}`);
    expect(r.reason).toBe("unreachable");
    expect(r.ms).toBeLessThan(2_000);
  });

  it("an answer over 1 MiB sent without end: unreachable once past the cap; the rest is never pulled and memory stays put", async () => {
    const sent: Array<() => number> = [];
    const o = owner(() => {
      const body = metered(1 << 30);
      sent.push(body.sent);
      return new Response(body.stream, { headers: { "Content-Type": RESULT } });
    });
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 5; i++) {
      const r = await refusal(o.endpoint);
      expect(r.reason).toBe("unreachable");
      expect(r.message).toContain("over 1 MiB");
    }
    Bun.gc(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MIB);
    // Each answer stopped a few socket buffers past the cap, far short of its GiB.
    for (const s of sent) expect(s()).toBeLessThan(32 * MIB);
  });

  it("an answer that declares over 1 MiB: unreachable before a byte is read", async () => {
    const o = owner((req) => honest(req, {}, 200, LISTING.padEnd(MIB + 1, "0")));
    const r = await refusal(o.endpoint);
    expect(r.reason).toBe("unreachable");
    expect(r.message).toContain("over 1 MiB");
  });

  it("an owner that never answers: unreachable at the attempt's deadline", async () => {
    const o = owner(() => new Promise<Response>(() => {}));
    const r = await refusal(o.endpoint, Date.now() + 300);
    expect(r.reason).toBe("unreachable");
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(2_000);
  });

  it(`an owner that never answers, with a far deadline: unreachable after ${PEER_TIMEOUT_MS} ms`, async () => {
    const o = owner(() => new Promise<Response>(() => {}));
    const r = await refusal(o.endpoint, Date.now() + 60_000);
    expect(r.reason).toBe("unreachable");
    expect(r.ms).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS - 100);
    expect(r.ms).toBeLessThan(PEER_TIMEOUT_MS + 2_000);
  }, 15_000);

  it("an owner that sends its headers, then stalls the body: unreachable at the deadline", async () => {
    const o = owner(
      (req) =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new TextEncoder().encode(LISTING.slice(0, 10)));
            },
            pull: () => new Promise<void>(() => {}),
          }),
          { headers: { "Content-Type": RESULT, ...proven(req, LISTING) } },
        ),
    );
    const r = await refusal(o.endpoint, Date.now() + 500);
    expect(r.reason).toBe("unreachable");
    expect(r.ms).toBeLessThan(3_000);
  });
});

describe("PeerQuery: what the sync asks", () => {
  /** A query of `endpoint` for --ref `ref`; `behind` says an answer would take this replica back. */
  function query(endpoint: string, ref = "main", o: { staleAfter?: number; behind?: boolean } = {}) {
    let polls = 0;
    const q = new PeerQuery(
      ref,
      creds,
      () => ({ endpoint, staleAfter: o.staleAfter ?? 60_000 }),
      () => polls++,
      () => o.behind ?? false,
    );
    return { q, polls: () => polls };
  }

  it("resolve: the ref the proven answer names, as a fetch by id", async () => {
    const o = owner((req) => honest(req));
    const { q, polls } = query(o.endpoint);
    expect(q.fetchByOid).toBe(true);
    expect(await q.resolve(Date.now() + 10_000)).toEqual({ name: "refs/heads/main", oid: MAIN, hash: MAIN });
    expect(q.last?.age).toBe(1500);
    expect(polls()).toBe(1);
  });

  it("a probe's answer serves the attempt's question: one request", async () => {
    const o = owner((req) => honest(req));
    const { q, polls } = query(o.endpoint);
    await q.probe(["main"], Date.now() + 10_000);
    await q.resolve(Date.now() + 10_000);
    expect([polls(), o.asked.length]).toEqual([1, 1]);
  });

  it.each<[string, Unavailable, string, Parameters<typeof query>[2], (req: Request) => Response]>([
    ["content older than the bound", "stale", "main", { staleAfter: 1000 }, (req) => honest(req, { age: "1001" })],
    ["nothing published yet", "not-ready", "main", {}, (req) => honest(req, { age: "0;starting" })],
    ["a ref it does not serve", "missing-ref", "dev", {}, (req) => honest(req)],
    ["a hash it does not serve", "missing-ref", "e".repeat(40), {}, (req) => honest(req)],
    ["an answer that would take this replica back", "not-ready", "main", { behind: true }, (req) => honest(req)],
    ["an unproven answer", "unproven", "main", {}, () => new Response(LISTING)],
  ])("%s: PeerUnavailable %s", async (_name, reason, ref, o, answer) => {
    const srv = owner(answer);
    const { q } = query(srv.endpoint, ref, o);
    const e = await q.resolve(Date.now() + 10_000).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PeerUnavailable);
    expect((e as PeerUnavailable).reason).toBe(reason);
    expect(q.last).toBeNull();
  });
});

describe("findRef", () => {
  const listing = { refs: new Map([["refs/heads/main", { oid: MAIN }], ["refs/tags/v1.0.0", { oid: TAG, peeled: TAGGED }], ["refs/tags/v1.2.0", { oid: MAIN }]]), symrefs: new Map([["HEAD", "refs/heads/main"]]) };
  it.each<[string, ReturnType<typeof findRef>]>([
    ["main", { name: "refs/heads/main", oid: MAIN, hash: MAIN }],
    ["v1.0.0", { name: "refs/tags/v1.0.0", oid: TAG, hash: TAGGED }],
    ["semver:^1.0", { name: "refs/tags/v1.2.0", oid: MAIN, hash: MAIN }],
    ["semver:^2", null],
    [TAGGED, { name: TAGGED, oid: TAGGED, hash: TAGGED }],
    ["f".repeat(40), null],
    ["dev", null],
  ])("%s", (ref, want) => {
    expect(findRef(ref, listing)).toEqual(want);
  });
});
