// The /status document (ours): what an operator asks first when a pod looks stuck. The same
// shape is read back by `git-sync status` (src/cli/status.ts), so it is a typed contract.
import type { Config } from "../config/types.ts";
import { makeAbsPath, shownLink } from "../config/index.ts";
import type { PeersState, ServeState, SyncState } from "../state/sync-state.ts";
import { scrub } from "../log/logger.ts";
import { redactURL } from "../log/redact.ts";
import { VERSION } from "../version.ts";
import { readiness, type ReadinessConfig } from "./readiness.ts";

export interface HookStatus {
  name: string;
  pending: string;
  lastSuccessHash: string;
  /** RFC 3339, or null before the first run. */
  lastRun: string | null;
  lastError: string;
  consecutiveFailures: number;
  running: boolean;
}

export interface StatusDocument {
  repo: string;
  ref: string;
  /** The full ref name --ref resolved to at the last successful poll (for `semver:`, the tag chosen); "" when unknown. */
  resolvedRef: string;
  root: string;
  link: string;
  /** The hash the link serves: this process's last sync, or before its first success, what it found served (below). */
  hash: string;
  /**
   * True while `hash` is what an earlier process published: this one has not synced successfully
   * yet (its first attempt is running, or failed). lastSuccess is null then. Absent from older instances.
   */
  hashFromBeforeStart: boolean;
  /** Upstream's probe: true after the first successful attempt of this process. */
  ready: boolean;
  /** /readyz's verdict (equal to `ready` unless the readiness options are set). */
  healthy: boolean;
  /** Why /readyz is 503, "" when healthy. */
  reason: string;
  lastAttempt: string | null;
  lastSuccess: string | null;
  consecutiveFailures: number;
  lastError: string;
  syncCount: number;
  hooks: Record<string, HookStatus>;
  /** --also-link refs (ours, issue 15); absent with one ref. */
  links?: LinkStatus[];
  /** The last signature verdict (--verify-signatures); null without one. `time` is RFC 3339. */
  verify: { result: string; object: string; oid: string; hash: string; signer: string; fingerprint: string; reason: string; time: string } | null;
  /** The git mirror at /git (--serve-git, ours); null without it, absent from older instances. */
  serve: ServeStatus | null;
  /** This replica in its --peers fleet (ours, issue 23); absent without --peers. */
  peers?: PeersStatus;
  version: string;
  pid: number;
  uptimeSeconds: number;
}

/** One --also-link ref in /status: what the main ref reports about itself, per link. */
export type LinkStatus = { name: string } & Pick<
  StatusDocument,
  "ref" | "link" | "hash" | "hashFromBeforeStart" | "ready" | "lastAttempt" | "lastSuccess" | "consecutiveFailures" | "lastError" | "syncCount" | "hooks"
>;

/** --serve-git's state as /status shows it: the sync state's, with `changedAt` as RFC 3339. */
export type ServeStatus = Omit<ServeState, "changedAt"> & {
  /** When the advertised refs last changed (a link moved); null before anything was published. */
  changedAt: string | null;
};

/** --peers' state as /status shows it: the sync state's, with `resolvedAt` as RFC 3339. */
export type PeersStatus = Omit<PeersState, "resolvedAt"> & { resolvedAt: string | null };

export type StatusConfig = Pick<Config, "repo" | "ref" | "root" | "link"> & ReadinessConfig;

const rfc3339 = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Errors are shown the way log lines are: URL user info and queries, and every registered secret, redacted. */
const redactText = scrub;

export function statusDocument(config: StatusConfig, state: SyncState, now = Date.now()): StatusDocument {
  const r = readiness(config, state, now);
  const links = state.links.map(
    (l): LinkStatus => ({
      name: l.name,
      ref: l.ref,
      link: l.link,
      ...served(l.state),
      ready: l.state.ready,
      lastAttempt: rfc3339(l.state.lastAttempt),
      lastSuccess: rfc3339(l.state.lastSuccess),
      consecutiveFailures: l.state.consecutiveFailures,
      lastError: redactText(l.state.lastError),
      syncCount: l.state.syncCount,
      hooks: hookStatuses(l.state),
    }),
  );
  return {
    repo: scrub(redactURL(config.repo)),
    ref: config.ref,
    resolvedRef: state.remoteRef,
    root: config.root,
    // --link is relative to --root unless absolute (behaviour.md 1.2); report the path it names,
    // without the credentials a link named after the repo URL may hold.
    link: shownLink(makeAbsPath(config.link, config.root), config.repo),
    ...served(state),
    ready: state.ready,
    healthy: r.ready,
    reason: r.ready ? "" : r.reason,
    lastAttempt: rfc3339(state.lastAttempt),
    lastSuccess: rfc3339(state.lastSuccess),
    consecutiveFailures: state.consecutiveFailures,
    lastError: redactText(state.lastError),
    syncCount: state.syncCount,
    hooks: hookStatuses(state),
    ...(links.length > 0 ? { links } : {}),
    verify: state.verify ? { ...state.verify, time: rfc3339(state.verify.time)! } : null,
    serve: state.serve ? { ...state.serve, changedAt: rfc3339(state.serve.changedAt) } : null,
    ...(state.peers ? { peers: { ...state.peers, resolveError: redactText(state.peers.resolveError), resolvedAt: rfc3339(state.peers.resolvedAt) } } : {}),
    version: VERSION,
    pid: process.pid,
    uptimeSeconds: Math.round((now - state.startedAt) / 10) / 100,
  };
}

/** After a restart the link keeps serving the earlier process's tree until this one's first success. */
function served(state: SyncState): Pick<StatusDocument, "hash" | "hashFromBeforeStart"> {
  const before = state.lastSuccess === null && state.servedAtStart !== "";
  return { hash: before ? state.servedAtStart : state.hash, hashFromBeforeStart: before };
}

function hookStatuses(state: SyncState): Record<string, HookStatus> {
  const hooks: Record<string, HookStatus> = {};
  for (const [k, h] of Object.entries(state.hooks)) {
    hooks[k] = { ...h, lastRun: rfc3339(h.lastRun), lastError: redactText(h.lastError) };
  }
  return hooks;
}
