// One sync attempt (behaviour.md 4.2): refresh credentials, validate root, fetch the ref, and if
// the remote moved (or this is the process's first update) check out a worktree and publish it.
//
// Most attempts of a long-lived sidecar find nothing new, so after a good attempt the next one
// is a poll: a few direct reads of what we published (root, link, worktree HEAD), then one
// question to the remote (repo/remote.ts). Only if the ref moved does it fetch. The full checks
// of behaviour.md 1.3 and 1.4 (git rev-parse, two fscks, origin) run at startup, after any failed
// attempt, and whenever a direct read finds something off, which covers every repair the engine
// makes: a deleted link, worktree or root, a moved worktree HEAD, a leftover lock. Damage no read
// can see (objects deleted from .git) is found when git next needs them: that attempt fails and
// the following one runs the full checks, while the published files stay served.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { sendPublished, type HookEvent, type HookRunner, type Hooks } from "../hooks/index.ts";
import { fetchCount } from "../state/metrics.ts";
import { realDir, symlinkOnPath } from "../lib/no-follow.ts";
import { readSmallFile } from "../lib/small-files.ts";
import { parseGitfile, worktreePath, type RepoContext } from "../repo/context.ts";
import { fetchRef, type FetchedRef } from "../repo/fetch.ts";
import type { RemoteQuery, RemoteRef } from "../repo/remote.ts";
import { initRepo, keepReachable } from "../repo/root.ts";
import { configureWorktree, createWorktree, removeWorktree, worktreeIsValid } from "../repo/worktree.ts";
import { isServedTree, publishSymlink, readCurrent, touchOldWorktree } from "../publish/symlink.ts";
import { claimCopyDir, currentCopy } from "../publish/copy.ts";
import { VerifyRefused, type Verifier } from "../verify/index.ts";
import { syncCopy } from "./copy-sync.ts";
import { TreeRefused } from "../lib/refused.ts";

export interface SyncResult {
  changed: boolean;
  hash: string;
  /** The full remote ref name the poll resolved --ref to; "" when it did not ask or could not tell. */
  remoteRef: string;
  /** Hooks that were handed an event in this attempt (one-time mode waits for them). */
  sent: HookRunner[];
  /** Every hash a link points at after this attempt (cleanup keeps them); absent = just `hash`. */
  linked?: string[];
}

/**
 * The poll's reads of root, shared by every ref of a fleet: "" when root/.git is as a good
 * attempt leaves it, else what is off (the full checks then run).
 */
export function offFromRoot(root: string): string {
  try {
    if (!(readSmallFile(join(root, ".git", "HEAD")) ?? "").startsWith("ref: ")) return "root HEAD is not a branch";
    if (existsSync(join(root, ".git", "shallow.lock"))) return "root has a lock file";
  } catch (e) {
    return (e as Error).message;
  }
  return "";
}

/** A failure that ends the process with exit 1, logged as its message: at startup (run.ts) or in the loop (loop.ts). */
export class FatalError extends Error {}

/** The pre-publish gate refused the hash: not a git failure, so it does not count toward --max-failures. */
export class GateRejected extends Error {}

export interface SyncerOptions {
  /** Startup work still running when the loop starts (`git version`); rejects with a FatalError. */
  startup?: Promise<void>;
  /** False for an --also-link ref: root's branch (keepReachable) follows the main ref only. */
  ownsRootBranch?: boolean;
  /**
   * With --also-link: whether another link serves the worktree of this hash. Then it is shared
   * as it is, never checked out again (that would take it away from the link serving it).
   */
  linkedElsewhere?: (hash: string) => boolean;
  /** --verify-signatures, and the check of the host's answers (verify/index.ts); every Syncer has one. */
  verifier: Verifier;
  /** With --also-link: other refs' worktrees may be made at the same time (worktree.ts). */
  alongside?: boolean;
}

/**
 * In root: where a served worktree that failed its checks is checked out again while the link
 * still serves the old one (Syncer.serveFromRepair). Outside root/.worktrees, so cleanup never
 * takes it, and named so that the link's basename is still the hash.
 */
export const REPAIR_DIR = ".git-sync-repair";


/** What a good attempt left published: the hash, its worktree, and the object the ref named (a tag, or the commit). */
export interface Published {
  hash: string;
  worktree: string;
  oid: string;
}

export class Syncer {
  /** Successful updates by this process (behaviour.md 4.2 step 8). */
  private updates = 0;
  /** What the last good attempt left published; null = run the full checks next time. */
  private published: Published | null = null;
  /** The object the ref named when this process last published or checked it; survives failed attempts. */
  private publishedOid = "";

  /** Startup work still running when the loop starts (`git version`); rejects with a FatalError. */
  readonly startup: Promise<void>;
  private readonly ownsRootBranch: boolean;
  private readonly linkedElsewhere: (hash: string) => boolean;
  private readonly verifier: Verifier;
  private readonly alongside: boolean;

  constructor(
    private readonly ctx: RepoContext,
    private readonly hooks: Hooks,
    private readonly refreshCredentials: (deadline: number) => Promise<void>,
    private readonly remote: RemoteQuery,
    opts: SyncerOptions,
  ) {
    this.startup = opts.startup ?? Promise.resolve();
    this.ownsRootBranch = opts.ownsRootBranch ?? true;
    this.linkedElsewhere = opts.linkedElsewhere ?? (() => false);
    this.verifier = opts.verifier;
    this.alongside = opts.alongside ?? false;
  }

  /** The link this syncer publishes and the ref it follows. */
  get target(): { ref: string; link: string } {
    return { ref: this.ctx.config.ref, link: this.ctx.link };
  }

  async attempt(deadline: number, syncCount: number): Promise<SyncResult> {
    // Throws "credential refresh failed: ..." itself; FatalAuthError ends the process (loop.ts).
    await this.refreshCredentials(deadline);
    const { published, full } = this.begin();
    let polled: RemoteRef | null = null;
    if (published && !full) {
      polled = await this.remote.resolve(deadline);
      if (polled?.oid === published.oid) return this.unchanged(published, polled, syncCount);
      // A refused ref that has not moved: refused again, without a fetch (verify/index.ts).
      const refused = polled ? this.refusedBefore(published, polled) : null;
      if (refused) throw refused;
    }
    let result: SyncResult;
    try {
      result = await this.sync(deadline, syncCount, polled, full);
    } catch (e) {
      // Nothing on disk changed: the next poll may stay cheap.
      if (e instanceof VerifyRefused && published && !full) this.published = published;
      throw e;
    }
    if (!full && polled === null) this.remote.fetchWorked();
    return result;
  }

  /**
   * The start of an attempt (also for a fleet of refs, fleet.ts): what the last good attempt
   * left published, and whether the full checks must run (no good attempt yet, or a direct read
   * found something off). Until this attempt succeeds, the next one runs the full checks.
   */
  begin(rootOff = offFromRoot(this.ctx.root)): { published: Published | null; full: boolean } {
    const published = this.published;
    this.published = null;
    if (!published) return { published, full: true };
    const off = rootOff || this.offFromPublished(published);
    if (off === "") return { published, full: false };
    this.ctx.log.v(2, "running full checks", { reason: off });
    return { published, full: true };
  }

  /**
   * The poll found a ref this process refused and that has not moved: the same refusal, with no
   * fetch, and what is published stays as it was (so the next poll stays cheap).
   */
  refusedBefore(published: Published, polled: RemoteRef): VerifyRefused | null {
    const refused = this.verifier.remembered(polled.oid, polled.hash);
    if (refused) this.published = published;
    return refused;
  }

  /**
   * The poll names the object that is published (`polled.oid === published.oid`): nothing to
   * fetch, for what it peels to is known from our own objects. A poll that says it peels to
   * another commit is refused as a lie (VerifyRefused), and the published state stays.
   */
  unchanged(published: Published, polled: RemoteRef, syncCount: number): SyncResult {
    this.published = published;
    this.verifier.checkAnswer(polled, published);
    this.ctx.log.v(3, "current hash is same as remote", { hash: published.hash });
    this.ctx.log.v(2, "update not required", { ref: this.ctx.config.ref, remote: published.hash, syncCount });
    return { changed: false, hash: published.hash, remoteRef: polled.name, sent: [] };
  }

  /**
   * The direct reads a poll makes of the link and its worktree (offFromRoot reads root's): ""
   * when they are as this process left them, else what is off. Each read replaces a git process
   * upstream runs on every attempt. A worktree with its `.git` file is not empty (behaviour.md 1.4's
   * check), so reading that file answers both.
   */
  private offFromPublished(p: Published): string {
    const { root, link } = this.ctx;
    try {
      if (this.ctx.config.linkMode === "copy") return currentCopy(root, link) === p.hash ? "" : "copy changed";
      if (readCurrent(link)?.path !== p.worktree) return "link moved";
      const gitfile = join(p.worktree, ".git");
      const admin = parseGitfile(gitfile, readSmallFile(gitfile) ?? "");
      if (admin === null) return "worktree .git is not a gitfile";
      if (readSmallFile(join(admin, "HEAD"))?.trim() !== p.hash) return "worktree HEAD moved";
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  }

  /**
   * behaviour.md 4.2 steps 2-9. `polled`: the poll's answer when the ref moved (the fetch verifies
   * it); `full`: run the full root and worktree checks (false when the poll's reads just passed).
   */
  private async sync(deadline: number, syncCount: number, polled: RemoteRef | null, full: boolean): Promise<SyncResult> {
    const { ctx } = this;
    const { config, log } = ctx;
    // With the full checks there was no poll: a local repo's ref files are read alongside them.
    // That costs no process, and an edited packed-refs is caught on the first attempt too
    // (publishFetched holds the answer to what was fetched). Not over http: a request for that alone.
    // A `semver:` ref must always ask: the answer is what to fetch.
    // With --serve-git and --ref=HEAD, the mirror lists the branch HEAD names from the first
    // publish: only the remote's answer says which branch that is (FETCH_HEAD does not).
    const nameNeeded = config.serveGit.enabled && config.ref === "HEAD";
    const asking = full && (this.remote.kind === "local files" || this.remote.fetchByAnswer || this.remote.fetchByOid || nameNeeded) ? this.remote.resolve(deadline) : null;
    asking?.catch(() => {}); // awaited below, after the root checks

    // Before the root checks: a root that fails them is wiped, and a foreign directory inside it with it.
    if (config.linkMode === "copy" && this.updates === 0) claimCopyDir(ctx.root, ctx.link, log);
    // A failed `git version` (startup) ends the process even while the root checks run.
    await Promise.all([full ? initRepo(ctx, deadline) : null, this.startup]);
    const answer = polled ?? (await asking);
    // `semver:` fetches the tag it chose (always known here: that query throws rather than answer null).
    const resolvedRef = this.remote.fetchByAnswer ? (answer?.name ?? "") : "";

    // From a peer (--peers): the object its proven answer named, by id (RemoteQuery.fetchByOid).
    const target = this.remote.fetchByOid && answer ? answer.oid : resolvedRef || config.ref;
    const fetched = await fetchRef(ctx, deadline, target).catch((e) => {
      throw this.refusal(e, answer, null);
    });
    if (config.linkMode === "copy") {
      const r = await syncCopy(ctx, this.hooks, { deadline, syncCount, answer, fetched, resolvedRef, updates: this.updates, verifier: this.verifier, publishedOid: this.publishedOid }).catch((e) => {
        throw this.refusal(e, answer, fetched);
      });
      if (r.changed || this.updates === 0) this.updates++;
      this.keep({ hash: r.hash, worktree: ctx.link, oid: fetched.oid });
      return r;
    }
    return await this.publishFetched(deadline, syncCount, answer, fetched, full, resolvedRef);
  }

  /** A TreeRefused (git's fsck on fetch, copy mode's name checks) as the "bad-tree" refusal it is; other errors as they are. */
  refusal(e: unknown, answer: RemoteRef | null, fetched: FetchedRef | null): unknown {
    return e instanceof TreeRefused ? this.verifier.refuseTree(answer, fetched, e.message) : e;
  }

  private keep(p: Published): void {
    this.published = p;
    this.publishedOid = p.oid;
    this.lastKept = p;
  }

  /** What was last published or found published. */
  private lastKept: Published | null = null;

  /**
   * The object the ref named when `hash` was published (an annotated tag, or the commit): what
   * the git mirror advertises for the link (src/serve/). The hash itself when this process has not
   * published or checked it (before its first success, a link an earlier process left).
   */
  servedObject(hash: string): string {
    return this.lastKept?.hash === hash ? this.lastKept.oid : hash;
  }

  /**
   * The link serves `served`, a worktree of `hash` that failed its checks (a broken or rebuilt
   * `.git`, a moved HEAD). Check the commit out at root/.git-sync-repair/<hash> and point the link
   * there, so the worktree's own path is free to be made again: readers see the same commit
   * throughout. The caller then builds root/.worktrees/<hash>, publishes it and removes this one.
   */
  private async serveFromRepair(deadline: number, hash: string, served: string): Promise<void> {
    const { ctx } = this;
    const repair = join(ctx.root, REPAIR_DIR, hash);
    // Served from anywhere else (this repair dir after a crash, a v3 path), the worktree's own
    // path is free already: the caller builds it and removes `served` after the publish.
    if (served !== worktreePath(ctx, hash)) return;
    ctx.log.info("rebuilding the served worktree beside it", { path: served, repair });
    // A symlink planted at the repair directory is removed, never followed (issue 20).
    realDir(join(ctx.root, REPAIR_DIR));
    await removeWorktree(ctx, repair, deadline);
    const created = await createWorktree(ctx, hash, deadline, { path: repair, alongside: this.alongside });
    await configureWorktree(ctx, repair, hash, deadline, created.checkedOut);
    publishSymlink(ctx.log, ctx.link, repair);
    await removeWorktree(ctx, served, deadline);
  }

  /**
   * behaviour.md 4.2 steps 6-9, once the commit is fetched (by sync() above, or by a fleet's one
   * fetch for every ref that moved): check out a worktree if the ref moved, publish, hooks.
   * `fetched` was read from our own objects (fetch.ts); `answer` is only held to it.
   */
  async publishFetched(deadline: number, syncCount: number, answer: RemoteRef | null, fetched: FetchedRef, full: boolean, resolvedRef = ""): Promise<SyncResult> {
    this.verifier.checkAnswer(answer, fetched);
    const remoteHash = fetched.hash;
    const { ctx, hooks } = this;
    const { config, log } = ctx;
    const current = readCurrent(ctx.link);
    let currentHash = current?.hash ?? "";
    const currentPath = current?.path ?? "";
    log.v(3, "current state", { ref: config.ref, hash: currentHash, worktree: currentPath });

    /** A served worktree of remoteHash that failed its checks: rebuilt beside it (below). */
    let beside = "";
    if (currentHash === remoteHash) {
      log.v(3, "current hash is same as remote", { hash: currentHash });
      if (full && !(await worktreeIsValid(ctx, currentPath, currentHash, deadline))) {
        log.info("worktree failed checks or was empty", { path: currentPath });
        // Not upstream (issue 13), which removes it first: while the link serves it, the new
        // checkout is made elsewhere and the link moved over before the old one goes.
        if (isServedTree(currentPath) && !this.linkedElsewhere(remoteHash)) beside = currentPath;
        else await removeWorktree(ctx, currentPath, deadline);
        currentHash = "";
      }
    }

    // The second clause catches v3 layouts (root/<hash>, root/rev-<hash>).
    const changed = currentHash !== remoteHash || currentPath !== worktreePath(ctx, currentHash);
    const sent: SyncResult["sent"] = [];
    // The poll's name for the ref, else the one the fetch wrote (a first attempt over http does not poll).
    const remoteRef = answer?.name || fetched.name || "";
    if (!changed && this.updates > 0) {
      // A new object naming the published commit (a tag made again) is held to the policy as a
      // fresh one would be; the link stays either way.
      if (fetched.oid !== this.publishedOid) await this.verifier.check(ctx.git, ctx.root, deadline, fetched.oid, remoteHash);
      log.v(2, "update not required", { ref: config.ref, remote: remoteHash, syncCount });
      this.keep({ hash: remoteHash, worktree: currentPath, oid: fetched.oid });
      return { changed, hash: remoteHash, remoteRef, sent };
    }

    // Before anything is published or handed to a hook, the pre-publish gate included.
    await this.verifier.check(ctx.git, ctx.root, deadline, fetched.oid, remoteHash);

    const tag = resolvedRef ? { tag: resolvedRef } : {};
    log.info("update required", { ref: config.ref, ...tag, local: currentHash, remote: remoteHash, syncCount });
    fetchCount.inc();
    // Keeps the commit reachable from a branch and makes the next fetch cheap. Root's branch
    // belongs to the main ref; an --also-link ref's commit is kept by its worktree's HEAD.
    if (this.ownsRootBranch) await keepReachable(ctx, remoteHash, deadline);

    let worktree: string;
    if (changed && this.linkedElsewhere(remoteHash)) {
      worktree = worktreePath(ctx, remoteHash);
      log.v(1, "sharing the worktree another link serves", { path: worktree });
    } else {
      if (beside !== "") await this.serveFromRepair(deadline, remoteHash, beside);
      const created = changed ? await createWorktree(ctx, remoteHash, deadline, { alongside: this.alongside }) : { path: currentPath, checkedOut: false };
      worktree = created.path;
      await configureWorktree(ctx, worktree, remoteHash, deadline, created.checkedOut);
    }
    const ev: HookEvent = { hash: remoteHash, previousHash: current?.hash ?? "", worktree, ref: config.ref, link: ctx.link, resolvedRef };

    if (changed) {
      if (hooks.gate) {
        const verdict = await hooks.gate(ev);
        if (!verdict.ok) throw new GateRejected(`pre-publish hook rejected ${remoteHash}, not publishing: ${verdict.error}`);
      } else if (hooks.prePublish) {
        hooks.prePublish.send(ev);
        sent.push(hooks.prePublish);
      }
      publishSymlink(log, ctx.link, worktree);
      if (currentPath !== "") touchOldWorktree(log, currentPath);
    }
    sent.push(...sendPublished(hooks, ev));

    this.updates++;
    log.info("updated successfully", { ref: config.ref, ...tag, remote: remoteHash, syncCount });
    const repairDir = join(ctx.root, REPAIR_DIR);
    if (beside !== "" || currentPath.startsWith(repairDir + "/")) {
      // The repair checkout served while the worktree was rebuilt (serveFromRepair), or one a
      // crash left serving, or a served tree outside .worktrees: the link has moved off them.
      const planted = symlinkOnPath(repairDir) !== "";
      for (const p of new Set([join(repairDir, remoteHash), currentPath])) if (p !== worktree && !(planted && p.startsWith(repairDir + "/"))) await removeWorktree(ctx, p, deadline);
      rmSync(repairDir, { recursive: true, force: true });
    } else if (currentHash !== "" && currentPath !== worktreePath(ctx, currentHash)) {
      // A v3 worktree (root/<hash> or root/rev-<hash>): the link has moved off it.
      log.v(1, "removing old-layout worktree", { path: currentPath });
      rmSync(currentPath, { recursive: true, force: true });
    }
    this.keep({ hash: remoteHash, worktree, oid: fetched.oid });
    return { changed, hash: remoteHash, remoteRef, sent };
  }
}
