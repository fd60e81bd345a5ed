// Writing where others decide what is on the path (issue 20). A commit decides what is inside a
// link (copy mode's directory, the worktree a symlink serves); a neighbour that can write to
// --root can plant anything there. A file git-sync writes below those directories (the touch
// file, the error file, its own bookkeeping in root) is never written through a symlink found
// there: each component is checked with lstat(2), temporary files are created with O_EXCL (which
// never follows a symlink) and put in place by rename(2) (which replaces a symlink, never follows it).
//
// What this cannot stop: a process that swaps a checked component between the check and the write
// (git-sync is the only writer of the trees it publishes, so a commit cannot race it).
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join, sep } from "node:path";

/** Root (below it) and each link (itself included): others control what is there. */
const untrusted: Array<{ dir: string; self: boolean }> = [];

/** Set once at startup (run.ts): root and every link. */
export function setUntrustedDirs(root: string, links: readonly string[]): void {
  untrusted.length = 0;
  untrusted.push({ dir: root, self: false }, ...links.map((dir) => ({ dir, self: true })));
}

/** Whether `path` is root, below it, or a link or below one. */
export function underUntrusted(path: string): boolean {
  return untrusted.some(({ dir }) => path === dir || path.startsWith(dir + sep));
}

/**
 * The first symlink on `path` at or below a directory others control (the path itself
 * included), or "" when there is none. A missing component ends the walk: nothing below it exists.
 */
export function symlinkOnPath(path: string): string {
  for (const { dir, self } of untrusted) {
    if (path !== dir && !path.startsWith(dir + sep)) continue;
    const rest = path.slice(dir.length).split(sep).filter((c) => c !== "");
    let at = dir;
    const components = self ? [dir] : [];
    for (const c of rest) components.push((at = join(at, c)));
    for (const p of components) {
      let st;
      try {
        st = lstatSync(p);
      } catch {
        break;
      }
      if (st.isSymbolicLink()) return p;
    }
  }
  return "";
}

/** Throws when symlinkOnPath finds a symlink on `path` (`what` names the file for the message). */
export function refuseSymlinkOnPath(path: string, what: string): void {
  const found = symlinkOnPath(path);
  if (found !== "") throw new Error(`not writing ${what} ${path}: ${found} is a symlink, and git-sync never writes through one placed there`);
}

/**
 * Create `path` for writing with O_EXCL, which never follows a symlink. Something already there
 * (a crash's leftover, or a symlink a commit or neighbour placed) is removed (unlink never
 * follows either) and the create tried once more. Returns the descriptor.
 */
export function createExclusive(path: string, mode = 0o644): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    return openSync(path, flags, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  rmSync(path, { recursive: true, force: true });
  return openSync(path, flags, mode);
}

/**
 * Write `data` to a new file at `path` (createExclusive). `mode` goes through the umask as
 * open(2) applies it, unless `exact`; `sync` fsyncs before the close.
 */
export function writeExclusive(path: string, data: string | Uint8Array, opts: { mode?: number; exact?: boolean; sync?: boolean } = {}): void {
  const mode = opts.mode ?? 0o644;
  const fd = createExclusive(path, mode);
  try {
    if (opts.exact) fchmodSync(fd, mode);
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    if (opts.sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `path` as a real directory: a file or symlink there is removed first (unlinked, not followed),
 * then the directory made. Its parent must have been checked by the caller.
 */
export function realDir(path: string, mode = 0o775): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    st = null;
  }
  if (st?.isDirectory()) return;
  if (st) rmSync(path, { force: true });
  mkdirSync(path, { mode });
}

/**
 * The text of the regular file at `path`, or null: never read through a symlink, nor from a FIFO
 * or device someone put there (which could block the loop for good), nor more than `max` bytes.
 */
export function readRegularFile(path: string, max = 1 << 20): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString("utf8");
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
