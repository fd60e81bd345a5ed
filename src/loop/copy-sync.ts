// The publish step of `--link-mode=copy` (publish/copy.ts): the same attempt as the symlink
// mode's up to the fetch (sync.ts), then the link directory is brought to the fetched commit
// instead of a worktree being made and a symlink swapped. Hooks run with the link directory as
// their worktree (GITSYNC_HASH names the commit it now equals).
import { sendPublished, type HookEvent, type Hooks } from "../hooks/index.ts";
import { fetchCount } from "../state/metrics.ts";
import type { RepoContext } from "../repo/context.ts";
import type { FetchedRef } from "../repo/fetch.ts";
import type { RemoteRef } from "../repo/remote.ts";
import { keepReachable } from "../repo/root.ts";
import { currentCopy, publishCopy } from "../publish/copy.ts";
import type { Verifier } from "../verify/index.ts";
import type { SyncResult } from "./sync.ts";

export interface CopyAttempt {
  deadline: number;
  syncCount: number;
  /** The poll's answer, if there was one: held to what was fetched (Verifier.checkAnswer). */
  answer: RemoteRef | null;
  /** What the fetch got, read from our own objects (repo/fetch.ts). */
  fetched: FetchedRef;
  /** `semver:` only: the tag chosen, for hooks. */
  resolvedRef: string;
  /** Updates this process has made: the first one compares the whole tree. */
  updates: number;
  /** --verify-signatures and the check of the host's answers. */
  verifier: Verifier;
  /** The object the ref named when this process last published or checked it. */
  publishedOid: string;
}

export async function syncCopy(ctx: RepoContext, hooks: Hooks, a: CopyAttempt): Promise<SyncResult> {
  const { config, log, root, link } = ctx;
  const currentHash = currentCopy(root, link);
  log.v(3, "current state", { ref: config.ref, hash: currentHash, link });
  a.verifier.checkAnswer(a.answer, a.fetched);
  const { oid, hash: remoteHash } = a.fetched;
  const remoteRef = a.answer?.name || a.fetched.name || "";
  const changed = currentHash !== remoteHash;
  if (!changed && a.updates > 0) {
    // As in the symlink mode (sync.ts): a new object naming the published commit is checked.
    if (oid !== a.publishedOid) await a.verifier.check(ctx.git, root, a.deadline, oid, remoteHash);
    log.v(2, "update not required", { ref: config.ref, remote: remoteHash, syncCount: a.syncCount });
    return { changed, hash: remoteHash, remoteRef, sent: [] };
  }

  // Before a single file of the directory changes (as the symlink mode checks before its worktree).
  await a.verifier.check(ctx.git, root, a.deadline, oid, remoteHash);

  const tag = a.resolvedRef ? { tag: a.resolvedRef } : {};
  log.info("update required", { ref: config.ref, ...tag, local: currentHash, remote: remoteHash, syncCount: a.syncCount });
  fetchCount.inc();
  await keepReachable(ctx, remoteHash, a.deadline);
  // The process's first update compares every path (it repairs edits and converges after a
  // crash, as the symlink mode re-applies its worktree); later ones write what diff-tree lists.
  const from = a.updates > 0 ? currentHash : "";
  const started = performance.now();
  const r = await publishCopy({ git: ctx.git, log, root, link, from, to: remoteHash, deadline: a.deadline, submodules: config.submodules !== "off" });
  log.v(1, "copied tree", { link, mode: r.mode, written: r.written, removed: r.removed, ms: Math.round(performance.now() - started) });

  const ev: HookEvent = { hash: remoteHash, previousHash: currentHash, worktree: link, ref: config.ref, link, resolvedRef: a.resolvedRef };
  const sent = sendPublished(hooks, ev);
  log.info("updated successfully", { ref: config.ref, ...tag, remote: remoteHash, syncCount: a.syncCount });
  return { changed, hash: remoteHash, remoteRef, sent };
}
