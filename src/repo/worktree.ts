// One detached worktree per synced commit at root/.worktrees/<hash> (behaviour.md 1.4, 4.3).
// Its `.git` file is rewritten with a relative gitdir so the volume can be mounted elsewhere.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { GitError, interrupted } from "../git/runner.ts";
import { isShuttingDown } from "../lib/exec.ts";
import { readGitfile, worktreePath, type RepoContext } from "./context.ts";

/**
 * With --also-link, refs that moved to different commits are published at the same time
 * (loop/fleet.ts), and git is not safe for every pair of commands on one repo:
 * - `worktree add`, `worktree prune` and `fsck` read every worktree's admin dir, and one being
 *   added at that moment is half-written ("failed to read .git/worktrees/<x>/commondir");
 * - `sparse-checkout init` and `submodule--helper update --init` write root/.git/config, and git
 *   refuses a second writer (config.lock) rather than wait.
 * Those steps take turns per root; checking out files in a worktree of one's own (`reset --hard`)
 * runs alongside. Alone, a turn costs nothing.
 */
const turns = new Map<string, Promise<unknown>>();
function inTurn<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const next = (turns.get(root) ?? Promise.resolve()).then(fn, fn);
  turns.set(root, next.catch(() => {}));
  return next;
}

/**
 * Returns whether the files are checked out already: without a sparse checkout, `worktree add`
 * checks out itself, and the `reset --hard` upstream runs next (4.3 step 3) is one process less.
 * A sparse checkout must be configured before any file is written, so it gets --no-checkout, and
 * so does `alongside` (other worktrees are being made at the same time): the files are then
 * written by configureWorktree outside the turn `worktree add` takes.
 */
export async function createWorktree(
  ctx: RepoContext,
  hash: string,
  deadline: number,
  opts: { alongside?: boolean; path?: string } = {},
): Promise<{ path: string; checkedOut: boolean }> {
  const { alongside = false, path = worktreePath(ctx, hash) } = opts;
  if (existsSync(path)) await removeWorktree(ctx, path, deadline);
  ctx.log.v(1, "adding worktree", { path, hash });
  const checkout = ctx.config.sparseCheckoutFile === "" && !alongside;
  // --force reuses a path that is still registered although its directory was deleted by hand.
  const args = ["worktree", "add", "--force", "--detach", path, hash, ...(checkout ? [] : ["--no-checkout"])];
  await inTurn(ctx.root, () => ctx.git.run(args, { cwd: ctx.root, deadline }));
  return { path, checkedOut: checkout };
}

export async function removeWorktree(ctx: RepoContext, path: string, deadline: number): Promise<void> {
  if (!existsSync(path)) return;
  if (isShuttingDown()) throw new Error(`not removing worktree ${path}: shutting down`);
  ctx.log.v(1, "removing worktree", { path });
  rmSync(path, { recursive: true, force: true });
  await inTurn(ctx.root, () => ctx.git.run(["worktree", "prune", "--verbose"], { cwd: ctx.root, deadline }));
}

/**
 * The admin dir git chose for this worktree. Usually <hash>, but git appends a digit when that
 * name is taken (e.g. a v3 worktree of the same hash), so read it from the .git file.
 */
function adminDirName(path: string): string {
  return basename(readGitfile(join(path, ".git")) ?? path);
}

/**
 * Everything that makes a worktree the checkout of `hash`; re-applied on each process's first
 * update. `checkedOut`: `worktree add` has just written exactly these files (createWorktree).
 */
export async function configureWorktree(ctx: RepoContext, path: string, hash: string, deadline: number, checkedOut = false): Promise<void> {
  const { config, git, log, root } = ctx;
  const admin = adminDirName(path);
  const rel = relative(path, root) || ".";
  writeFileSync(join(path, ".git"), `gitdir: ${rel}/.git/worktrees/${admin}\n`);
  chmodSync(join(path, ".git"), 0o644);

  const info = join(root, ".git", "worktrees", admin, "info");
  const sparse = join(info, "sparse-checkout");
  if (config.sparseCheckoutFile === "") {
    rmSync(sparse, { force: true });
  } else {
    log.v(1, "configuring worktree sparse checkout", { sparseFile: config.sparseCheckoutFile });
    let patterns: string;
    try {
      patterns = readFileSync(config.sparseCheckoutFile, "utf8");
    } catch (e) {
      throw new Error(`can't read sparse checkout file ${JSON.stringify(config.sparseCheckoutFile)}: ${(e as Error).message}`, { cause: e });
    }
    mkdirSync(info, { recursive: true, mode: 0o775 });
    writeFileSync(sparse, patterns);
    await inTurn(root, () => git.run(["sparse-checkout", "init"], { cwd: path, deadline }));
  }

  if (!checkedOut) {
    log.v(1, "setting worktree HEAD", { hash, worktree: path });
    await git.run(["reset", "--hard", hash, "--"], { cwd: path, deadline });
  }

  // Nothing to update without a .gitmodules (with a sparse checkout it may exist only in the index).
  if (config.submodules !== "off" && (config.sparseCheckoutFile !== "" || existsSync(join(path, ".gitmodules")))) {
    log.v(1, "updating submodules", { mode: config.submodules });
    await inTurn(root, () => updateSubmodules(ctx, path, deadline));
  }
}

/**
 * `git submodule update` is a shell script, which the shell-less image cannot run. Its work is
 * done by the built-in `submodule--helper update` (recursion included since git 2.38), which we
 * call directly everywhere, so the host runs what the image runs. Older gits lack it; there we
 * fall back to the script.
 */
async function updateSubmodules(ctx: RepoContext, path: string, deadline: number): Promise<void> {
  const opts = ["--init"];
  if (ctx.config.submodules === "recursive") opts.push("--recursive");
  if (ctx.config.depth !== 0) opts.push("--depth", String(ctx.config.depth));
  const run = { cwd: path, deadline, env: ctx.remoteEnv() };
  try {
    await ctx.git.run(["submodule--helper", "update", ...opts], run);
  } catch (e) {
    if (e instanceof GitError && !e.timedOut && /unknown subcommand|usage: git submodule--helper|not a git command/.test(e.stderr)) {
      await ctx.git.run(["submodule", "update", ...opts], run);
      return;
    }
    throw e;
  }
}

/** behaviour.md 1.4: listable and non-empty, HEAD is `hash`, and connected. */
export async function worktreeIsValid(ctx: RepoContext, path: string, hash: string, deadline: number): Promise<boolean> {
  const { git, log } = ctx;
  log.v(3, "sanity-checking worktree", { path, hash });
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch {
    log.info("worktree is empty", { path });
    return false;
  }
  if (entries.length === 0) {
    log.info("worktree is empty", { path });
    return false;
  }
  try {
    const head = (await git.run(["rev-parse", "HEAD"], { cwd: path, deadline })).stdout.trim();
    if (head !== hash) {
      log.info("worktree HEAD does not match worktree", { head, worktree: hash });
      return false;
    }
    await inTurn(ctx.root, () => git.run(["fsck", "--no-progress", "--connectivity-only"], { cwd: path, deadline }));
  } catch (e) {
    if (interrupted(e)) throw e;
    log.error(e, "worktree failed sanity check", { path });
    return false;
  }
  return true;
}
