// --serve-git (issue 22, docs/serve.md): the synced repository, served read-only over git's smart
// HTTP at /git of --http-bind. What is served is what is published: the advertisement lists
// HEAD and each link's ref at the commit that link serves (protocol.ts writes it, no process),
// and a fetch may only want those objects, or ones served a moment ago (a client reads the
// advertisement, then fetches in a later request). Only a fetch starts git: `git upload-pack
// --stateless-rpc` in root/.git under GIT_NAMESPACE=git-sync, whose only refs are the keep refs
// (keep.ts) that also hold every object it may hand out against `git gc`.
//
// Order of work per request, cheapest refusal first: the secret (before the body is read), the
// body (bounded, gzip bounded too, and all bodies being read at once bounded together), the
// request (protocol.ts), then a slot among --serve-git-max-packs (503 + Retry-After past it).
// The pack is streamed: the client's pace pulls it from git's stdout, so the sidecar holds a
// chunk, not a pack. The client going away or --serve-git-timeout kills upload-pack's process
// group (pack-objects with it).
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import type { Git } from "../git/runner.ts";
import { BodyTooLarge, BodyTooSlow, readBounded } from "../lib/bounded-body.ts";
import { spawnStreaming, type StreamingChild } from "../lib/exec.ts";
import { SecretFile, sameSecret } from "../lib/secrets.ts";
import { checkPeerToken, type PeerScope } from "./peer-token.ts";
import { readSmallFile } from "../lib/small-files.ts";
import { errorText, scrub, type Logger } from "../log/logger.ts";
import { serveMetrics } from "../state/metrics.ts";
import type { ServeState, SyncState } from "../state/sync-state.ts";
import { changeKept, NAMESPACE, present, readKept } from "./keep.ts";
import { errLine, judgeV0, judgeV2, lsRefs, parseRequest, PktError, v0Advertisement, v2Capabilities, type Advertisement, type ServedRef } from "./protocol.ts";

export type MirrorConfig = Pick<Config, "serveGit" | "depth" | "root"> & Partial<Pick<Config, "peers">>;

/** What one link serves now: its ref's full name ("" when unknown: a hash ref), object and commit. */
export interface LinkServed extends ServedRef {
  /** The main --link: HEAD is its commit. */
  main: boolean;
}

export interface MirrorDeps {
  git: Git;
  log: Logger;
  state: SyncState;
  /** What every link serves now, main link first; links that serve nothing are left out. */
  published: () => LinkServed[];
  /**
   * --peers (issue 23): headers for an authenticated answer written in-process (the ref list, or
   * "nothing published yet"), by which an owner proves itself to the follower that asked.
   */
  answerHeaders?: (req: Request, body: string | Uint8Array, status: number) => Record<string, string>;
  /** --peers: this replica's address:port, which a peer's token must be for; absent = no tokens. */
  selfEndpoint?: () => string;
  /** A request without the secret was refused (401): --peers counts them. */
  onUnauthorized?: () => void;
}

export interface Mirror {
  /** Answers a request under /git. */
  handle(req: Request, remote: string): Promise<Response>;
  /**
   * After each sync attempt (and once at startup): keep refs for what the links serve now, then
   * the new advertisement; refs no longer served are dropped once no request can want them.
   */
  update(deadline: number): Promise<boolean>;
}

/** The path the mirror answers under (fixed: manifests and docs rely on it). */
export const MOUNT = "/git";
/** The largest request body, before and after gzip: a want and a few thousand haves are far below it. */
export const MAX_REQUEST = 8 << 20;
/** Request bodies read at once; more get 503 unread. */
export const CONCURRENT_READS = 16;
/**
 * Request bytes held at once over all bodies being read (raw and inflated): two at the cap, or
 * thousands of ordinary ones (a want and some haves); past it, 503. Without it, 16 bodies at the
 * cap or 16 gzip bombs at once grew the sidecar by some 130 MiB, and again with the next flood.
 */
export const READ_BUDGET = 16 << 20;
/** A body must be in this long after its headers. */
export const READ_DEADLINE_MS = 30_000;
/**
 * Identical fetches share one answer. Replicas of one Deployment (--peers) are in the same state
 * when a commit arrives, so their fetches are the same bytes: one upload-pack answers all of
 * them, the rest wait for its output instead of making the same pack again. An answer is kept
 * while it is at most SHARED_ANSWER_MAX bytes and the advertisement does not change (and at most
 * SHARED_ANSWER_TTL_MS), SHARED_ANSWERS_TOTAL bytes in all; a bigger or failed one is not kept,
 * and whoever waited for it runs its own.
 */
export const SHARED_ANSWER_MAX = 4 << 20;
export const SHARED_ANSWERS_TOTAL = 16 << 20;
export const SHARED_ANSWER_TTL_MS = 60_000;
/** The longest a request waits for an identical one's answer before it runs its own. */
export const SHARED_WAIT_MS = 10_000;
/** Requests larger than this are never shared (so that those waiting hold little). */
export const SHARED_REQUEST_MAX = 64 << 10;
/** At most this many requests wait for shared answers at once; more run their own. */
export const SHARED_WAITERS = 64;
/** At most this many answers are kept. */
export const SHARED_ANSWERS_COUNT = 256;
/** How much of git's stderr is kept for the log. */
const STDERR_KEPT = 4096;

const RESULT_TYPE = "application/x-git-upload-pack-result";
const NO_CACHE = { "Cache-Control": "no-cache, max-age=0, must-revalidate", Pragma: "no-cache" };

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...NO_CACHE, ...headers } });
}

/** A git protocol answer (ERR line, ls-refs, an empty or streamed pack). */
function result(body: BodyInit, headers: Record<string, string> = {}): Response {
  return new Response(body, { headers: { "Content-Type": RESULT_TYPE, ...NO_CACHE, ...headers } });
}

/** The client asks for protocol v2 (git's Git-Protocol header); else it speaks v0/v1. */
function speaksV2(req: Request): boolean {
  return /(?:^|:)version=2(?::|$)/.test(req.headers.get("git-protocol") ?? "");
}

type Kind = "advertise" | "ls-refs" | "fetch" | "other";

class OverBudget extends Error {}

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

/** The password of Basic auth (any username) or a Bearer token; null without one. */
export function credentialOf(h: Headers): string | null {
  const auth = h.get("authorization") ?? "";
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
  if (basic) {
    const pair = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = pair.indexOf(":");
    return colon < 0 ? pair : pair.slice(colon + 1);
  }
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return bearer ? bearer[1]! : null;
}

export function createMirror(config: MirrorConfig, deps: MirrorDeps): Mirror {
  const { git } = deps;
  // Its own logger, like the hook runners': a client's request that git refuses, or an unreadable
  // secret, is no sync error, so it must not write --error-file (which says the last sync failed).
  const log = deps.log.named("serve-git");
  const opts = config.serveGit;
  const gitDir = join(config.root, ".git");
  const secret = opts.anonymous ? null : new SecretFile(opts.secretFile, "--serve-git-secret-file");
  // A secret file that is missing or empty at startup ends it: the mirror would refuse everyone.
  const first = secret?.current();
  if (first instanceof Error) throw first;
  const metrics = serveMetrics();
  const serve: ServeState = { auth: opts.anonymous ? "anonymous" : "secret", maxPacks: opts.maxPacks, inFlight: 0, requests: {}, bytesSent: 0, refs: [], changedAt: null };
  deps.state.serve = serve;

  /** null until the first update(): /git answers 503 until then. */
  let ad: Advertisement | null = null;
  /**
   * Objects a fetch may want: what is advertised (tags and the commits they peel to), and what
   * was until `retiredAt`, for one --serve-git-timeout more (a client that read the old
   * advertisement fetches in its next request). Pins: wants of requests running now.
   */
  const allowed = new Map<string, { retiredAt: number | null }>();
  const pins = new Map<string, number>();
  let reads = 0;
  let held = 0;
  let freed = 0;
  let secretError = "";
  let updating: Promise<void> = Promise.resolve();
  /** Answers to fetches, by request (sharedKey): done, or on their way (waiters await `bytes`). */
  const shared = new Map<string, { bytes: Promise<Uint8Array<ArrayBuffer> | null>; size: number; at: number }>();
  let sharedBytes = 0;
  let waiting = 0;
  const sharing = (config.peers ?? "") !== "";
  const forgetShared = (key: string) => {
    const e = shared.get(key);
    if (!e) return;
    shared.delete(key);
    sharedBytes -= e.size;
  };

  const count = (kind: Kind, result: string) => {
    metrics.requests.inc({ kind, result });
    serve.requests[result] = (serve.requests[result] ?? 0) + 1;
  };
  const sent = (n: number) => {
    metrics.bytesSent.inc({}, n);
    serve.bytesSent += n;
  };
  const setInFlight = (delta: number) => {
    serve.inFlight += delta;
    metrics.inFlight.set(serve.inFlight);
  };
  const wantable = (oid: string) => {
    const a = allowed.get(oid);
    return a !== undefined && (a.retiredAt === null || Date.now() - a.retiredAt <= opts.timeout);
  };

  /**
   * null when the request may pass; else 401 with the challenge git's credential prompt (or
   * askpass) answers, or 503 when the secret file cannot be read (fail closed: logged once per cause).
   */
  function authenticate(req: Request): { denied: Response } | { scope: PeerScope | null } {
    const denied = (r: Response) => ({ denied: r });
    if (!secret) return { scope: null };
    const digest = secret.current();
    if (digest instanceof Error) {
      if (secretError !== digest.message) log.error(digest, "can't read the --serve-git secret; refusing /git requests");
      secretError = digest.message;
      count("other", "secret_unreadable");
      return denied(text(503, "the mirror's secret can't be read; see its log\n", { "Retry-After": "10" }));
    }
    secretError = "";
    const given = credentialOf(req.headers);
    if (given !== null && sameSecret(sha256(given), digest)) return { scope: null };
    // A --peers follower's token (serve/peer-token.ts): a poll, or a fetch of what it names.
    const self = deps.selfEndpoint?.() ?? "";
    const scope = given !== null && self !== "" && given.startsWith("gitsync-peer.") ? checkPeerToken(digest, given, self) : null;
    if (scope) return { scope };
    count("other", "unauthorized");
    deps.onUnauthorized?.();
    return denied(text(401, "authentication required\n", { "WWW-Authenticate": 'Basic realm="git-sync", charset="UTF-8"' }));
  }

  /** `stream`, each chunk counted against READ_BUDGET (and in `mine`, which the caller gives back). */
  function budgeted(stream: ReadableStream<Uint8Array>, mine: { bytes: number }): ReadableStream<Uint8Array> {
    return stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          if (held + chunk.byteLength > READ_BUDGET) throw new OverBudget("too many large requests at once, try again");
          held += chunk.byteLength;
          mine.bytes += chunk.byteLength;
          c.enqueue(chunk);
        },
      }),
    );
  }

  async function readBody(req: Request): Promise<Uint8Array> {
    const mine = { bytes: 0 };
    try {
      const body = req.body && budgeted(req.body, mine);
      const raw = await readBounded({ headers: req.headers, body }, { maxBytes: MAX_REQUEST, deadline: Date.now() + READ_DEADLINE_MS, what: "request body" });
      const encoding = (req.headers.get("content-encoding") ?? "").toLowerCase();
      if (encoding === "" || encoding === "identity") return raw;
      if (encoding !== "gzip" && encoding !== "x-gzip") throw new PktError(`unsupported Content-Encoding ${JSON.stringify(encoding)}`);
      // A gzip bomb stops at the same cap as a plain body.
      const inflated = budgeted(new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip")), mine);
      try {
        return await readBounded({ headers: new Headers(), body: inflated }, { maxBytes: MAX_REQUEST, what: "request body (inflated)" });
      } catch (e) {
        if (e instanceof BodyTooLarge || e instanceof OverBudget) throw e;
        throw new PktError("request body is not valid gzip");
      }
    } finally {
      held -= mine.bytes;
      // The chunks are garbage now, but the collector takes its time with them: a flood of large
      // bodies would stack up several budgets' worth. One collection per budget read (a few ms
      // per 16 MiB) gives them back at once; ordinary requests never get near it.
      freed += mine.bytes;
      if (freed >= READ_BUDGET) {
        freed = 0;
        Bun.gc(true);
      }
    }
  }

  /** GET /git/info/refs?service=git-upload-pack. */
  function advertise(req: Request, current: Advertisement): Response {
    const body = speaksV2(req) ? v2Capabilities(current) : v0Advertisement(current, config.depth);
    sent(Buffer.byteLength(body));
    count("advertise", "ok");
    return new Response(body, { headers: { "Content-Type": "application/x-git-upload-pack-advertisement", ...NO_CACHE, ...deps.answerHeaders?.(req, body, 200) } });
  }

  function refused(kind: Kind, message: string, remote: string): Response {
    log.v(1, "refused a /git request", { remote, kind, reason: message });
    count(kind, "refused");
    const body = errLine(message);
    sent(body.length);
    return result(body);
  }

  /** POST /git/git-upload-pack: ls-refs in-process, or a fetch (negotiation round or pack) by upload-pack. */
  async function uploadPack(req: Request, remote: string, current: Advertisement, scope: PeerScope | null): Promise<Response> {
    if ((req.headers.get("content-type") ?? "") !== "application/x-git-upload-pack-request") return text(415, "expected Content-Type application/x-git-upload-pack-request\n");
    const v2 = speaksV2(req);
    if (reads >= CONCURRENT_READS) {
      count("other", "busy");
      return text(503, "too many requests at once, try again\n", { "Retry-After": "1" });
    }
    let raw: Uint8Array;
    reads++;
    try {
      raw = await readBody(req);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        count("other", "too_large");
        return text(413, `${errorText(e)}\n`);
      }
      if (e instanceof OverBudget) {
        count("other", "busy");
        return text(503, `${errorText(e)}\n`, { "Retry-After": "1" });
      }
      count("other", e instanceof BodyTooSlow ? "timeout" : "bad_request");
      return text(400, `${errorText(e)}\n`);
    } finally {
      reads--;
    }
    let lines: string[];
    try {
      lines = parseRequest(raw);
    } catch (e) {
      count("other", "bad_request");
      return text(400, `${errorText(e)}\n`);
    }
    const verdict = v2 ? judgeV2(lines, wantable, config.depth) : judgeV0(lines, wantable, config.depth);
    if (verdict.kind === "refused") return refused(v2 && !lines[0]?.startsWith("command=fetch") ? "other" : "fetch", verdict.message, remote);
    if (verdict.kind === "ls-refs") {
      const body = lsRefs(current, verdict.args);
      sent(body.length);
      count("ls-refs", "ok");
      return result(body, deps.answerHeaders?.(req, body, 200));
    }
    // A peer's token fetches only the objects it names (none for a poll's token).
    if (scope && !verdict.wants.every((w) => scope.objects.includes(w))) {
      count("fetch", "forbidden");
      return text(403, "this peer token does not cover these objects\n");
    }
    const body = verdict.body === null ? raw : new TextEncoder().encode(verdict.body);
    // The same request as one answered (or being answered) since the advertisement changed: its answer.
    // With --peers only (a fleet's followers), and small requests only (theirs are a few hundred
    // bytes): waiting ones hold their bodies.
    const key = sharing && body.byteLength <= SHARED_REQUEST_MAX ? `${v2 ? 2 : 0}:${new Bun.CryptoHasher("sha256").update(body).digest("hex")}` : "";
    const known = key === "" ? undefined : shared.get(key);
    if (known && Date.now() - known.at <= SHARED_ANSWER_TTL_MS && waiting < SHARED_WAITERS) {
      // A slow client of the one answering does not hold the others for long: past the wait
      // (or when its own client goes) each runs its own.
      let timer: Timer | undefined;
      let onAbort = () => {};
      waiting++;
      const bytes = await Promise.race([
        known.bytes,
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), SHARED_WAIT_MS);
          onAbort = () => r(null);
          req.signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]).finally(() => {
        waiting--;
        clearTimeout(timer);
        req.signal.removeEventListener("abort", onAbort);
      });
      if (req.signal.aborted) {
        count("fetch", "aborted");
        return text(499, "client went away\n");
      }
      if (bytes !== null) {
        sent(bytes.byteLength);
        count("fetch", "shared");
        log.v(2, "answered a /git fetch with a shared answer", { remote, bytes: bytes.byteLength });
        return result(bytes);
      }
    }
    if (serve.inFlight >= opts.maxPacks) {
      count("fetch", "busy");
      return text(503, `this mirror is making ${opts.maxPacks} packs already (--serve-git-max-packs), try again\n`, { "Retry-After": "1" });
    }
    return await runUploadPack(req, remote, v2, body, verdict.wants, key);
  }

  async function runUploadPack(req: Request, remote: string, v2: boolean, body: Uint8Array, wants: string[], key: string): Promise<Response> {
    // This answer is shared with identical requests that come while it runs, and after ("": not shared).
    forgetShared(key);
    let share: (bytes: Uint8Array<ArrayBuffer> | null) => void = () => {};
    const entry = { bytes: new Promise<Uint8Array<ArrayBuffer> | null>((r) => (share = r)), size: 0, at: Date.now() };
    if (key !== "") {
      // The oldest go first: past their time, or past the count (negotiation answers are tiny and many).
      for (const [k, e] of shared) if (shared.size >= SHARED_ANSWERS_COUNT || Date.now() - e.at > SHARED_ANSWER_TTL_MS) forgetShared(k);
      shared.set(key, entry);
    }
    const chunks: Uint8Array[] = [];
    let kept = 0;
    const keep = (chunk: Uint8Array) => {
      if (kept < 0) return;
      kept += chunk.byteLength;
      if (kept > SHARED_ANSWER_MAX) kept = -1;
      else chunks.push(chunk);
    };
    const shareNothing = () => {
      if (shared.get(key) === entry) shared.delete(key);
      share(null);
    };
    // Wants are pinned (kept from gc) until git is done with them.
    for (const w of wants) pins.set(w, (pins.get(w) ?? 0) + 1);
    setInFlight(1);
    let child: StreamingChild;
    const env: Record<string, string | undefined> = { ...git.env(), GIT_NAMESPACE: NAMESPACE };
    if (v2) env.GIT_PROTOCOL = "version=2";
    else delete env.GIT_PROTOCOL;
    // The mirror offers no unadvertised objects, filters or ref-in-want; a config setting of the
    // repo or the user cannot turn them on.
    const argv = [
      git.path,
      ...["uploadpack.allowAnySHA1InWant", "uploadpack.allowTipSHA1InWant", "uploadpack.allowReachableSHA1InWant", "uploadpack.allowFilter", "uploadpack.allowRefInWant", "uploadpack.allowSidebandAll"].flatMap((k) => ["-c", `${k}=false`]),
      "upload-pack",
      "--stateless-rpc",
      gitDir,
    ];
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      setInFlight(-1);
      for (const w of wants) {
        const n = (pins.get(w) ?? 1) - 1;
        if (n <= 0) pins.delete(w);
        else pins.set(w, n);
      }
    };
    try {
      child = spawnStreaming(argv, { cwd: gitDir, env, stdin: body });
    } catch (e) {
      end();
      shareNothing();
      log.error(e, "can't start git upload-pack for /git");
      count("fetch", "error");
      return text(500, "can't start git\n");
    }
    let outcome = "";
    const finish = (result: string) => {
      if (outcome === "") outcome = result;
    };
    const timer = setTimeout(() => {
      finish("timeout");
      child.kill();
    }, opts.timeout);
    const onAbort = () => {
      finish("aborted");
      child.kill();
    };
    req.signal.addEventListener("abort", onAbort, { once: true });

    let stderr = "";
    const errReader = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) if (stderr.length < STDERR_KEPT) stderr += dec.decode(chunk, { stream: true });
    })().catch(() => {});
    const settled = child.exited.then(async (st) => {
      await errReader;
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onAbort);
      end();
      const result = outcome || (st.code === 0 ? "ok" : "error");
      count("fetch", result);
      if (result === "error") log.error(new Error(scrub(stderr.trim()) || `exit ${st.code ?? st.signal}`), "git upload-pack failed for a /git request", { remote });
      else log.v(result === "ok" ? 2 : 1, "answered a /git fetch", { remote, result });
      return { ...st, stderr };
    });

    const reader = child.stdout.getReader();
    // The first chunk decides the answer's shape: git's output, or (when it wrote nothing and
    // failed) its error as the ERR line git's client prints.
    const first = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (first.done) {
      shareNothing();
      const st = await settled;
      if (st.code !== 0 && outcome === "") {
        const why = st.stderr.trim().split("\n").pop() ?? "";
        const body = errLine(scrub(why.replace(/^fatal: /, "")) || "upload-pack failed");
        sent(body.length);
        return result(body);
      }
      return result("");
    }
    sent(first.value.byteLength);
    keep(first.value);
    let pending: Uint8Array | null = first.value;
    // Kept for identical requests when upload-pack ended well and the answer was small enough.
    const done = async () => {
      const st = await settled;
      if (st.code !== 0 || outcome !== "" || kept < 0 || shared.get(key) !== entry) return shareNothing();
      for (const k of shared.keys()) {
        if (sharedBytes + kept <= SHARED_ANSWERS_TOTAL) break;
        if (k !== key) forgetShared(k);
      }
      if (sharedBytes + kept > SHARED_ANSWERS_TOTAL) return shareNothing();
      entry.size = kept;
      sharedBytes += kept;
      const bytes = new Uint8Array(kept);
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.byteLength;
      }
      share(bytes);
    };
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(c) {
          if (pending) {
            c.enqueue(pending);
            pending = null;
            return;
          }
          const step = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (step.done) {
            c.close();
            void done();
            return;
          }
          sent(step.value.byteLength);
          keep(step.value);
          c.enqueue(step.value);
        },
        cancel() {
          finish("aborted");
          child.kill();
          shareNothing();
        },
      },
      { highWaterMark: 0 },
    );
    return result(stream);
  }

  async function handle(req: Request, remote: string): Promise<Response> {
    const url = new URL(req.url);
    const sub = url.pathname.slice(MOUNT.length);
    const auth = authenticate(req);
    if ("denied" in auth) {
      // The body is never read.
      await req.body?.cancel().catch(() => {});
      return auth.denied;
    }
    const current = ad;
    if (current === null || (current.head === null && current.refs.length === 0)) {
      count("other", "not_ready");
      const body = "nothing published yet\n";
      return text(503, body, { "Retry-After": "5", ...deps.answerHeaders?.(req, body, 503) });
    }
    if (sub === "/info/refs" && req.method === "GET") {
      const service = url.searchParams.get("service");
      if (service === "git-upload-pack") return advertise(req, current);
      count("other", "forbidden");
      if (service === "git-receive-pack") return text(403, "this mirror is read-only\n");
      return text(403, "this mirror speaks git's smart HTTP only (git 1.6.6 or later)\n");
    }
    if (sub === "/git-upload-pack" && req.method === "POST") return await uploadPack(req, remote, current, auth.scope);
    count("other", "forbidden");
    if (sub === "/git-receive-pack") return text(403, "this mirror is read-only\n");
    return text(404, "not found: the mirror answers git's smart HTTP at /git\n");
  }

  /** The last answer of shallowServed, by the commits asked about. */
  let shallowMemo = { key: "", shallow: [] as string[], file: "" };

  /**
   * root/.git/shallow's commits that `hashes` reach: one `git rev-list` when the served commits
   * or the shallow file change (a publish), none on a poll, none for a full (--depth=0) root.
   */
  async function shallowServed(hashes: string[], deadline: number): Promise<string[]> {
    // A stat per poll, not a read (lib/small-files.ts).
    const file = readSmallFile(join(gitDir, "shallow"));
    if (file === undefined) return [];
    const key = [...new Set(hashes)].sort().join(" ");
    if (key === shallowMemo.key && file === shallowMemo.file) return shallowMemo.shallow;
    const grafts = new Set(file.split("\n").filter((l) => l !== ""));
    let shallow: string[] = [];
    try {
      const { stdout } = await git.run(["rev-list", ...new Set(hashes), "--"], { cwd: config.root, deadline });
      shallow = stdout.split("\n").filter((h) => grafts.has(h));
    } catch (e) {
      // Without them a v0 client still gets a correct answer or git's own error; logged, not fatal.
      log.error(e, "can't list the mirror's shallow commits");
      return shallowMemo.shallow;
    }
    shallowMemo = { key, shallow, file };
    return shallow;
  }

  async function doUpdate(deadline: number): Promise<void> {
    let links = deps.published();
    const now = Date.now();
    const kept = readKept(gitDir);
    let tips = new Set<string>();
    for (const l of links) tips.add(l.oid).add(l.hash);
    for (const [oid, a] of allowed) {
      if (tips.has(oid)) a.retiredAt = null;
      else if (a.retiredAt === null) a.retiredAt = now;
    }
    // Gone for good: retired longer than a request may run, and no request running wants it.
    for (const [oid, a] of allowed) if (a.retiredAt !== null && now - a.retiredAt > opts.timeout && !pins.has(oid)) allowed.delete(oid);
    const keep = new Set([...allowed.keys(), ...tips, ...pins.keys()]);
    let add = [...keep].filter((o) => !kept.has(o));
    if (add.length > 0) {
      // Objects root/.git lacks (a rebuilt root, a link an earlier process left) would fail the
      // one transaction for every ref: they are left out, and a link that needs one is not served.
      try {
        const here = await present(git, config.root, add, deadline);
        const missing = new Set(add.filter((o) => !here.has(o)));
        if (missing.size > 0) {
          for (const o of missing) {
            allowed.delete(o);
            keep.delete(o);
          }
          for (const l of links.filter((l) => missing.has(l.oid) || missing.has(l.hash))) log.error(null, "not serving a link whose objects root/.git lacks", { ref: l.name, hash: l.hash });
          links = links.filter((l) => !missing.has(l.oid) && !missing.has(l.hash));
          tips = new Set(links.flatMap((l) => [l.oid, l.hash]));
          add = add.filter((o) => !missing.has(o));
        }
      } catch (e) {
        log.error(e, "can't check the objects the git mirror would serve");
      }
    }
    const drop = [...kept].filter((o) => !keep.has(o));
    if (add.length > 0 || drop.length > 0) {
      try {
        await changeKept(git, config.root, add, drop, deadline);
      } catch (e) {
        // Without its keep refs a new commit is not advertised (gc could take it from a clone);
        // the next attempt tries again.
        // Logged by update(), which then says so: a --peers owner does not claim the new commit is served.
        if (ad !== null) throw new Error("can't update the refs the git mirror keeps; serving the previous commits", { cause: e });
        log.error(e, "can't update the refs the git mirror keeps");
      }
    }
    for (const oid of tips) allowed.set(oid, { retiredAt: null });
    const shallow = await shallowServed(links.map((l) => l.hash), deadline);
    const main = links.find((l) => l.main);
    const byName = new Map<string, ServedRef>();
    for (const l of links) if (l.name.startsWith("refs/") && !byName.has(l.name)) byName.set(l.name, { name: l.name, oid: l.oid, hash: l.hash });
    const next: Advertisement = {
      head: main ? { hash: main.hash, symref: main.name.startsWith("refs/heads/") ? main.name : "" } : null,
      refs: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      objectFormat: links[0]?.hash.length === 64 ? "sha256" : "sha1",
      shallow,
    };
    const shown = [...(next.head ? [{ name: "HEAD", oid: next.head.hash }] : []), ...next.refs.map((r) => ({ name: r.name, oid: r.oid }))];
    if (JSON.stringify(shown) !== JSON.stringify(serve.refs)) {
      serve.refs = shown;
      serve.changedAt = now;
      // Answers made for the old refs are not kept for the new ones.
      shared.clear();
      sharedBytes = 0;
      log.v(1, "git mirror advertises", { refs: Object.fromEntries(shown.map((r) => [r.name, r.oid])) });
    }
    ad = next;
  }

  return {
    handle,
    update(deadline) {
      const done = updating.then(() => doUpdate(deadline)).then(
        () => true,
        (e: unknown) => {
          log.error(e, "git mirror update failed");
          return false;
        },
      );
      updating = done.then(() => {});
      return done;
    },
  };
}
