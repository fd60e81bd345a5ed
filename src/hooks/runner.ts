// The hook runner of behaviour.md 5.1, shared by the exechook, the pre-publish hook and the webhook.
// Each runner owns a "latest event" slot and a one-element wake-up queue, so `send()` never
// blocks the sync loop, and a hook that is failing or slow is retried with the NEWEST hash only:
// after an outage the receiver gets one call, not a backlog.
import { hookRunCount } from "../state/metrics.ts";
import { Duration } from "../lib/go.ts";
import { errorText, type Logger } from "../log/logger.ts";
import type { HookState, SyncState } from "../state/sync-state.ts";

export type HookName = "exechook" | "pre-publish-exechook" | "webhook";

export interface HookEvent {
  hash: string;
  previousHash: string;
  /** Absolute path root/.worktrees/<hash>. */
  worktree: string;
  /** The ref as configured (--ref, or an --also-link's REF) and the link it is published at. */
  ref?: string;
  link?: string;
  /** `--ref=semver:` only: the tag chosen (refs/tags/v1.2.3); "" or absent otherwise. */
  resolvedRef?: string;
}

export interface HookRunner {
  readonly name: HookName;
  /** Never blocks; coalesces to the newest event. */
  send(ev: HookEvent): void;
  /** Resolves with the result of the first try (one-time mode: the only try). */
  firstResult(): Promise<boolean>;
}

/** One attempt of a hook: resolves on success, throws an Error whose message is the log's error text. */
export interface HookAction {
  readonly name: HookName;
  readonly backoff: number;
  run(ev: HookEvent): Promise<void>;
}

export function hookState(state: SyncState, name: HookName): HookState {
  let s = state.hooks[name];
  if (!s) {
    s = { name, pending: "", lastSuccessHash: "", lastRun: null, lastError: "", consecutiveFailures: 0, running: false };
    state.hooks[name] = s;
  }
  return s;
}

/**
 * Runs the action once, with the bookkeeping every try needs: state, metric, and the
 * `hook failed` line. Shared by the runner loop and the pre-publish gate.
 */
export async function attempt(action: HookAction, ev: HookEvent, state: HookState, log: Logger): Promise<{ ok: boolean; error: string }> {
  state.running = true;
  try {
    await action.run(ev);
    hookRunCount.inc({ name: action.name, status: "success" });
    state.lastSuccessHash = ev.hash;
    state.lastError = "";
    state.consecutiveFailures = 0;
    return { ok: true, error: "" };
  } catch (e) {
    const error = errorText(e);
    log.error(e, "hook failed", { hash: ev.hash, retry: new Duration(action.backoff) });
    hookRunCount.inc({ name: action.name, status: "error" });
    state.lastError = error;
    state.consecutiveFailures++;
    return { ok: false, error };
  } finally {
    state.running = false;
    state.lastRun = Date.now();
  }
}

export class Runner implements HookRunner {
  readonly name: HookName;
  private latest: HookEvent | null = null;
  private lastOK = "";
  /** The one-element queue: a token is waiting iff `queued`. */
  private queued = false;
  private wakeToken: (() => void) | null = null;
  /** Ends a backoff sleep early; only stop() uses it (a send must not shorten the backoff). */
  private wakeSleep: (() => void) | null = null;
  private sleepTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly first: Promise<boolean>;
  private resolveFirst!: (ok: boolean) => void;
  private firstDone = false;

  constructor(
    private readonly action: HookAction,
    private readonly state: HookState,
    private readonly log: Logger,
    private readonly oneTime: boolean,
  ) {
    this.name = action.name;
    this.first = new Promise((resolve) => (this.resolveFirst = resolve));
    // attempt() catches hook errors; anything else escaping is a bug, and must not go unseen.
    this.loop().catch((e: unknown) => log.error(e, "hook runner stopped unexpectedly"));
  }

  send(ev: HookEvent): void {
    if (this.stopped) return;
    this.latest = ev;
    this.state.pending = ev.hash;
    if (!this.queued) {
      this.queued = true;
      this.wakeToken?.();
    }
  }

  firstResult(): Promise<boolean> {
    return this.first;
  }

  stop(): void {
    this.stopped = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wakeToken?.();
    this.wakeSleep?.();
    // Nobody may wait forever on a runner that will never try (shutdown before the first send).
    this.report(false);
  }

  private report(ok: boolean): void {
    if (this.firstDone) return;
    this.firstDone = true;
    this.resolveFirst(ok);
  }

  private nextToken(): Promise<void> {
    if (this.queued || this.stopped) return Promise.resolve();
    return new Promise((resolve) => (this.wakeToken = resolve));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeSleep = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  private async loop(): Promise<void> {
    for (;;) {
      await this.nextToken();
      this.wakeToken = null;
      if (this.stopped) return;
      this.queued = false;
      for (;;) {
        // Re-read the slot on every try: a retry after a failure goes to the newest hash.
        const ev = this.latest!;
        if (ev.hash === this.lastOK) break;
        const { ok } = await attempt(this.action, ev, this.state, this.log);
        if (ok) this.lastOK = ev.hash;
        this.report(ok);
        if (this.oneTime) {
          // behaviour.md 4.5: exactly one try, then the process reports and exits.
          this.stopped = true;
          return;
        }
        if (ok || this.stopped) break;
        await this.sleep(this.action.backoff);
        this.sleepTimer = null;
        this.wakeSleep = null;
        if (this.stopped) return;
        // A token that arrived during the failure is consumed by this retry.
        this.queued = false;
      }
      if (this.stopped) return;
    }
  }
}
