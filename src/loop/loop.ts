// The outer loop (behaviour.md 4.1): attempt, count, clean up, sleep, repeat; the failure
// budget (--max-failures, --init-max-failures), one-time exits, sleep-forever for hash refs,
// and the wake-ups (--sync-on-signal, POST /sync).
import { FatalAuthError } from "../auth/index.ts";
import { removeStaleWorktrees } from "../cleanup/stale.ts";
import { dropObjectStore } from "../publish/copy.ts";
import type { Config } from "../config/types.ts";
import { Duration } from "../lib/go.ts";
import { releaseStartupPages } from "../lib/memory.ts";
import { syncCount as syncCountMetric, syncDuration } from "../state/metrics.ts";
import { deleteErrorFile, errorText, type Logger } from "../log/logger.ts";
import type { RepoContext } from "../repo/context.ts";
import { RootBusy } from "../repo/lock.ts";
import { touch } from "./touch.ts";
import { LINKS_FILE, reconcileLinks } from "../publish/links.ts";
import type { SyncState } from "../state/sync-state.ts";
import type { HookRunner, Hooks } from "../hooks/index.ts";
import { FatalError, GateRejected, type SyncResult } from "./sync.ts";
import { PartialFailure } from "./fleet.ts";
import { VerifyRefused } from "../verify/index.ts";

export interface LoopDeps {
  config: Config;
  ctx: RepoContext;
  /** A Syncer, or with --also-link a Fleet of them (fleet.ts). */
  syncer: { attempt(deadline: number, syncCount: number): Promise<SyncResult> };
  hooks: Hooks;
  state: SyncState;
  log: Logger;
  touchFile: string;
  wake: Wake;
  /** True once the process is asked to stop (SIGTERM/SIGINT). */
  stopping: () => boolean;
  /** Called when a hash ref is synced and the loop settles into sleep-forever. */
  onSleepForever: () => void;
}

/** A one-slot wake-up: several requests during an attempt count as one (behaviour.md 4.6). */
export class Wake {
  private pending = false;
  private resolve: (() => void) | null = null;

  request(): void {
    this.pending = true;
    this.resolve?.();
  }

  /** Sleep `ms`, or less if a wake-up is (or was, during the attempt) requested. */
  async sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    await new Promise<void>((res) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        res();
      }
      this.resolve = done;
    });
    this.resolve = null;
    this.pending = false;
  }
}

export async function runLoop(d: LoopDeps): Promise<number> {
  const { config, log, state } = d;
  let failCount = 0;
  /** Signature refusals in a row: failures for readiness, outside the --max-failures budget. */
  let refusals = 0;
  let syncCount = 0;
  let initialDone = false;
  let wait = config.initPeriod;

  while (!d.stopping()) {
    const started = Date.now();
    // A poll can take well under a millisecond: time it with the monotonic clock's fractions.
    const clock = performance.now();
    const deadline = started + config.syncTimeout;
    state.lastAttempt = started;
    log.v(3, "syncing", { ref: config.ref });
    try {
      const result = await d.syncer.attempt(deadline, syncCount);
      const seconds = (performance.now() - clock) / 1000;
      if (!initialDone) {
        initialDone = true;
        if (!config.oneTime) releaseStartupPages(log);
        if (config.initPeriod !== config.period) {
          log.info("initial sync complete, switching to normal period", { period: new Duration(config.period) });
        }
        wait = config.period;
      }
      state.ready = true;
      state.hash = result.hash;
      if (result.remoteRef !== "") state.remoteRef = result.remoteRef;
      state.lastSuccess = Date.now();
      state.lastError = "";
      if (result.changed || syncCount === 0) {
        if (d.touchFile !== "") touch(log, d.touchFile);
        syncCountMetric.inc({ status: "success" });
        syncDuration.observe(seconds, { status: "success" });
      } else {
        syncCountMetric.inc({ status: "noop" });
        syncDuration.observe(seconds, { status: "noop" });
      }
      syncCount++;
      state.syncCount = syncCount;
      // After the first good attempt (the first sync may have had to wipe root): drop the links
      // an earlier run's --also-link made and this one does not, before cleanup takes their trees.
      if (syncCount === 1) {
        try {
          reconcileLinks(log, d.ctx.root, config.alsoLinks);
        } catch (e) {
          log.error(e, "can't update the list of links", { file: LINKS_FILE });
        }
      }
      // A copy's first update of a process makes nothing unreachable worth a gc; later ones do.
      const copyChanged = config.linkMode === "copy" && result.changed && syncCount > 1;
      await removeStaleWorktrees(d.ctx, result.linked ?? [result.hash], deadline, copyChanged).catch((e) => log.error(e, "git cleanup failed"));

      if (config.oneTime) {
        const ok = await waitForHooks(result.sent);
        // --copy-drop-repo: an init container wants the files and nothing else.
        if (config.copyDropRepo) dropObjectStore(d.ctx.root, d.ctx.link, log);
        deleteErrorFile(config.errorFile);
        const code = ok ? 0 : 1;
        log.info("exiting after one sync", { status: code });
        return code;
      }
      if (result.hash === config.ref && config.alsoLinks.length === 0) {
        log.info("ref appears to be a git hash, no further sync needed", { ref: config.ref });
        deleteErrorFile(config.errorFile);
        return await sleepForever(d);
      }
      if (failCount > 0) log.v(4, "resetting failure count", { failCount });
      failCount = 0;
      refusals = 0;
      state.consecutiveFailures = 0;
      deleteErrorFile(config.errorFile);
    } catch (err) {
      if (d.stopping()) break;
      if (err instanceof FatalAuthError || err instanceof FatalError || err instanceof RootBusy) {
        // e.g. an unreadable GitHub App key file (behaviour.md 6.4), another git-sync on this root: exit 1 at once.
        log.error(err.cause ?? null, err.message);
        return 1;
      }
      const seconds = (performance.now() - clock) / 1000;
      state.lastError = errorText(err);
      syncCountMetric.inc({ status: "error" });
      syncDuration.observe(seconds, { status: "error" });
      if (err instanceof PartialFailure) {
        // What the other refs published stands: clean up around every link.
        await removeStaleWorktrees(d.ctx, err.linked, deadline).catch((e) => log.error(e, "git cleanup failed"));
      }
      if (err instanceof GateRejected || (err instanceof PartialFailure && err.gateOnly)) {
        // Git worked; the content was refused. Retry after the hook's backoff, on the newest hash.
        log.error(err, "pre-publish hook failed, not publishing; will retry", { retry: new Duration(config.prePublish.backoff) });
        if (config.oneTime) return 1;
        // The hook's own backoff, not the period; a newer commit fetched then supersedes this one.
        await d.wake.sleep(config.prePublish.backoff);
        continue;
      }
      if (err instanceof PartialFailure && err.refusalsOnly) {
        // Some refs were refused (gate or signature), none failed: as a refusal, not counted.
        refusals++;
        state.consecutiveFailures = failCount + refusals;
        log.error(err, "refs refused, not publishing them; will retry");
        if (config.oneTime) return 1;
        await d.wake.sleep(wait);
        continue;
      }
      if (err instanceof VerifyRefused) {
        refusals++;
        state.consecutiveFailures = failCount + refusals;
        log.error(err, err.why, { verdict: err.verdict.result, object: err.verdict.object, hash: err.verdict.oid, fingerprint: err.verdict.fingerprint });
        if (config.oneTime) return 1;
        await d.wake.sleep(wait);
        continue;
      }
      failCount++;
      state.consecutiveFailures = failCount + refusals;
      const max = !initialDone && config.initMaxFailures !== undefined ? config.initMaxFailures : config.maxFailures;
      if (max >= 0 && failCount >= max) {
        log.error(err, "too many failures, aborting", { failCount, maxFailures: max });
        return 1;
      }
      log.error(err, "error syncing repo, will retry", { failCount });
    }
    // Not upstream, which sleeps the whole period after each attempt: while attempts succeed,
    // they start every period (a longer attempt is followed at once by the next), so the time
    // from a push to the poll that sees it is half a period on average, whatever an update and
    // its cleanup took. After a failure the full period passes before the retry, as upstream.
    const pause = failCount === 0 ? Math.max(0, Math.floor(wait - (performance.now() - clock))) : wait;
    log.v(3, "next sync", { waitTime: new Duration(pause), syncCount });
    await d.wake.sleep(pause);
  }
  return 0;
}

/** One-time mode (behaviour.md 4.5): each hook that was handed the hash is tried once; all must pass. */
async function waitForHooks(sent: HookRunner[]): Promise<boolean> {
  const results = await Promise.all(sent.map((r) => r.firstResult()));
  return results.every(Boolean);
}

/** A full-hash ref never moves: keep serving HTTP and hook retries; SIGINT ends it with 0 (behaviour.md 4.1). */
async function sleepForever(d: LoopDeps): Promise<number> {
  d.onSleepForever();
  while (!d.stopping()) await Bun.sleep(1000);
  return 0;
}
