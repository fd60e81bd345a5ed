// The atomic publish (behaviour.md 1.5): a relative symlink created as tmp-link beside the link
// and renamed over it. rename(2) replaces the old link in one step, so a reader sees either
// the old tree or the new one, never a missing or half-written link.
import { existsSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { refuseSymlinkOnPath } from "../lib/no-follow.ts";
import type { Logger } from "../log/logger.ts";

export interface CurrentLink {
  /** Absolute path of the worktree the link points at. */
  path: string;
  hash: string;
}

/** What the link points at now; null when there is no link (nothing synced yet). */
export function readCurrent(link: string): CurrentLink | null {
  let target: string;
  try {
    target = readlinkSync(link);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    // EINVAL: the link is a real file or directory; publishing over it would fail anyway.
    throw new Error(`can't read link ${JSON.stringify(link)}: ${(e as Error).message}`, { cause: e });
  }
  const path = isAbsolute(target) ? target : resolve(dirname(link), target);
  return { path, hash: basename(path) };
}

/**
 * Whether a link's target is a tree to serve: a non-empty directory. A symlink is only ever
 * pointed at a worktree whose checkout has finished (publishing is the last step), so that is a
 * complete one. Reads the whole directory: for repairs, never on a poll's path.
 */
export function isServedTree(path: string): boolean {
  try {
    return statSync(path).isDirectory() && readdirSync(path).length > 0;
  } catch {
    return false;
  }
}

export function publishSymlink(log: Logger, link: string, worktree: string): void {
  const linkDir = dirname(link);
  // A symlink planted in root where the link's directory goes would put tmp-link and the link elsewhere.
  refuseSymlinkOnPath(linkDir, "the link in");
  mkdirSync(linkDir, { recursive: true, mode: 0o775 });
  const target = relative(linkDir, worktree);
  const tmp = join(linkDir, "tmp-link");
  // A tmp-link left by a crash would make symlink() fail with EEXIST (v3's `ln -snf` did this too).
  rmSync(tmp, { force: true });
  log.v(2, "creating tmp symlink", { dir: linkDir, link: "tmp-link", target });
  try {
    symlinkSync(target, tmp);
  } catch (e) {
    throw new Error(`error creating symlink: ${(e as Error).message}`, { cause: e });
  }
  log.v(2, "renaming symlink", { root: linkDir, oldName: "tmp-link", newName: basename(link) });
  try {
    renameSync(tmp, link);
  } catch (e) {
    throw new Error(`error replacing symlink: ${(e as Error).message}`, { cause: e });
  }
}

/** Start the replaced worktree's stale timer (behaviour.md 1.6): its mtime is when it was replaced. */
export function touchOldWorktree(log: Logger, path: string): void {
  if (!existsSync(path)) return;
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch (e) {
    log.error(e, "can't change stale worktree mtime", { path });
  }
}
