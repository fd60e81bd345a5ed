// Validating and initializing --root (behaviour.md 1.3), on every sync attempt: a root that
// is a valid repo toplevel is reused (the normal restart); anything else is wiped (contents
// only: root may be a mount point) and re-initialized with `git init -b git-sync`.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { GitConfigFile } from "../git/config-file.ts";
import { GitError, interrupted } from "../git/runner.ts";
import { isShuttingDown } from "../lib/exec.ts";
import type { RepoContext } from "./context.ts";
import { removeStaleGitFiles } from "./lock.ts";

export async function initRepo(ctx: RepoContext, deadline: number): Promise<void> {
  const { root, log } = ctx;
  if (!existsSync(root)) {
    // It may have been deleted at runtime.
    mkdirSync(root, { recursive: true, mode: 0o775 });
    log.v(1, "repo directory does not exist, creating it", { path: root });
    await gitInitLocked(ctx, deadline);
    return;
  }
  if (readdirSync(root).length === 0) {
    log.v(3, "repo directory is empty", { path: root });
  } else {
    // Before any check: a lock file a killed git left would fail them, and wipe root.
    if (ctx.lock?.hold()) await removeStaleGitFiles(ctx.lock, root, log, Math.min(5000, deadline - Date.now()));
    if (await sanityCheck(ctx, deadline)) {
      log.v(4, "repo directory is valid", { path: root });
      await ensureOrigin(ctx, deadline);
      return;
    }
  }
  log.info("repo directory was empty or failed checks", { path: root });
  wipeDir(ctx, root, ctx.served?.() ?? []);
  // Deleted by hand while it was checked: made again, as at the top.
  mkdirSync(root, { recursive: true, mode: 0o775 });
  await gitInitLocked(ctx, deadline);
}

/**
 * `git init`, with the root lock taken while it runs: on a cold start loading the lock's
 * bun:ffi then costs no time. (Two git-syncs starting on one empty root both run `git init`,
 * which is harmless, and the second stops at the lock.)
 */
async function gitInitLocked(ctx: RepoContext, deadline: number): Promise<void> {
  const init = gitInit(ctx, deadline);
  try {
    ctx.lock?.hold();
  } catch (e) {
    await init.catch(() => {});
    throw e;
  }
  await init;
}

/**
 * `git init -b git-sync` (without template files), then `origin` written straight into the new
 * repo's config. Upstream
 * sanity-checks the new repo with git (toplevel, fsck) and adds origin with `git remote add`:
 * three processes that cannot tell us anything about a repo git has just created here.
 */
async function gitInit(ctx: RepoContext, deadline: number): Promise<void> {
  const { root } = ctx;
  ctx.log.info("initializing repo directory", { path: root });
  // --template= (none): the sample hooks and description git would copy in are never used.
  await ctx.git.run(["init", "-b", "git-sync", "--template="], { cwd: root, deadline });
  if (!existsSync(join(root, ".git", "HEAD"))) throw new Error("can't initialize git repo directory");
  const origin = new GitConfigFile();
  origin.set("remote.origin.url", ctx.repo);
  origin.set("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*");
  appendFileSync(join(root, ".git", "config"), origin.render());
}

/** False when root must be wiped: empty, not its own toplevel, broken, or holding a crashed git's lock. */
async function sanityCheck(ctx: RepoContext, deadline: number): Promise<boolean> {
  const { root, log, git } = ctx;
  log.v(3, "sanity-checking git repo", { repo: root });
  let top: string;
  try {
    top = (await git.run(["rev-parse", "--show-toplevel"], { cwd: root, deadline })).stdout.trim();
  } catch (e) {
    if (interrupted(e)) throw e;
    log.error(e, "can't get repo toplevel", { path: root });
    return false;
  }
  if (top !== root) {
    log.error(null, "repo directory is under another repo", { path: root, parent: top });
    return false;
  }
  try {
    await git.run(["fsck", "--no-progress", "--connectivity-only"], { cwd: root, deadline });
  } catch (e) {
    if (interrupted(e)) throw e;
    log.error(e, "repo fsck failed", { path: root });
    return false;
  }
  // A git killed mid-fetch (e.g. by --sync-timeout) leaves this behind and every later fetch
  // fails. Holding the root lock, initRepo has removed it already; without the lock we can't tell
  // a dead git's lock from a live one's, and upstream's rule applies.
  if (existsSync(join(root, ".git", "shallow.lock"))) {
    log.error(null, "repo contains lock file", { path: join(root, ".git", "shallow.lock") });
    return false;
  }
  return true;
}

/**
 * Remove every entry inside dir but not dir itself. Unlike upstream we also remove entries that
 * cannot be stat'ed (dangling symlinks): leaving them had no purpose.
 *
 * Not upstream (issue 13): `keep` lists what is being served (each link and the complete tree it
 * points at); those paths and the directories leading to them stay, everything else goes. The
 * object store is rebuilt beside the served trees, which keep serving until the next publish
 * replaces them. Root is wiped whole only when nothing valid is served.
 */
export function wipeDir(ctx: RepoContext, dir: string, keep: readonly string[] = []): void {
  // Whatever led here, a process on its way out must not destroy what it is serving.
  if (isShuttingDown()) throw new Error("not wiping root: shutting down");
  const errors: string[] = [];
  const wipe = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // gone already: nothing to wipe
      throw e;
    }
    for (const name of names) {
      const p = join(d, name);
      if (keep.includes(p)) {
        ctx.log.v(1, "keeping what is served while root is rebuilt", { path: p });
        continue;
      }
      if (keep.some((k) => k.startsWith(p + "/"))) {
        wipe(p);
        continue;
      }
      try {
        ctx.log.v(4, "removing path recursively", { path: p });
        rmSync(p, { recursive: true, force: true });
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  };
  wipe(dir);
  if (errors.length > 0) {
    throw new Error(`can't wipe unusable root directory: ${errors.join("; ")}`);
  }
}

/** `origin` matters for relative submodule URLs; fetching itself uses the URL (behaviour.md 1.3 step 5). */
async function ensureOrigin(ctx: RepoContext, deadline: number): Promise<void> {
  const { git, root, repo } = ctx;
  try {
    const url = (await git.run(["remote", "get-url", "origin"], { cwd: root, deadline })).stdout.trim();
    if (url !== repo) await git.run(["remote", "set-url", "origin", repo], { cwd: root, deadline });
  } catch (e) {
    if (e instanceof GitError && /No such remote/.test(e.stderr)) {
      await git.run(["remote", "add", "origin", repo], { cwd: root, deadline });
      return;
    }
    throw e;
  }
}

/**
 * behaviour.md 4.2 step 8's `git reset --soft <hash>` (cwd root): point the branch HEAD names at the
 * commit, so it stays reachable and the next fetch is cheap. Written as git writes a loose ref
 * (under its lock file, then renamed into place), which saves a process per update. Anything
 * unusual (a detached HEAD, a lock held by a running git) is left to git itself.
 */
export async function keepReachable(ctx: RepoContext, hash: string, deadline: number): Promise<void> {
  const gitDir = join(ctx.root, ".git");
  const head = /^ref: (refs\/heads\/[A-Za-z0-9._/-]+)\n?$/.exec(readFileSync(join(gitDir, "HEAD"), "utf8"))?.[1];
  const lock = head && !head.includes("..") ? join(gitDir, `${head}.lock`) : "";
  if (lock !== "" && takeLock(lock, `${hash}\n`)) {
    try {
      renameSync(lock, join(gitDir, head!));
      return;
    } catch {
      rmSync(lock, { force: true });
    }
  }
  await ctx.git.run(["reset", "--soft", hash, "--"], { cwd: ctx.root, deadline });
}

/** Create a git lock file with its content; false if it exists (someone holds it) or can't be made. */
function takeLock(lock: string, content: string): boolean {
  try {
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, content, { flag: "wx" });
    return true;
  } catch {
    return false;
  }
}
