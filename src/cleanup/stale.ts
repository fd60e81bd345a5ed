// After every successful attempt (behaviour.md 1.6): delete whatever in root/.worktrees is not a
// current hash (the link's; with --also-link, every link's) and is older than --stale-worktree-timeout (by mtime, so it survives restarts),
// then prune, expire reflogs (when there are any) and gc -- but only when something was deleted.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { RepoContext } from "../repo/context.ts";

const GC_ARGS: Record<string, string[] | null> = {
  auto: ["gc", "--auto"],
  always: ["gc"],
  aggressive: ["gc", "--aggressive"],
  off: null,
};

/**
 * `current`: every hash a link points at. `copyChanged`: --link-mode=copy published a new
 * commit; there are no worktrees to remove, but the previous commit's objects are now
 * unreachable, so prune and gc run as after a removal.
 */
export async function removeStaleWorktrees(ctx: RepoContext, current: readonly string[], deadline: number, copyChanged = false): Promise<void> {
  const { root, log, git, config } = ctx;
  const dir = join(root, ".worktrees");
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    if (!copyChanged) return;
  }
  const now = Date.now();
  let removed = 0;
  for (const name of names) {
    if (current.includes(name)) continue;
    const p = join(dir, name);
    let st: Stats;
    try {
      st = statSync(p);
    } catch {
      // A dangling symlink has no target to stat; its own mtime will do.
      try {
        st = lstatSync(p);
      } catch (e) {
        log.error(e, "failed to stat path, skipping", { path: p });
        continue;
      }
    }
    // Timeout 0 means "right away": with millisecond clocks the age can be exactly 0.
    if (config.staleWorktreeTimeout <= 0 || now - st.mtimeMs > config.staleWorktreeTimeout) {
      log.v(4, "removing stale worktree", { path: p });
      rmSync(p, { recursive: true, force: true });
      removed++;
    }
  }
  if (removed === 0 && !copyChanged && !unprunedAfterCrash(root, names.length)) return;

  const errors: string[] = [];
  const step = async (args: string[]) => {
    log.v(3, `running git ${args[0]}`, { args });
    try {
      await git.run(args, { cwd: root, deadline });
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  await step(["worktree", "prune", "--verbose"]);
  // Only reflogs can keep a removed worktree's commits alive. git-sync writes none in root
  // (the branch ref is written directly, repo/root.ts) and prune has just removed the old
  // worktree's, so without root/.git/logs there is nothing to expire and no process to start.
  if (existsSync(join(root, ".git", "logs"))) await step(["reflog", "expire", "--expire-unreachable=all", "--all"]);
  const gc = GC_ARGS[config.gitGC];
  if (gc) await step(gc);
  if (errors.length > 0) log.error(new Error(errors.join("; ")), "git cleanup failed");
}

/** Roots whose registrations this process has looked at (unprunedAfterCrash). */
const lookedAt = new Set<string>();

/**
 * Not upstream (issue 13): a process killed after removing a worktree but before `git worktree
 * prune` leaves git a registration whose directory is gone; the next cleanup finds nothing to
 * delete and, by behaviour.md 1.6, would not prune it ever. Only a process that died leaves that, so
 * the first cleanup of a process looks (not every poll's): more admin dirs than worktree dirs is
 * the sign, and then one of them must point at a worktree that is gone.
 */
function unprunedAfterCrash(root: string, worktreeDirs: number): boolean {
  if (lookedAt.has(root)) return false;
  lookedAt.add(root);
  const admin = join(root, ".git", "worktrees");
  let names: string[];
  try {
    names = readdirSync(admin);
  } catch {
    return false;
  }
  if (names.length <= worktreeDirs) return false;
  return names.some((n) => {
    try {
      return !existsSync(readFileSync(join(admin, n, "gitdir"), "utf8").trim());
    } catch {
      return true;
    }
  });
}
