// Several refs from one process (--also-link NAME=REF, issue 15): one Syncer per ref, each with
// its own link, hooks and state, over one root and one object store. An attempt asks the remote
// once for every ref (RemoteQuery.resolveMany: one ls-refs request, one ref-file read or one
// ls-remote), fetches every ref that moved with one `git fetch`, then publishes each moved ref
// on its own: a ref that fails (a vanished branch, a gate refusal) keeps its last good link and
// does not stop the others. Worktrees are named by hash, so a commit two refs share is checked
// out once. With no --also-link this file is not used: the loop drives the one Syncer directly.
import { initRepo } from "../repo/root.ts";
import type { RepoContext } from "../repo/context.ts";
import { fetchRefs, SourceFailed, type FetchedRef } from "../repo/fetch.ts";
import type { RemoteQuery, RemoteRef } from "../repo/remote.ts";
import { readCurrent } from "../publish/symlink.ts";
import { errorText } from "../log/logger.ts";
import { linkSyncCount } from "../state/metrics.ts";
import type { SyncState } from "../state/sync-state.ts";
import { GateRejected, offFromRoot, type Published, type SyncResult, type Syncer } from "./sync.ts";
import { VerifyRefused } from "../verify/index.ts";

export interface FleetMember {
  /** The link's name for logs, metrics and status ("" for the main --link). */
  name: string;
  syncer: Syncer;
  /** This ref's state (the main ref's is the loop's own, which the loop writes). */
  state: SyncState | null;
}

/**
 * Some refs of an attempt failed. The attempt counts as failed (--max-failures, readiness,
 * --one-time exit 1) but what the others published stands, and cleanup keeps every link's hash.
 */
export class PartialFailure extends Error {
  constructor(
    message: string,
    readonly linked: string[],
    /** Every failure was a gate refusal: retried after the hook's backoff, not counted. */
    readonly gateOnly: boolean,
    /** Every failure was a gate or signature refusal: not counted toward --max-failures. */
    readonly refusalsOnly: boolean,
  ) {
    super(message);
  }
}

export class Fleet {
  constructor(
    private readonly ctx: RepoContext,
    private readonly members: FleetMember[],
    private readonly remote: RemoteQuery,
    private readonly refreshCredentials: (deadline: number) => Promise<void>,
  ) {}

  async attempt(deadline: number, syncCount: number): Promise<SyncResult> {
    await this.refreshCredentials(deadline);
    const rootOff = offFromRoot(this.ctx.root);
    const begun = this.members.map((m) => ({ m, ...m.syncer.begin(rootOff) }));
    const refs = this.members.map((m) => m.syncer.target.ref);
    // One question for every ref, even those that run the full checks: the answer tells a
    // vanished ref from a moved one, and what was fetched is held to it.
    const answers = await this.remote.resolveMany(refs, deadline);
    const results = new Map<FleetMember, SyncResult>();
    const failures = new Map<FleetMember, Error>();

    const moved: Array<{ m: FleetMember; full: boolean; polled: RemoteRef | null }> = [];
    for (const b of begun) {
      const ref = b.m.syncer.target.ref;
      const polled = answers?.get(ref) ?? null;
      // Refused before and not moved: refused again without a fetch (--verify-signatures).
      const refused = b.published && !b.full && polled ? b.m.syncer.refusedBefore(b.published, polled) : null;
      if (answers && polled === null) {
        // git's own words for a ref the remote does not have; the last good link stays.
        failures.set(b.m, new Error(`couldn't find remote ref ${ref}`));
      } else if (b.published && !b.full && polled?.oid === b.published.oid) {
        try {
          results.set(b.m, b.m.syncer.unchanged(b.published as Published, polled, syncCount));
        } catch (e) {
          failures.set(b.m, e as Error);
        }
      } else if (refused) {
        failures.set(b.m, refused);
      } else {
        moved.push({ m: b.m, full: b.full, polled });
      }
    }

    if (moved.length > 0) {
      // A failed `git version` (startup) ends the process even while the root checks run.
      await Promise.all([moved.some((x) => x.full) ? initRepo(this.ctx, deadline) : null, this.members[0]!.syncer.startup]);
      const hashes = await this.fetch(deadline, moved, failures);
      if (answers === null && hashes.size > 0) this.remote.fetchWorked();
      // Refs that moved to different commits are checked out at the same time, each into its
      // own worktree and link (the git steps that can't run side by side take turns,
      // repo/worktree.ts). Refs that moved to the same commit go one after another, so the
      // first checks it out and the rest share it.
      const byHash = new Map<string, typeof moved>();
      for (const x of moved) {
        const hash = hashes.get(x.m.syncer.target.ref)?.hash;
        if (hash === undefined) continue;
        byHash.set(hash, [...(byHash.get(hash) ?? []), x]);
      }
      await Promise.all(
        [...byHash.values()].map(async (group) => {
          for (const x of group) {
            try {
              results.set(x.m, await x.m.syncer.publishFetched(deadline, syncCount, x.polled, hashes.get(x.m.syncer.target.ref)!, x.full));
            } catch (e) {
              failures.set(x.m, e as Error);
            }
          }
        }),
      );
    }
    return this.settle(results, failures);
  }

  /**
   * One fetch for every moved ref; if it fails, one per ref, so one bad ref cannot block the rest.
   * Each ref's commit is read from the fetched objects; publishFetched holds the poll's answer to it.
   */
  private async fetch(deadline: number, moved: Array<{ m: FleetMember; polled: RemoteRef | null }>, failures: Map<FleetMember, Error>): Promise<Map<string, FetchedRef>> {
    const refs = moved.map((x) => x.m.syncer.target.ref);
    try {
      return await this.fetchAs(deadline, moved);
    } catch (e) {
      // The source's fault (a --peers peer), for every ref: the attempt fails as a whole and is
      // made again from another source (src/peers/).
      if (e instanceof SourceFailed) throw e;
      if (new Set(refs).size === 1) {
        for (const x of moved) failures.set(x.m, x.m.syncer.refusal(e, x.polled, null) as Error);
        return new Map();
      }
      this.ctx.log.v(1, "fetching the refs one by one", { error: errorText(e) });
    }
    const out = new Map<string, FetchedRef>();
    for (const x of moved) {
      const ref = x.m.syncer.target.ref;
      if (out.has(ref)) continue;
      try {
        const one = await this.fetchAs(deadline, [x]);
        out.set(ref, one.get(ref)!);
      } catch (e) {
        for (const y of moved) if (y.m.syncer.target.ref === ref) failures.set(y.m, y.m.syncer.refusal(e, y.polled, null) as Error);
      }
    }
    return out;
  }

  /**
   * fetchRefs keyed by ref. From a peer (--peers) each ref is fetched as the object its proven
   * answer named, by id (RemoteQuery.fetchByOid); else by name.
   */
  private async fetchAs(deadline: number, moved: Array<{ m: FleetMember; polled: RemoteRef | null }>): Promise<Map<string, FetchedRef>> {
    const asked = moved.map((x) => ({ ref: x.m.syncer.target.ref, target: this.remote.fetchByOid && x.polled ? x.polled.oid : x.m.syncer.target.ref }));
    const got = await fetchRefs(this.ctx, deadline, asked.map((a) => a.target));
    return new Map(asked.map((a) => [a.ref, got.get(a.target)!]));
  }

  /** Per-ref state and metrics; then the attempt's result (the main ref's) or its PartialFailure. */
  private settle(results: Map<FleetMember, SyncResult>, failures: Map<FleetMember, Error>): SyncResult {
    const now = Date.now();
    for (const m of this.members) {
      const r = results.get(m);
      const err = failures.get(m);
      if (err) this.ctx.log.error(err, "error syncing ref", { link: m.name || "(main)", ref: m.syncer.target.ref });
      linkSyncCount.inc({ link: m.name, status: err ? "error" : r?.changed ? "success" : "noop" });
      const st = m.state;
      if (!st) continue;
      st.lastAttempt = now;
      if (r) {
        st.ready = true;
        st.hash = r.hash;
        if (r.remoteRef !== "") st.remoteRef = r.remoteRef;
        st.lastSuccess = now;
        st.lastError = "";
        st.consecutiveFailures = 0;
        st.syncCount++;
      } else if (err) {
        st.lastError = errorText(err);
        st.consecutiveFailures++;
      }
    }
    // Every link's hash, a failed ref's last good one included, is kept by cleanup.
    const linked = this.members.map((m) => results.get(m)?.hash ?? readCurrent(m.syncer.target.link)?.hash ?? "").filter((h) => h !== "");
    if (failures.size > 0) {
      const text = [...failures].map(([m, e]) => `${m.name || "--link"} (${m.syncer.target.ref}): ${errorText(e)}`).join("; ");
      const gateOnly = [...failures.values()].every((e) => e instanceof GateRejected);
      const refusalsOnly = [...failures.values()].every((e) => e instanceof GateRejected || e instanceof VerifyRefused);
      throw new PartialFailure(`${failures.size} of ${this.members.length} refs failed: ${text}`, linked, gateOnly, refusalsOnly);
    }
    const main = results.get(this.members[0]!)!;
    const sent = this.members.flatMap((m) => results.get(m)?.sent ?? []);
    const changed = this.members.some((m) => results.get(m)?.changed);
    return { ...main, changed, sent, linked };
  }
}
