// --peers (issue 23) attacked from outside: the compiled binary on loopback addresses. A follower
// runs on 127.0.0.2:PORT with --peers=localhost, so its DNS answer is 127.0.0.1 alone; whatever
// listens on 127.0.0.1:PORT (the same port, as a Deployment's replicas share one) is its owner:
// an impostor, or a real git-sync. Each repo is named so that the ownership key ranks 127.0.0.1
// above 127.0.0.2 (rendezvous.ts), which the follower's first "peers: owner" line confirms.
// (The owner's own answer is 127.0.0.1 alone: it does not know the follower, and never nudges.)
// What must hold, attacker by attacker:
//   a host on the owner's address without the secret (no proof, a proof made with a guess, a real
//     owner's answer replayed): the follower never fetches from it, never publishes its commit,
//     logs it "unproven", and syncs from the git host;
//   a neighbour without the secret: its nudges get 401, are counted (peers.refused, metrics) and
//     start no attempt; its requests to /git get 401 and are counted; floods of oversized and
//     slow nudges leave memory and /status as they were;
//   anyone reading the output of a fleet: the secret appears nowhere (logs at -v=9, /status,
//     /metrics, `git-sync status`, the error file, argv of git, every file under root);
//   an owner's address that asks git for credentials: it gets none of the host's.
// Each test was checked to fail with its defence taken out (the proof check, the /git refusal
// count, the inbox's signature check, size cap and unread-bodies limit, the secret kept out of
// argv, the resets of extra headers and credential helpers for the peer's URL).
// Found by these tests: a header the user set for the host with --git-config http.extraHeader
// also went to the owner's address (fixed in src/peers/index.ts); the secret itself went to the
// owner's address with every question, so an impostor there could prove itself (now a token).
import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGE_HEADER, answerProof, challenge, KEY_HEADER, NONCE_HEADER, PROOF_HEADER, SIGNATURE_HEADER, signNudge } from "../../src/peers/proof.ts";
import { keyDigest, ownershipKey, rank } from "../../src/peers/rendezvous.ts";
import type { StatusDocument } from "../../src/http/status.ts";
import { pkt } from "../../src/repo/smart-http.ts";
import { checkPeerToken, peerToken } from "../../src/serve/peer-token.ts";
import { metered } from "../helpers/bodies.ts";
import { memMiB, pool, tally } from "../helpers/load.ts";
import { commit, freePort, git, gitEnv, gitOk, head, linkHash, makeRepo, metricValue, readOr, type Running, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { makeBareRepo, pushCommit, startGitHTTP } from "../servers/index.ts";
import { runHttpBackend } from "../servers/git-http.ts";

const OWNER = "127.0.0.1";
const FOLLOWER = "127.0.0.2";
const MIB = 1 << 20;
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

// ---- the fleet

/** The first of `candidate(0)`, `candidate(1)`, ... whose key (the repo and --ref=main) ranks the owner's address first. */
function ownedByOwner(candidate: (i: number) => string): string {
  for (let i = 0; ; i++) {
    const repo = candidate(i);
    if (rank(ownershipKey(repo, ["main"]), [OWNER, FOLLOWER])[0] === OWNER) return repo;
  }
}

/** A local repo in the scenario's dir that the owner's address owns (the scenario's own when it does). */
function localRepoOwned(t: Scenario): string {
  const repo = ownedByOwner((i) => (i === 0 ? t.repo : join(t.dir, `repo-${i}`)));
  if (repo !== t.repo) makeRepo(repo);
  return repo;
}

interface Replica {
  gs: Running;
  address: string;
  port: number;
  root: string;
  link: string;
  base: string;
}

/**
 * A git-sync of `repo` (--ref=main) on address:port in the fleet `peers`, serving /git with the
 * secret in `secretFile`, with `extra` flags (defaults: --period=300ms, -v=2, metrics on).
 */
function replica(t: Scenario, o: { name: string; address: string; port: number; repo: string; secretFile: string; peers?: string; extra?: string[] }): Replica {
  const root = join(t.dir, o.name);
  const extra = o.extra ?? [];
  const defaults = ["--period=300ms", "-v=2"].filter((d) => !extra.some((a) => a.startsWith(d.slice(0, d.indexOf("=") + 1))));
  const gs = t.spawn([
    `--repo=${o.repo}`,
    "--ref=main",
    `--root=${root}`,
    "--link=link",
    `--http-bind=${o.address}:${o.port}`,
    `--peers=${o.peers ?? "localhost"}`,
    "--serve-git",
    `--serve-git-secret-file=${o.secretFile}`,
    "--http-metrics",
    ...defaults,
    ...extra,
  ]);
  return { gs, address: o.address, port: o.port, root, link: join(root, "link"), base: `http://${o.address}:${o.port}` };
}

function secretFile(t: Scenario, secret: string): string {
  const f = join(t.dir, "peers-secret");
  writeFileSync(f, secret + "\n");
  return f;
}

/** /status of a replica of a fleet: `peers` is there. */
type Status = StatusDocument & { peers: NonNullable<StatusDocument["peers"]> };

async function status(r: Replica): Promise<Status> {
  const res = await fetch(`${r.base}/status`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Status;
}

async function metrics(r: Replica): Promise<string> {
  return await (await fetch(`${r.base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
}

/** The hash the replica's link points at, "" before it has one. */
const linked = (r: Replica) => linkHash(r.link);

/** Wait until the replica's link serves `hash`; fail at once when it exits or publishes one of `never`. */
async function published(r: Replica, hash: string, never: string[] = [], timeoutMs = 30_000): Promise<void> {
  let bad = "";
  await waitFor(
    `${r.address} publishing ${hash.slice(0, 8)}`,
    () => {
      const h = linked(r);
      if (never.includes(h)) bad = h;
      return bad !== "" || r.gs.done || h === hash;
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; exited: ${r.gs.done} (${r.gs.code}); last lines:\n${(r.gs.stderr + r.gs.stdout).split("\n").slice(-15).join("\n")}`);
  });
  if (bad !== "") throw new Error(`${r.address} published ${bad}, which it must never publish`);
  if (linked(r) !== hash) throw new Error(`git-sync exited (${r.gs.code}):\n${r.gs.stderr}`);
}

/** The follower's first "peers: owner" line names the owner's address: the ranking these tests rely on holds. */
function expectFollowing(f: Replica, port: number): void {
  const first = f.gs.logs().find((l) => l.msg === "peers: owner");
  expect(first).toMatchObject({ owner: `${OWNER}:${port}`, role: "follower" });
}

/** The "peer unavailable" lines the replica logged, by reason. */
const unavailable = (r: Replica, reason: string) => r.gs.logs().filter((l) => l.msg === "peer unavailable, passing it over" && l.reason === reason);

// ---- an impostor on the owner's address

interface Request_ {
  method: string;
  path: string;
  /** "ls-refs", "fetch" (a pack asked for), "advertise" or "other". */
  command: string;
  authorization: string | null;
}

interface Impostor {
  requests: Request_[];
  stop(): void;
}

/**
 * A server on OWNER:port that is not git-sync: `git http-backend` over the bare repos in
 * `projectRoot` (so /git is the repo projectRoot/git), answering ls-refs through `lsRefs`.
 */
function startImpostor(port: number, projectRoot: string, lsRefs: (req: Request, body: Uint8Array, backend: () => Promise<Response>) => Promise<Response>, fetch?: () => Promise<Response> | Response): Impostor {
  const requests: Request_[] = [];
  const server = Bun.serve({
    hostname: OWNER,
    port,
    development: false,
    async fetch(req) {
      const url = new URL(req.url);
      const body = new Uint8Array(await req.arrayBuffer());
      const text = new TextDecoder().decode(body);
      const command = text.includes("command=ls-refs") ? "ls-refs" : text.includes("want ") ? "fetch" : url.pathname.endsWith("/info/refs") ? "advertise" : "other";
      requests.push({ method: req.method, path: url.pathname, command, authorization: req.headers.get("authorization") });
      const backend = async () => {
        const a = await runHttpBackend(req, body, { projectRoot });
        return new Response(a.body, { status: a.status, headers: a.headers });
      };
      if (!url.pathname.startsWith("/git/")) return new Response("not found\n", { status: 404 });
      if (command === "ls-refs") return await lsRefs(req, body, backend);
      return command === "fetch" && fetch ? await fetch() : await backend();
    },
  });
  return { requests, stop: () => void server.stop(true) };
}

/** The answer `r` with the proof headers an owner holding `key` (a secret's SHA-256) would add. */
async function provenWith(req: Request, r: Response, key: string, digest: string): Promise<Response> {
  const body = new Uint8Array(await r.arrayBuffer());
  const nonce = req.headers.get(NONCE_HEADER) ?? "";
  const age = "100";
  const headers = new Headers(r.headers);
  headers.set(AGE_HEADER, age);
  headers.set(KEY_HEADER, digest);
  headers.set(PROOF_HEADER, answerProof(key, challenge(nonce, new URL(req.url).host, r.status), age, digest, body));
  return new Response(body, { status: r.status, headers });
}

/** The test's own servers, stopped when it ends (`using servers = stopping()`). */
interface Servers {
  add(stop: () => void): void;
  [Symbol.dispose](): void;
}
function stopping(): Servers {
  const stops: Array<() => void> = [];
  return {
    add: (stop) => void stops.push(stop),
    [Symbol.dispose]: () => {
      for (const stop of stops) stop();
    },
  };
}

/**
 * The impostor scenario: a commit of another repo answered on the owner's address by `lsRefs`,
 * a follower with the secret on 127.0.0.2 syncing the scenario's repo. Returns once the follower
 * has published the host's commit and a second one pushed after it, checking all along that it
 * never publishes the impostor's.
 */
async function impostorScenario(t: Scenario, servers: Servers, lsRefs: (o: { req: Request; backend: () => Promise<Response>; digest: string }) => Promise<Response>, prepare?: (repo: string, evilRoot: string) => Promise<void>) {
  const repo = localRepoOwned(t);
  const digest = keyDigest(ownershipKey(repo, ["main"]));
  const evilRoot = join(t.dir, "evil");
  if (prepare) await prepare(repo, evilRoot);
  else makeBareRepo(evilRoot, "git", "file", "the impostor's tree\n");
  const evil = git(join(evilRoot, "git"), "rev-parse", "main");
  const port = freePort();
  const impostor = startImpostor(port, evilRoot, (req, _body, backend) => lsRefs({ req, backend, digest }));
  servers.add(impostor.stop);
  const secret = `peers-${randomBytes(12).toString("hex")}`;
  const f = replica(t, { name: "follower", address: FOLLOWER, port, repo, secretFile: secretFile(t, secret) });

  await published(f, head(repo), [evil]);
  expectFollowing(f, port);
  // Asked twice in the first attempt (for a first sync, then as the owner), refused both times.
  await waitFor("the impostor passed over as unproven, twice", () => unavailable(f, "unproven").length >= 2);
  // The next commit, too, comes from the host, never from the impostor.
  const next = commit(repo, "file", "the host's next commit\n");
  await published(f, next, [evil]);

  // It was asked for a listing, never for a pack, and none of its objects reached the follower.
  expect(impostor.requests.length).toBeGreaterThanOrEqual(2);
  expect(impostor.requests.filter((r) => r.command !== "ls-refs")).toEqual([]);
  expect(gitOk(f.root, "cat-file", "-e", `${evil}^{commit}`)).toBe(false);
  const s = await waitFor("/status reporting the host's next commit", async () => {
    const doc = await status(f);
    return doc.hash === next && doc;
  });
  expect(s.peers.hostRequests).toBeGreaterThan(0);
  return { f, impostor, secret, evil };
}

test.concurrent("an impostor on the owner's address answering another commit without a proof: the follower never fetches from it, logs it unproven, and publishes the host's commits", async () => {
  await using t = await scenario();
  using servers = stopping();
  await impostorScenario(t, servers, async ({ backend }) => await backend());
});

test.concurrent("an impostor on the owner's address proving its answer with a guessed secret (right age and key): refused the same way", async () => {
  await using t = await scenario();
  using servers = stopping();
  await impostorScenario(t, servers, async ({ req, backend, digest }) => await provenWith(req, await backend(), sha256("a guess"), digest));
});

test.concurrent("an impostor replaying a real owner's earlier answer and its proof (made for another nonce), to roll the follower back to that commit: refused the same way", async () => {
  await using t = await scenario();
  using servers = stopping();
  let captured: { body: Uint8Array; headers: Headers } | null = null;
  let old = "";
  await impostorScenario(
    t,
    servers,
    async () => new Response(captured!.body as Uint8Array<ArrayBuffer>, { status: 200, headers: captured!.headers }),
    async (repo, evilRoot) => {
      // A real owner serves the repo's commit; its answer to a follower's question is recorded.
      const port = freePort();
      const secret = `peers-${randomBytes(12).toString("hex")}`;
      const o = replica(t, { name: "owner", address: OWNER, port, repo, secretFile: secretFile(t, secret) });
      old = head(repo);
      await published(o, old);
      await waitFor("the owner's mirror serving it", async () => (await status(o)).hash === old);
      const nonce = randomBytes(16).toString("hex");
      const question = pkt("command=ls-refs\n") + "0001" + pkt("peel\n") + pkt("symrefs\n") + pkt("ref-prefix refs/heads/main\n") + "0000";
      const res = await fetch(`${o.base}/git/git-upload-pack`, { method: "POST", headers: { "Git-Protocol": "version=2", "Content-Type": "application/x-git-upload-pack-request", Authorization: `Bearer ${secret}`, [NONCE_HEADER]: nonce }, body: question });
      expect(res.status).toBe(200);
      captured = { body: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
      expect(new TextDecoder().decode(captured.body)).toContain(`${old} refs/heads/main`);
      expect(res.headers.get(PROOF_HEADER)).toMatch(/^sha256=/);
      await o.gs.stop();
      // The impostor can hand out the old commit's objects; the host moves on.
      git(t.dir, "clone", "-q", "--bare", repo, join(evilRoot, "git"));
      commit(repo, "file", "the host moved on\n");
    },
  );
  expect(old).not.toBe("");
});

// The follower's question carries a token made from the secret's digest (serve/peer-token.ts),
// never the secret: an impostor that takes the token for the secret proves nothing with it.
// (Found by this test while the question still carried the secret itself.)
test("an impostor on the owner's address that proves its answer with what the follower's own question carried: refused the same way", async () => {
  await using t = await scenario();
  using servers = stopping();
  await impostorScenario(t, servers, async ({ req, backend, digest }) => {
    const given = (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    return await provenWith(req, await backend(), sha256(given), digest);
  });
}, 60_000);

// ---- an owner whose fetch fails (its node dies mid-fetch, a broken proxy, a peer gone bad)

// An owner that proves its answers (it holds the secret) and then fails the fetch: git's error is
// the peer's fault, never the content's. The follower passes it over and takes the commit from
// the host in the same attempt, refuses nothing (a later poll of the host would refuse it too),
// and keeps running under the default --max-failures=0. (Found by review: a stalled fetch ran to
// the attempt's deadline and ended the process, and a broken pack was remembered as a bad tree.)
for (const [mode, fail] of [
  ["answers the fetch with HTTP 500", () => new Response("boom\n", { status: 500 })],
  ["answers the fetch with bytes that are no pack", () => new Response("0008NAK\n0011garbage-here\n0000", { headers: { "Content-Type": "application/x-git-upload-pack-result" } })],
  ["stalls the fetch (sends nothing)", () => new Promise<Response>(() => {})],
] as const) {
  test.concurrent(`an owner that ${mode}: the follower takes the commit from the host in the same attempt, refuses nothing, keeps running`, async () => {
    await using t = await scenario();
    using servers = stopping();
    const repo = localRepoOwned(t);
    const digest = keyDigest(ownershipKey(repo, ["main"]));
    const secret = `peers-${randomBytes(12).toString("hex")}`;
    // What the owner lists is the host's own refs, proven.
    const mirror = join(t.dir, "owner");
    git(t.dir, "clone", "-q", "--bare", repo, join(mirror, "git"));
    const port = freePort();
    const owner = startImpostor(port, mirror, async (req, _body, backend) => await provenWith(req, await backend(), sha256(secret), digest), fail);
    servers.add(owner.stop);
    const fetches = () => owner.requests.filter((r) => r.command === "fetch");
    const f = replica(t, { name: "follower", address: FOLLOWER, port, repo, secretFile: secretFile(t, secret), extra: ["--sync-timeout=8s"] });
    await published(f, head(repo));
    expect(fetches().length).toBeGreaterThan(0);
    expect(unavailable(f, "fetch-failed").length).toBeGreaterThan(0);
    const s = await status(f);
    expect(s.verify).toBeNull();
    expect(s.peers.hostRequests).toBeGreaterThan(0);
    // The next commit too (the owner lists it, and fails its fetch again), and the process is still there.
    const next = commit(repo, "file", "the host's next commit\n");
    git(join(mirror, "git"), "fetch", "-q", repo, "+main:main");
    await published(f, next);
    expect(f.gs.done).toBe(false);
  }, 60_000);
}

// ---- a neighbour without the secret

/** POST /sync on the replica with `headers` and `body`; the status, or "closed" when it hung up, "slow" past 30 s. */
async function postSync(r: Replica, headers: Record<string, string>, body: BodyInit = "{}"): Promise<number | "closed" | "slow"> {
  try {
    const res = await fetch(`${r.base}/sync`, { method: "POST", headers, body, signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    return (e as Error).name === "TimeoutError" ? "slow" : "closed";
  }
}

const NUDGE = (hash: string, to = "") => JSON.stringify({ event: "git-sync-peer", from: `${OWNER}:1`, to, hash, at: Date.now() });
const REFUSED_NUDGES = 'git_sync_peers_nudges_total{direction="received",result="refused"}';

test.concurrent("a neighbour without the secret: its nudges get 401, are counted, and start no attempt; its /git requests get 401 and are counted; a signed nudge does start one", async () => {
  await using t = await scenario();
  const repo = localRepoOwned(t);
  const port = freePort();
  const secret = `peers-${randomBytes(12).toString("hex")}`;
  const file = secretFile(t, secret);
  // Long periods: from its first sync on, only a nudge makes the follower sync again.
  const o = replica(t, { name: "owner", address: OWNER, port, repo, secretFile: file, extra: ["--period=1h"] });
  await published(o, head(repo));
  const f = replica(t, { name: "follower", address: FOLLOWER, port, repo, secretFile: file, extra: ["--period=1h"] });
  await published(f, head(repo));
  expectFollowing(f, port);
  const before = await waitFor("the follower's first sync in /status", async () => {
    const s = await status(f);
    return s.syncCount === 1 && s;
  });
  expect(before.peers).toMatchObject({ source: "peer", hostRequests: 0, refused: 0 });

  // Nudges as a neighbour can make them: about a commit the owner never had.
  const body = NUDGE("f".repeat(40));
  const wrong: Array<Record<string, string>> = [
    { [SIGNATURE_HEADER]: "" },
    { [SIGNATURE_HEADER]: "sha256=" + "0".repeat(64) },
    { [SIGNATURE_HEADER]: signNudge(sha256("a guess"), body) },
    { [SIGNATURE_HEADER]: signNudge(sha256(secret), "{}") },
    { [SIGNATURE_HEADER]: "sha256=zz", Authorization: "Bearer a-guess" },
  ];
  for (const h of wrong) expect(await postSync(f, { "Content-Type": "application/json", ...h }, body)).toBe(401);
  // Without the peers' header it is no nudge: the push trigger's, off without --http-sync-secret-file.
  expect(await postSync(f, { "Content-Type": "application/json", "X-Hub-Signature-256": signNudge(sha256(secret), body) }, body)).toBe(403);

  const afterNudges = await status(f);
  expect(afterNudges.peers.refused).toBe(wrong.length);
  expect([afterNudges.lastAttempt, afterNudges.syncCount, afterNudges.peers.peerRequests, afterNudges.peers.nudgesReceived]).toEqual([before.lastAttempt, before.syncCount, before.peers.peerRequests, 0]);
  expect(metricValue(await metrics(f), REFUSED_NUDGES)).toBe(wrong.length);

  // /git without the secret: raw requests and a real git client.
  const asGit = { "Git-Protocol": "version=2", "Content-Type": "application/x-git-upload-pack-request" };
  const lsRefs = pkt("command=ls-refs\n") + "0001" + pkt("peel\n") + "0000";
  const gitRequests: Array<[string, RequestInit]> = [
    ["/git/info/refs?service=git-upload-pack", {}],
    ["/git/info/refs?service=git-upload-pack", { headers: { Authorization: `Basic ${Buffer.from(`x:${secret.slice(0, -1)}`).toString("base64")}` } }],
    ["/git/git-upload-pack", { method: "POST", headers: { ...asGit, Authorization: "Bearer a-guess", [NONCE_HEADER]: "0".repeat(32) }, body: lsRefs }],
  ];
  for (const [path, init] of gitRequests) {
    const res = await fetch(`${f.base}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(401);
    // No proof is made for a request that did not authenticate.
    expect(res.headers.get(PROOF_HEADER)).toBeNull();
    await res.arrayBuffer();
  }
  expect((await status(f)).peers.refused).toBe(wrong.length + gitRequests.length);
  const ls = Bun.spawnSync(["git", "ls-remote", `${f.base}/git`], { env: gitEnv({ GIT_TERMINAL_PROMPT: "0" }), stdout: "pipe", stderr: "pipe" });
  expect(ls.exitCode).not.toBe(0);
  expect(ls.stdout.toString()).not.toContain(head(repo));
  const afterGit = await status(f);
  expect(afterGit.peers.refused).toBeGreaterThan(wrong.length + gitRequests.length);
  expect([afterGit.lastAttempt, afterGit.syncCount]).toEqual([before.lastAttempt, before.syncCount]);

  // The control: the owner syncs a new commit (nudged by the test, which holds the secret), and a
  // nudge signed with the secret makes the follower take it from the owner at once.
  const next = commit(repo, "file", "next\n");
  const signed = (r: Replica, to: string) => {
    const body = NUDGE(next, to);
    return postSync(r, { "Content-Type": "application/json", [SIGNATURE_HEADER]: signNudge(sha256(secret), body) }, body);
  };
  expect(await signed(o, `${OWNER}:${port}`)).toBe(202);
  // Its mirror serves the new commit once /status reports it (as when it nudges its peers itself).
  await waitFor("the owner serving the new commit", async () => (await status(o)).hash === next);
  expect(await signed(f, `${FOLLOWER}:${port}`)).toBe(202);
  await published(f, next);
  const after = await waitFor("the follower's second sync in /status", async () => {
    const s = await status(f);
    return s.syncCount === 2 && s;
  });
  expect(after.peers).toMatchObject({ source: "peer", hostRequests: 0, nudgesReceived: 1 });
});


/** A request body that sends one byte and then nothing, until the server hangs up. */
function stalled(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("{"));
    },
    pull: () => new Promise<void>(() => {}),
  });
}

test("floods of oversized, endless and stalled nudges without the secret: 400/401/503, bodies unread, resident memory within 50 MiB, /status prompt, no attempt", async () => {
  await using t = await scenario();
  const port = freePort();
  // A replica alone in its fleet (its own address is the whole answer): it syncs from the host at once.
  const r = replica(t, { name: "replica", address: FOLLOWER, port, repo: t.repo, peers: FOLLOWER, secretFile: secretFile(t, `peers-${randomBytes(12).toString("hex")}`), extra: ["--period=1h"] });
  await published(r, head(t.repo));
  const before = await waitFor("the first sync in /status", async () => {
    const s = await status(r);
    return s.syncCount === 1 && s;
  });
  const pid = r.gs.proc.pid;
  const bogus = { "Content-Type": "application/json", [SIGNATURE_HEADER]: "sha256=" + "1".repeat(64) };
  const over = new Uint8Array(8 * MIB + 1).fill(0x7b);
  const endless = Array.from({ length: 50 }, () => metered(64 * MIB));
  const answers: Record<string, Record<string, number>> = {};
  let slowestStatus = 0;

  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  const rss = memMiB(pid, "VmRSS");
  answers["8 MiB + 1"] = tally(await pool(300, 25, () => postSync(r, bogus, over)));
  answers["64 MiB chunked"] = tally(await pool(50, 25, (i) => postSync(r, bogus, endless[i]!.stream)));
  answers["small, wrong signature"] = tally(await pool(500, 25, () => postSync(r, bogus, NUDGE("e".repeat(40)))));
  // More stalled bodies than are read at once; /status answers while they hold the inbox (from
  // the first 503 on, all it reads at once are stalled).
  const stalledDone: Array<number | string> = [];
  const stalledAnswers = Promise.all(Array.from({ length: 40 }, () => postSync(r, bogus, stalled()).then((a) => (stalledDone.push(a), a))));
  await waitFor("a stalled nudge turned away (503)", () => stalledDone.includes(503) || stalledDone.length === 40);
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    await status(r);
    slowestStatus = Math.max(slowestStatus, Date.now() - started);
  }
  // All of them while the stalled bodies were still being read (each is cut off after 2 s).
  expect(stalledDone.includes(400)).toBe(false);
  answers.stalled = tally(await stalledAnswers);
  const growth = memMiB(pid, "VmHWM") - rss;

  const only = (name: string, allowed: Array<number | "closed">) => expect([name, Object.keys(answers[name]!).filter((k) => !allowed.map(String).includes(k))]).toEqual([name, []]);
  only("8 MiB + 1", [400, "closed"]);
  only("64 MiB chunked", [400, 503, "closed"]);
  expect(answers["small, wrong signature"]).toEqual({ 401: 500 });
  only("stalled", [400, 503]);
  expect(answers.stalled![503]).toBeGreaterThan(0);
  // Refused a few KiB in, not 64 MiB.
  expect(Math.max(...endless.map((b) => b.sent()))).toBeLessThan(8 * MIB);
  expect(growth).toBeLessThan(50);
  expect(slowestStatus).toBeLessThan(1_000);
  const after = await status(r);
  expect(after.peers.refused).toBeGreaterThanOrEqual(500 + (answers["8 MiB + 1"]![400] ?? 0) + (answers.stalled![400] ?? 0));
  expect([after.lastAttempt, after.syncCount, after.peers.nudgesReceived]).toEqual([before.lastAttempt, before.syncCount, 0]);
  expect(r.gs.done).toBe(false);
}, 60_000);

// ---- the secret and the host's credentials

const canary = (tag: string) => `${tag}${crypto.randomUUID().replace(/-/g, "")}`;

/** Every regular file under `dir` (symlinks not followed), path -> content as latin1. */
function filesUnder(dir: string, out: Record<string, string> = {}): Record<string, string> {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) filesUnder(p, out);
    else if (st.isFile()) out[p] = readFileSync(p, "latin1");
  }
  return out;
}

/** A smart-HTTP repo on a git host that wants basic auth, named so that the owner's address owns it. */
function hostRepo(t: Scenario, servers: Servers, users: Record<string, string>): { srv: ReturnType<typeof startGitHTTP>; projectRoot: string; name: string; url: string; head: string } {
  const projectRoot = join(t.dir, "srv");
  const srv = startGitHTTP({ projectRoot, users });
  servers.add(srv.stop);
  const url = ownedByOwner((i) => `${srv.url}/repo-${i}.git`);
  const name = url.slice(srv.url.length + 1);
  return { srv, projectRoot, name, url, head: makeBareRepo(projectRoot, name).head };
}

test.concurrent("the peers' secret reaches no surface of a fleet of two: -v=9 logs, /status, /metrics, git-sync status, the error file, git's argv, every file under root and the private gitconfig", async () => {
  await using t = await scenario();
  const c = { secret: canary("csecret"), hostUser: canary("cuser"), hostPass: canary("cpass") };
  using servers = stopping();
  const host = hostRepo(t, servers, { [c.hostUser]: c.hostPass });
  const repo = host.url.replace("://", `://${c.hostUser}:${c.hostPass}@`);
  const file = secretFile(t, c.secret);
  const wrapper = t.gitWrapper();
  const port = freePort();
  const flags = (name: string) => ["-v=9", `--error-file=${join(t.dir, `${name}.error.json`)}`, `--git=${wrapper.path}`, "--max-failures=-1"];
  const o = replica(t, { name: "owner", address: OWNER, port, repo, secretFile: file, extra: flags("owner") });
  await published(o, host.head);
  const f = replica(t, { name: "follower", address: FOLLOWER, port, repo, secretFile: file, extra: flags("follower") });
  await published(f, host.head);
  expectFollowing(f, port);
  // A second commit, from the host to the owner, from the owner to the follower.
  const next = pushCommit(host.projectRoot, host.name);
  await published(o, next);
  await published(f, next);

  const surfaces: Record<string, string> = {};
  const cli = async (r: Replica, name: string, ...args: string[]) => {
    const res = await t.run(["status", `--http-bind=${r.address}:${r.port}`, ...args], { timeoutMs: 10_000 });
    surfaces[name] = res.stdout + res.stderr;
  };
  for (const [name, r] of [["owner", o], ["follower", f]] as const) {
    surfaces[`${name} /status`] = await (await fetch(`${r.base}/status`)).text();
    surfaces[`${name} /metrics`] = await metrics(r);
    await cli(r, `${name} git-sync status`);
    await cli(r, `${name} git-sync status --json`, "--json");
  }
  // The private gitconfigs (in $TMPDIR) and the roots while they run.
  for (const dir of [t.env.TMPDIR!, o.root, f.root]) for (const [p, text] of Object.entries(filesUnder(dir))) surfaces[`file ${p}`] = text;
  const followerStatus = JSON.parse(surfaces["follower /status"]!) as Status;
  expect(followerStatus.peers).toMatchObject({ role: "follower", owner: `${OWNER}:${port}`, source: "peer", hostRequests: 0 });

  // The follower fails: the owner is gone and the host's password changed. Its error file is written.
  await o.gs.stop();
  host.srv.users.set(c.hostUser, "rotated");
  const errorFile = join(t.dir, "follower.error.json");
  await waitFor("the follower's error file", () => existsSync(errorFile) || f.gs.done, 30_000);
  surfaces["follower error file"] = readFileSync(errorFile, "utf8");
  surfaces["follower /status, failing"] = await (await fetch(`${f.base}/status`)).text();
  await f.gs.stop();
  surfaces["owner stdout+stderr"] = o.gs.stdout + o.gs.stderr;
  surfaces["follower stdout+stderr"] = f.gs.stdout + f.gs.stderr;
  surfaces["git argv"] = readFileSync(wrapper.log, "utf8");
  for (const root of [o.root, f.root]) for (const [p, text] of Object.entries(filesUnder(root))) surfaces[`file ${p}, at the end`] = text;

  const leaks = Object.entries(surfaces).flatMap(([surface, text]) => Object.entries(c).filter(([, v]) => text.includes(v)).map(([name]) => `${surface}: ${name}`));
  expect(leaks).toEqual([]);
  // The surfaces said something: the follower fetched from the owner (git's argv, FETCH_HEAD),
  // and failed against the host.
  expect(surfaces["git argv"]).toContain(`fetch http://${OWNER}:${port}/git ${next}`);
  expect(surfaces[`file ${join(f.root, ".git", "FETCH_HEAD")}`]).toContain(`${OWNER}:${port}/git`);
  expect(surfaces["follower error file"]).toContain("Authentication failed");
  expect(surfaces["follower git-sync status"]).toContain(`follower of ${OWNER}:${port}`);
  expect(metricValue(surfaces["follower /metrics"]!, 'git_sync_peers_requests_total{to="peer",kind="fetch"}')).toBeGreaterThanOrEqual(2);
  expect(surfaces["follower stdout+stderr"]).toContain('"msg":"peer unavailable, passing it over"');
  expect(Object.keys(surfaces).filter((k) => k.endsWith("/gitconfig")).length).toBe(2);
});

/**
 * A man in the middle on the owner's address: everything goes on to the owner at `target`, and
 * is recorded; with `challenge`, git's own requests (not the in-process polls, which carry a
 * nonce) get 401 and a Basic challenge instead.
 */
function startRelay(servers: Servers, port: number, target: string, key: string) {
  const relay = {
    challenge: false,
    requests: [] as Array<{ poll: boolean; path: string; authorization: string | null; hostToken: string | null; challenged: boolean }>,
    stop: () => {},
  };
  const me = `${OWNER}:${port}`;
  const owner = target.replace(/^http:\/\//, "");
  const server = Bun.serve({
    hostname: OWNER,
    port,
    development: false,
    async fetch(req) {
      const url = new URL(req.url);
      const poll = req.headers.has(NONCE_HEADER);
      const challenged = relay.challenge && !poll;
      const authorization = req.headers.get("authorization");
      relay.requests.push({ poll, path: url.pathname, authorization, hostToken: req.headers.get("x-host-token"), challenged });
      if (challenged) return new Response("authentication required\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="git-sync"' } });
      // Tokens and proofs are bound to the address they are for: holding the secret, the relay
      // makes them again for the owner's address, and proves the owner's answers as its own.
      const scope = checkPeerToken(key, (authorization ?? "").replace(/^Bearer /, ""), me);
      const headers = new Headers(req.headers);
      if (scope) headers.set("authorization", `Bearer ${peerToken(key, scope.objects, owner)}`);
      const res = await fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers, body: req.method === "GET" ? undefined : await req.arrayBuffer(), redirect: "manual" });
      const out = new Headers(res.headers);
      out.delete("content-length");
      out.delete("transfer-encoding");
      if (!poll) return new Response(res.body, { status: res.status, headers: out });
      const body = new Uint8Array(await res.arrayBuffer());
      const nonce = req.headers.get(NONCE_HEADER) ?? "";
      const age = res.headers.get(AGE_HEADER) ?? "";
      out.set(PROOF_HEADER, answerProof(key, challenge(nonce, me, res.status), age, res.headers.get(KEY_HEADER) ?? "", body));
      return new Response(body, { status: res.status, headers: out });
    },
  });
  relay.stop = () => void server.stop(true);
  servers.add(relay.stop);
  return relay;
}

test.concurrent("the follower's requests to its owner (here a relay that holds the secret) carry a peers' token, never the secret, and none of the host's credentials (--username/--password-file, an http.extraHeader and a credential.helper from --git-config-add), even when that address asks for credentials", async () => {
  await using t = await scenario();
  const c = { secret: canary("csecret"), hostUser: canary("cuser"), hostPass: canary("cpass"), hostToken: canary("ctoken") };
  using servers = stopping();
  const host = hostRepo(t, servers, { [c.hostUser]: c.hostPass });
  const passwordFile = join(t.dir, "host-password");
  writeFileSync(passwordFile, c.hostPass);
  // A credential helper of the user's: it records what git asks it, and answers nothing.
  const helperLog = join(t.dir, "helper.log");
  const hostAuth = [`--username=${c.hostUser}`, `--password-file=${passwordFile}`, `--git-config-add=http.extraHeader:X-Host-Token: ${c.hostToken}`, `--git-config-add=credential.helper:!f() { cat >> ${helperLog}; }; f`];
  const file = secretFile(t, c.secret);
  // The owner listens on another port; the relay takes its place at the address the follower asks.
  const ownerPort = freePort();
  const o = replica(t, { name: "owner", address: OWNER, port: ownerPort, repo: host.url, secretFile: file, extra: hostAuth });
  await published(o, host.head);
  const port = freePort();
  const relay = startRelay(servers, port, o.base, sha256(c.secret));
  const f = replica(t, { name: "follower", address: FOLLOWER, port, repo: host.url, secretFile: file, extra: hostAuth });
  await published(f, host.head);
  expectFollowing(f, port);
  expect((await status(f)).peers).toMatchObject({ source: "peer", hostRequests: 0 });

  // Every request (the poll, git's fetch) carried a token made with the peers' secret, as a
  // Bearer token, and nothing else: neither the secret nor anything of the host's.
  const fetches = () => relay.requests.filter((r) => !r.poll);
  expect(fetches().length).toBeGreaterThan(0);
  const hostBasic = `Basic ${Buffer.from(`${c.hostUser}:${c.hostPass}`).toString("base64")}`;
  const key = sha256(c.secret);
  const token = (a: string | null) => checkPeerToken(key, (a ?? "").replace(/^Bearer /, ""), `${OWNER}:${port}`);
  const leaked = () => relay.requests.filter((r) => r.hostToken !== null || !r.authorization?.startsWith("Bearer gitsync-peer.") || token(r.authorization) === null || r.authorization.includes(c.secret));
  // A poll's token fetches nothing; a fetch's names what the owner's proven answer named.
  expect(relay.requests.filter((r) => r.poll).map((r) => token(r.authorization)?.objects)).toContainEqual([]);
  expect(fetches().map((r) => token(r.authorization)?.objects)).toContainEqual([host.head]);
  expect(leaked()).toEqual([]);

  // The owner's address now asks git for credentials: git has none to give, so the fetch fails,
  // the owner is passed over, and the next commit comes from the host.
  relay.challenge = true;
  const next = pushCommit(host.projectRoot, host.name);
  await published(o, next);
  await published(f, next);
  expect(fetches().filter((r) => r.challenged).length).toBeGreaterThan(0);
  expect(leaked()).toEqual([]);
  expect(relay.requests.map((r) => r.authorization)).not.toContain(hostBasic);
  expect(unavailable(f, "fetch-failed").length).toBeGreaterThan(0);
  expect((await status(f)).peers.hostRequests).toBeGreaterThan(0);
  // Nor was the user's credential helper asked for the owner's address.
  expect(readOr(helperLog) ?? "").not.toContain(`host=${OWNER}:${port}`);
});
