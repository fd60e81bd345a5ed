// Nudges (issue 23): after the owner publishes, it tells every peer to sync now with a POST to
// their /sync, signed with the --serve-git secret's digest (proof.ts), so followers publish within a round trip of
// the owner instead of within a period. Sending is bounded (NUDGE_CONCURRENCY at once, each cut
// off after NUDGE_TIMEOUT_MS, never retried: a follower that misses one still polls every period)
// and coalesced (a publish during a round makes one more round, for the newest hash only).
// Receiving is cheap for the sender of a bogus one: a small body, one HMAC, then 401.
import { readBounded } from "../lib/bounded-body.ts";
import { RequestBudget } from "../lib/budget.ts";
import type { Logger } from "../log/logger.ts";
import { errorText } from "../log/logger.ts";
import { TOKEN_WINDOW_MS } from "../serve/peer-token.ts";
import { nudgeSigned, signNudge, SIGNATURE_HEADER } from "./proof.ts";

export const NUDGE_CONCURRENCY = 8;
export const NUDGE_TIMEOUT_MS = 2_000;
/** A nudge's body is one short JSON object. */
export const MAX_NUDGE = 4 << 10;
/** Bodies read at once before their signature is checked: others get 503 at once, unread. */
export const UNCHECKED_READS = 16;
/** Nudges remembered against replay (the oldest go first past it). */
const MAX_SEEN = 4096;
/** Valid nudges wake the loop at most this often in a burst (the loop coalesces them anyway). */
const BURST = 10;
const PER_SECOND = 5;

export interface NudgeDeps {
  log: Logger;
  /** The secret's SHA-256 (proof.ts), or the Error reading it gave. */
  key: () => string | Error;
  /** Counts: sent ok/failed, received ok/refused. */
  counted: (direction: "sent" | "received", result: "ok" | "failed" | "refused") => void;
}

export class Nudger {
  private running: Promise<void> | null = null;
  private next: { targets: string[]; from: string; hash: string } | null = null;

  constructor(private readonly deps: NudgeDeps) {}

  /** Nudge `targets` (address:port each) about `hash`; returns at once. */
  send(targets: string[], from: string, hash: string): void {
    if (targets.length === 0) return;
    this.next = { targets, from, hash };
    this.running ??= this.drain().finally(() => (this.running = null));
  }

  /** Resolves when no round is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.next) {
      const { targets, from, hash } = this.next;
      this.next = null;
      const key = this.deps.key();
      if (key instanceof Error) {
        this.deps.log.error(key, "can't nudge the peers");
        return;
      }
      const queue = [...targets];
      const worker = async () => {
        for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
          // Addressed and dated: good at `to` only, once, within the window (NudgeInbox).
          const body = JSON.stringify({ event: "git-sync-peer", from, to: t, hash, at: Date.now() });
          await this.one(t, body, signNudge(key, body));
        }
      };
      await Promise.all(Array.from({ length: Math.min(NUDGE_CONCURRENCY, targets.length) }, worker));
    }
  }

  private async one(target: string, body: string, signature: string): Promise<void> {
    try {
      const res = await fetch(`http://${target}/sync`, {
        method: "POST",
        headers: { "Content-Type": "application/json", [SIGNATURE_HEADER]: signature },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(NUDGE_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => {});
      const ok = res.status === 202;
      this.deps.counted("sent", ok ? "ok" : "failed");
      if (!ok) this.deps.log.v(1, "peer did not take the nudge", { peer: target, status: res.status });
    } catch (e) {
      this.deps.counted("sent", "failed");
      this.deps.log.v(1, "can't nudge peer", { peer: target, error: errorText(e) });
    }
  }
}

/** The receiving side of nudges: POST /sync with the peer signature header. */
export class NudgeInbox {
  private readonly budget = new RequestBudget(BURST, PER_SECOND);
  private reading = 0;

  /** Signatures of nudges taken within the window, with when they may be forgotten. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly deps: NudgeDeps,
    /** Wake the sync loop (and anything waiting for the owner). */
    private readonly wake: () => void,
    /** This replica's address:port, which a nudge must be addressed to ("" while unknown: any). */
    private readonly self: () => string = () => "",
  ) {}

  /** Whether this request is a nudge (it carries the peer signature header). */
  static isNudge(req: Request): boolean {
    return req.method === "POST" && req.headers.has(SIGNATURE_HEADER);
  }

  async handle(req: Request, remote: string): Promise<Response> {
    const key = this.deps.key();
    if (key instanceof Error) {
      await req.body?.cancel().catch(() => {});
      return text(503, "the --serve-git secret can't be read\n");
    }
    if (this.reading >= UNCHECKED_READS) {
      await req.body?.cancel().catch(() => {});
      return text(503, "too many nudges at once\n", { "Retry-After": "1" });
    }
    let body: Uint8Array;
    this.reading++;
    try {
      body = await readBounded(req, { maxBytes: MAX_NUDGE, what: "a nudge", deadline: Date.now() + NUDGE_TIMEOUT_MS });
    } catch (e) {
      this.deps.counted("received", "refused");
      return text(400, `${errorText(e)}\n`);
    } finally {
      this.reading--;
    }
    if (!nudgeSigned(key, body, req.headers.get(SIGNATURE_HEADER))) {
      this.deps.counted("received", "refused");
      this.deps.log.v(1, "refused a nudge: not signed with the --serve-git secret", { remote });
      return text(401, "the nudge is not signed with the peers' secret\n");
    }
    // Signed, and sent within the window a peer's token has (a nudge replayed later is refused).
    let nudge: { from?: unknown; to?: unknown; at?: unknown } = {};
    try {
      nudge = JSON.parse(new TextDecoder().decode(body)) as typeof nudge;
    } catch {
      // refused below: no time in it
    }
    const now = Date.now();
    const self = this.self();
    const signature = req.headers.get(SIGNATURE_HEADER)!;
    const why =
      typeof nudge.at !== "number" || Math.abs(now - nudge.at) > TOKEN_WINDOW_MS
        ? "not sent within the last minutes"
        : self !== "" && nudge.to !== self
          ? "addressed to another peer"
          : this.seen.has(signature)
            ? "taken already (a replay)"
            : "";
    if (why !== "") {
      this.deps.counted("received", "refused");
      this.deps.log.v(1, `refused a nudge: signed, but ${why}`, { remote });
      return text(401, `the nudge is ${why}\n`);
    }
    for (const [sig, until] of this.seen) {
      if (until > now && this.seen.size < MAX_SEEN) break;
      this.seen.delete(sig);
    }
    this.seen.set(signature, now + 2 * TOKEN_WINDOW_MS);
    if (!this.budget.take()) return text(429, "too many nudges\n", { "Retry-After": String(this.budget.retryAfter()) });
    this.deps.counted("received", "ok");
    const from = String(nudge.from ?? "");
    this.deps.log.v(2, "nudged by a peer", { peer: from, remote });
    this.wake();
    return text(202, "syncing\n");
  }

}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}
