// /readyz (ours, opt-in): upstream's probe turns ready once and stays ready forever, so a pod
// serves days-old content while its sync fails. With --readiness-max-failures and/or
// --readiness-max-age this probe turns unready again, and ready once syncing recovers.
import type { SyncState } from "../state/sync-state.ts";
import { formatGoDuration } from "../lib/go.ts";

export interface ReadinessConfig {
  /** 0 = off. */
  readinessMaxFailures: number;
  /** Milliseconds; 0 = off. Should exceed --period, or a healthy instance flaps. */
  readinessMaxAge: number;
}

export type Readiness = { ready: true } | { ready: false; reason: string };

/** With --also-link, every ref must pass: the first that does not gives the reason. */
export function readiness(config: ReadinessConfig, state: SyncState, now = Date.now()): Readiness {
  const main = refReadiness(config, state, now);
  if (!main.ready) return main;
  for (const l of state.links) {
    const r = refReadiness(config, l.state, now);
    if (!r.ready) return { ready: false, reason: `link ${l.name}: ${r.reason}` };
  }
  return main;
}

function refReadiness(config: ReadinessConfig, state: SyncState, now: number): Readiness {
  if (!state.ready) return { ready: false, reason: "repo is not ready" };
  if (config.readinessMaxFailures > 0 && state.consecutiveFailures >= config.readinessMaxFailures) {
    return { ready: false, reason: `not ready: ${state.consecutiveFailures} consecutive failures` };
  }
  if (config.readinessMaxAge > 0) {
    if (state.lastSuccess === null) return { ready: false, reason: "not ready: no successful sync yet" };
    const age = now - state.lastSuccess;
    if (age > config.readinessMaxAge) {
      return { ready: false, reason: `not ready: last successful sync ${formatGoDuration(Math.round(age / 1000) * 1000)} ago` };
    }
  }
  return { ready: true };
}
