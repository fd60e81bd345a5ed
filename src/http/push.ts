// POST /sync, the push trigger (ours; docs/push.md). A forge's push webhook, a CI job or another
// git-sync asks for a sync now instead of at the next --period; polling stays the safety net.
// It is off without --http-sync-secret-file: it never syncs on a request that does not prove it
// knows the secret. Work is ordered so the cheapest refusal comes first:
//   1. credentials: none, or a token that does not match, is refused before the body is read,
//      and so is a Content-Length over MAX_BODY. A signature can only be checked once the body
//      is in: at most UNAUTHENTICATED_READS such bodies are read at once (others get 503 at
//      once, unread), each cut off past MAX_BODY or READ_DEADLINE_MS, then one HMAC.
//   2. the request budget (authenticated requests only, so a caller without the secret cannot
//      use it up): over it, 429 with Retry-After. The request is not looked at, but it may be a
//      push we need and forges do not retry, so it still counts as a push for step 4.
//   3. the event and the pushed ref: pings, other events and pushes to other refs answer 200
//      and never wake the loop.
//   4. spacing: the first push after a quiet --http-sync-min-interval wakes the loop at once;
//      later ones join one deferred wake at the end of the interval (202 either way). The loop's
//      Wake then coalesces whatever lands during an attempt into one follow-up attempt.
import type { Config } from "../config/types.ts";
import type { SyncState } from "../state/sync-state.ts";
import type { Logger } from "../log/logger.ts";
import { BodyTooLarge, BodyTooSlow, declaresOver, formatBytes, readBounded } from "../lib/bounded-body.ts";
import { RequestBudget } from "../lib/budget.ts";
export { RequestBudget };
import { readSigningKey, sameSecret, signBody } from "../lib/secrets.ts";
import { semverRange } from "../lib/semver.ts";
import { refCandidates } from "../repo/remote.ts";
import { pushRequestCount } from "../state/metrics.ts";

export type PushConfig = Pick<Config, "httpSyncSecretFile" | "httpSyncMinInterval" | "ref">;

export interface PushDeps {
  /** Read only: remoteRef, the full name --ref resolved to at the last poll; the same for each --also-link ref. */
  state: Pick<SyncState, "remoteRef"> & { links?: SyncState["links"] };
  log: Logger;
  /** Wake the sync loop now. */
  requestSync: () => void;
}

export interface PushTrigger {
  /** Answers POST /sync; `remote` is the caller's address, for the log. */
  handle(req: Request, remote: string): Promise<Response>;
  stop(): void;
}

/**
 * The largest body read. Push payloads are far below it: GitLab lists at most 20 commits and
 * Gitea 5 (both with a total count), GitHub caps each commit's file lists at 5000 paths
 * (docs/push.md has the figures). A larger one gets 413 and the next poll syncs it anyway.
 */
export const MAX_BODY = 4 << 20;
/**
 * How many bodies whose signature is not checked yet are read at once: such a read is the one
 * thing a caller without the secret can make us do, so it costs at most this times MAX_BODY.
 */
export const UNAUTHENTICATED_READS = 8;
/** A body must be in this long after its headers: forges give up on a delivery after 10s (GitHub, GitLab) or less. */
export const READ_DEADLINE_MS = 10_000;
/** The request budget: bursts of BURST authenticated requests, refilled at PER_SECOND. */
export const BURST = 30;
export const PER_SECOND = 10;

const TEXT = "text/plain; charset=utf-8";

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": TEXT, ...headers } });
}

type Proof = { kind: "signature"; header: string; hex: string } | { kind: "token"; header: string; token: string };

// [header, value is "sha256=<hex>"]; the first one present is the one checked.
const SIGNATURE_HEADERS = [
  ["x-hub-signature-256", true], // GitHub; Gitea and Forgejo send it too
  ["gitsync-signature-256", true], // our --webhook-signature-secret-file, and the generic HMAC form
  ["x-gitea-signature", false], // older Gitea: bare hex
  ["x-forgejo-signature", false],
] as const;

/** The credential a request carries, or null. Signatures win: they also cover the body. */
export function proofOf(h: Headers): Proof | null {
  for (const [header, prefixed] of SIGNATURE_HEADERS) {
    const v = h.get(header);
    if (v === null) continue;
    const hex = !prefixed ? v : v.startsWith("sha256=") ? v.slice("sha256=".length) : "";
    return { kind: "signature", header, hex: hex.toLowerCase() };
  }
  const gitlab = h.get("x-gitlab-token");
  if (gitlab !== null) return { kind: "token", header: "x-gitlab-token", token: gitlab };
  const bearer = /^bearer +(.+)$/is.exec(h.get("authorization") ?? "");
  if (bearer) return { kind: "token", header: "authorization", token: bearer[1]! };
  return null;
}

// Each forge names the event in its own header (Gitea and Forgejo also send X-GitHub-Event).
const EVENT_HEADERS = ["X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event", "X-Gitlab-Event"] as const;
const PUSH_EVENTS = new Set(["push", "Push Hook", "Tag Push Hook"]);

export type EventKind = "push" | "ping" | "other";

/** "push" also when no event header is present: the generic form is a push. */
export function eventOf(h: Headers): { kind: EventKind; text: string } {
  for (const header of EVENT_HEADERS) {
    const name = h.get(header);
    if (name === null) continue;
    const kind = PUSH_EVENTS.has(name) ? "push" : name === "ping" ? "ping" : "other";
    return { kind, text: `${header}: ${name}` };
  }
  return { kind: "push", text: "" };
}

/**
 * The full ref name ("refs/heads/main") a push payload names, or "" when it names none: an
 * empty or non-JSON body, or a `ref` that is not a full name (git-sync's own --webhook-payload
 * carries its --ref as given, "HEAD" say). GitHub's form-encoded delivery wraps the JSON in `payload=`.
 */
export function pushedRef(body: Uint8Array, contentType: string): string {
  if (body.length === 0) return "";
  let json = new TextDecoder().decode(body);
  if (/^application\/x-www-form-urlencoded/i.test(contentType)) json = new URLSearchParams(json).get("payload") ?? "";
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return "";
  }
  const ref = typeof doc === "object" && doc !== null ? (doc as { ref?: unknown }).ref : undefined;
  return typeof ref === "string" && ref.startsWith("refs/") ? ref : "";
}

/** The ref the last poll resolved --ref to, or "" when unknown (a peeled tag's "^{}" dropped). */
function polledRef(remoteRef: string): string {
  const ref = remoteRef.replace(/\^\{\}$/, "");
  return ref === "HEAD" ? "" : ref;
}

/** What pushes are compared with, for messages: the polled ref, else --ref as given. */
export function syncedRef(remoteRef: string, configRef: string): string {
  return polledRef(remoteRef) || configRef;
}

/**
 * Whether a push to `pushed` can move what we sync. Once a poll resolved --ref, only that ref;
 * before, the names git's DWIM tries for --ref (repo/remote.ts, the poll's own list), and any
 * push when --ref is HEAD: which branch the remote's HEAD names is not known yet.
 */
export function refMatches(pushed: string, remoteRef: string, configRef: string): boolean {
  // `semver:` follows whichever tag is highest: any tag push (or deletion) can change the choice.
  if (semverRange(configRef) !== null) return pushed.startsWith("refs/tags/");
  const polled = polledRef(remoteRef);
  if (polled !== "") return pushed === polled;
  if (configRef === "HEAD") return true;
  return refCandidates(configRef).includes(pushed);
}

/**
 * Spaces push-triggered wake-ups at least `minInterval` ms apart. The first push after a quiet
 * interval wakes at once (the push-to-publish latency); pushes within the interval schedule one
 * wake at its end and later ones join it, so a burst costs at most two syncs.
 */
export class PushCoalescer {
  private last = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private due = 0;

  constructor(
    private readonly minInterval: number,
    private readonly wake: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Wakes the loop or joins the deferred wake-up; returns the ms until the sync starts (0: now). */
  request(): number {
    const now = this.now();
    if (this.timer !== null) return Math.max(0, this.due - now);
    if (now - this.last >= this.minInterval) {
      this.last = now;
      this.wake();
      return 0;
    }
    this.due = this.last + this.minInterval;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.last = this.now();
      this.wake();
    }, this.due - now);
    return this.due - now;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

export function createPushTrigger(config: PushConfig, deps: PushDeps): PushTrigger {
  const { log } = deps;
  const coalescer = new PushCoalescer(config.httpSyncMinInterval, deps.requestSync);
  const budget = new RequestBudget(BURST, PER_SECOND);

  const unauthorized = (remote: string, why: string): Response => {
    pushRequestCount.inc({ result: "unauthorized" });
    log.v(1, "refused a sync request", { remote, reason: why });
    return text(401, "sync requests must carry a signature or token made with the sync secret\n");
  };
  const tooLarge = (remote: string): Response => {
    pushRequestCount.inc({ result: "too_large" });
    log.v(1, "refused a sync request", { remote, reason: `body over ${formatBytes(MAX_BODY)}` });
    return text(413, `request body over ${formatBytes(MAX_BODY)}\n`);
  };
  // Signed bodies being read. A caller without the secret can hold every slot, each for at most
  // READ_DEADLINE_MS; signed pushes meanwhile get 503 and the next poll catches what they carried.
  let unchecked = 0;
  const busy = (remote: string): Response => {
    pushRequestCount.inc({ result: "busy" });
    log.v(1, "refused a sync request", { remote, reason: `${UNAUTHENTICATED_READS} signed requests already being read` });
    return text(503, "too many signed requests being read: retry in 1s\n", { "Retry-After": "1" });
  };
  /** The body, or the answer when it can't be had: over MAX_BODY, not in by READ_DEADLINE_MS, or the caller went away. */
  const readBody = async (req: Request, remote: string): Promise<Uint8Array | Response> => {
    try {
      return await readBounded(req, { maxBytes: MAX_BODY, deadline: Date.now() + READ_DEADLINE_MS, what: "request body" });
    } catch (e) {
      if (e instanceof BodyTooLarge) return tooLarge(remote);
      const slow = e instanceof BodyTooSlow;
      pushRequestCount.inc({ result: slow ? "too_slow" : "unreadable" });
      log.v(1, "refused a sync request", { remote, reason: (e as Error).message });
      return slow ? text(408, `request body not complete within ${READ_DEADLINE_MS / 1000}s\n`) : text(400, "can't read the request body\n");
    }
  };
  const requested = (remote: string, kv: Record<string, string>): Response => {
    const inMs = Math.round(coalescer.request());
    pushRequestCount.inc({ result: "accepted" });
    log.v(1, "sync requested over HTTP", { remote, ...kv, ...(inMs > 0 ? { inMs } : {}) });
    return text(202, inMs === 0 ? "sync requested\n" : `sync requested: joins the sync due in ${inMs}ms\n`);
  };
  const ignored = (remote: string, status: number, body: string): Response => {
    pushRequestCount.inc({ result: "ignored" });
    log.v(2, "ignored a sync request", { remote, reason: body.trim() });
    return text(status, body);
  };

  return {
    async handle(req, remote) {
      if (req.method !== "POST") return text(405, "method not allowed: use POST\n", { Allow: "POST" });
      if (config.httpSyncSecretFile === "") {
        pushRequestCount.inc({ result: "disabled" });
        return text(403, "push trigger is off: start git-sync with --http-sync-secret-file\n");
      }

      const proof = proofOf(req.headers);
      if (proof === null) return unauthorized(remote, "no signature or token");
      if (declaresOver(req.headers, MAX_BODY)) return tooLarge(remote);
      let secret: string;
      try {
        secret = readSigningKey(config.httpSyncSecretFile, "sync secret file");
      } catch (e) {
        pushRequestCount.inc({ result: "error" });
        log.error(e, "can't check a sync request");
        return text(500, "can't check the request's credentials\n");
      }
      let body: Uint8Array | null = null;
      if (proof.kind === "token") {
        if (!sameSecret(proof.token, secret)) return unauthorized(remote, `wrong ${proof.header}`);
      } else {
        if (unchecked >= UNAUTHENTICATED_READS) return busy(remote);
        unchecked++;
        let read: Uint8Array | Response;
        try {
          read = await readBody(req, remote);
        } finally {
          unchecked--;
        }
        if (read instanceof Response) return read;
        body = read;
        if (!sameSecret(proof.hex, signBody(secret, body).slice("sha256=".length))) return unauthorized(remote, `wrong ${proof.header}`);
      }

      if (!budget.take()) {
        const inMs = Math.round(coalescer.request());
        pushRequestCount.inc({ result: "rate_limited" });
        log.v(2, "rate-limited a sync request", { remote, inMs });
        const retry = budget.retryAfter();
        return text(429, `too many requests: retry in ${retry}s; a sync is due in ${inMs}ms anyway\n`, { "Retry-After": String(retry) });
      }

      const event = eventOf(req.headers);
      if (event.kind === "ping") return ignored(remote, 200, "pong\n");
      if (event.kind === "other") return ignored(remote, 200, `ignored: not a push (${event.text})\n`);
      if (body === null) {
        const read = await readBody(req, remote);
        if (read instanceof Response) return read;
        body = read;
      }
      // git-sync's own webhook (Gitsync-Hash) names the sender's --ref, which says nothing of ours.
      const ref = req.headers.has("gitsync-hash") ? "" : pushedRef(body, req.headers.get("content-type") ?? "");
      // With --also-link, a push to any synced ref wakes the attempt, which fetches only what moved.
      const synced = [{ remoteRef: deps.state.remoteRef, ref: config.ref }, ...(deps.state.links ?? []).map((l) => ({ remoteRef: l.state.remoteRef, ref: l.ref }))];
      if (ref !== "" && !synced.some((t) => refMatches(ref, t.remoteRef, t.ref))) {
        return ignored(remote, 200, `ignored: push to ${ref}, syncing ${synced.map((t) => syncedRef(t.remoteRef, t.ref)).join(", ")}\n`);
      }
      return requested(remote, ref === "" ? {} : { ref });
    },
    stop() {
      coalescer.stop();
    },
  };
}
