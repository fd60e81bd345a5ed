// One sync attempt (compat.md 4.2): refresh credentials, validate root, fetch the ref, and if
// the remote moved (or this is the process's first update) check out a worktree and publish it.
import { rmSync } from "node:fs";
import type { HookEvent, Hooks } from "../hooks/index.ts";
import { fetchCount } from "../http/metrics.ts";
import { worktreePath, type RepoContext } from "../repo/context.ts";
import { fetchRef } from "../repo/fetch.ts";
import { initRepo } from "../repo/root.ts";
import { configureWorktree, createWorktree, removeWorktree, worktreeIsValid } from "../repo/worktree.ts";
import { publishSymlink, readCurrent, touchOldWorktree } from "../publish/symlink.ts";

export interface SyncResult {
  changed: boolean;
  hash: string;
  /** Hooks that were handed an event in this attempt (one-time mode waits for them). */
  sent: Array<"exechook" | "webhook" | "prePublish">;
}

/** The pre-publish gate refused the hash: not a git failure, so it does not count toward --max-failures. */
export class GateRejected extends Error {}

export class Syncer {
  /** Successful updates by this process (compat.md 4.2 step 8). */
  private updates = 0;

  constructor(
    private readonly ctx: RepoContext,
    private readonly hooks: Hooks,
    private readonly refreshCredentials: (deadline: number) => Promise<void>,
  ) {}

  async attempt(deadline: number, syncCount: number): Promise<SyncResult> {
    const { ctx, hooks } = this;
    const { config, log, root } = ctx;
    // Throws "credential refresh failed: ..." itself; FatalAuthError ends the process (loop.ts).
    await this.refreshCredentials(deadline);
    await initRepo(ctx, deadline);

    const current = readCurrent(ctx.link);
    let currentHash = current?.hash ?? "";
    const currentPath = current?.path ?? "";
    log.v(3, "current state", { ref: config.ref, hash: currentHash, worktree: currentPath });

    const remoteHash = await fetchRef(ctx, deadline);

    if (currentHash === remoteHash) {
      log.v(3, "current hash is same as remote", { hash: currentHash });
      if (!(await worktreeIsValid(ctx, currentPath, currentHash, deadline))) {
        log.info("worktree failed checks or was empty", { path: currentPath });
        await removeWorktree(ctx, currentPath, deadline);
        currentHash = "";
      }
    }

    // The second clause catches v3 layouts (root/<hash>, root/rev-<hash>).
    const changed = currentHash !== remoteHash || currentPath !== worktreePath(ctx, currentHash);
    const sent: SyncResult["sent"] = [];
    if (!changed && this.updates > 0) {
      log.v(2, "update not required", { ref: config.ref, remote: remoteHash, syncCount });
      return { changed, hash: remoteHash, sent };
    }

    log.info("update required", { ref: config.ref, local: currentHash, remote: remoteHash, syncCount });
    fetchCount.inc();
    // Keeps the commit reachable from a branch and makes the next fetch cheap.
    await ctx.git.run(["reset", "--soft", remoteHash, "--"], { cwd: root, deadline });

    const worktree = changed ? await createWorktree(ctx, remoteHash, deadline) : currentPath;
    await configureWorktree(ctx, worktree, remoteHash, deadline);
    const ev: HookEvent = { hash: remoteHash, previousHash: current?.hash ?? "", worktree };

    if (changed) {
      if (hooks.gate) {
        const verdict = await hooks.gate(ev);
        if (!verdict.ok) throw new GateRejected(`pre-publish hook rejected ${remoteHash}, not publishing: ${verdict.error}`);
      } else if (hooks.prePublish) {
        hooks.prePublish.send(ev);
        sent.push("prePublish");
      }
      publishSymlink(log, ctx.link, worktree);
      if (currentPath !== "") touchOldWorktree(log, currentPath);
    }
    for (const name of ["exechook", "webhook"] as const) {
      const runner = hooks[name];
      if (runner) {
        runner.send(ev);
        sent.push(name);
      }
    }

    this.updates++;
    log.info("updated successfully", { ref: config.ref, remote: remoteHash, syncCount });
    if (currentHash !== "" && currentPath !== worktreePath(ctx, currentHash)) {
      // A v3 worktree (root/<hash> or root/rev-<hash>): the link has moved off it.
      log.v(1, "removing old-layout worktree", { path: currentPath });
      rmSync(currentPath, { recursive: true, force: true });
    }
    return { changed, hash: remoteHash, sent };
  }
}
