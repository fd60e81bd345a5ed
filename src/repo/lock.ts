// Owning --root (issue 13). git-sync holds flock(2) on the root directory itself for the
// process's life. That answers one question with certainty: is another git-sync using this
// root? If we hold the lock, no live git-sync does, so a git lock file found in root (a
// `shallow.lock` from a killed fetch, a worktree's `index.lock` or `locked` from a killed
// `worktree add`) was left by a dead one, and is removed instead of making git refuse or the
// root be wiped. A second git-sync on the same root gets a clear error instead of racing.
//
// Why the directory and not a file in root: root's contents belong to the contract (behaviour.md
// 1.1; tests list them, the wipe of 1.3 empties them), and a directory needs no file that would
// have to survive the wipe or not count as "root is not empty". The kernel drops the lock when the
// process dies, SIGKILL and OOM included; the descriptor is close-on-exec, so no child holds it.
// Git commands a killed git-sync started die with its container (the runtime kills the cgroup;
// git-sync as PID 1 takes its namespace down); on a bare host they may outlive it, so before
// removing anything the sweep below also waits for git processes working inside root.
//
// flock on a directory works on local filesystems and tmpfs; where it does not (some network
// filesystems answer EBADF or ENOLCK), we run unlocked as upstream does: stale git locks are then
// not removed, and behaviour.md 1.3's "repo contains lock file" check applies.
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log/logger.ts";

type FFI = typeof import("bun:ffi");

const LOCK_EX = 2;
const LOCK_NB = 4;
// Linux's EWOULDBLOCK; macOS (the laptop release binaries) numbers it 35.
const EWOULDBLOCK = process.platform === "darwin" ? 35 : 11;

/** Another process holds root: a second git-sync on the same --root. Ends the process (exit 1). */
export class RootBusy extends Error {}

interface Flock {
  flock: (fd: number, op: number) => number;
  errno: () => number;
}

let flockLib: Flock | null = null;

/** bun:ffi is required on first use (~2.5 ms to load), which is overlapped with `git init` on a cold start. */
function loadFlock(): Flock {
  if (flockLib) return flockLib;
  const { dlopen, FFIType, read } = require("bun:ffi") as FFI;
  const flock = { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } as const;
  const errnoPtr = { args: [], returns: FFIType.ptr } as const;
  if (process.platform === "darwin") {
    // Untested here (no macOS machine): libSystem has flock and names errno's address __error.
    const sym = dlopen("libSystem.B.dylib", { flock, __error: errnoPtr }).symbols;
    flockLib = { flock: (fd, op) => sym.flock(fd, op), errno: () => read.i32(sym.__error()!, 0) };
    return flockLib;
  }
  let sym;
  try {
    sym = dlopen("libc.so.6", { flock, __errno_location: errnoPtr }).symbols;
  } catch {
    sym = dlopen("libc.so", { flock, __errno_location: errnoPtr }).symbols;
  }
  const lib = sym;
  flockLib = { flock: (fd, op) => lib.flock(fd, op), errno: () => read.i32(lib.__errno_location()!, 0) };
  return flockLib;
}

export class RootLock {
  private fd = -1;
  private unsupported = false;

  constructor(
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  /**
   * Take the lock, or check that we still hold it (root may have been deleted and recreated at
   * runtime: then the new directory is locked). True when held; false when this filesystem
   * cannot lock. Throws RootBusy when another process holds it.
   */
  hold(): boolean {
    if (this.unsupported) return false;
    let st;
    try {
      st = statSync(this.root);
    } catch {
      return false; // recreated by the caller, then held at the next call
    }
    if (this.fd >= 0) {
      const mine = fstatSync(this.fd);
      if (mine.ino === st.ino && mine.dev === st.dev) return true;
      closeSync(this.fd);
      this.fd = -1;
    }
    let lib: Flock;
    try {
      lib = loadFlock();
    } catch (e) {
      this.unsupported = true;
      this.log.error(e, "can't lock root, running without the lock: stale git lock files will not be removed", { path: this.root });
      return false;
    }
    const fd = openSync(this.root, "r");
    if (lib.flock(fd, LOCK_EX | LOCK_NB) === 0) {
      this.fd = fd;
      this.log.v(2, "locked root", { path: this.root });
      return true;
    }
    const errno = lib.errno();
    closeSync(fd);
    if (errno === EWOULDBLOCK) {
      throw new RootBusy(`can't lock root ${this.root}: another git-sync is using it (each git-sync needs its own --root)`);
    }
    this.unsupported = true;
    this.log.error(null, "can't lock root, running without the lock: stale git lock files will not be removed", { path: this.root, errno });
    return false;
  }

  get held(): boolean {
    return this.fd >= 0;
  }
}

/**
 * Files a git killed mid-command leaves in root/.git: every `*.lock` (outside the object
 * directories), each worktree's `locked` (written by `worktree add` while it runs, which `worktree
 * prune` then respects forever), `gc.pid` (a pid from another container may name a live process
 * here), and in objects/pack the temporary packs of a killed fetch (`tmp_*`, which also hold the
 * space a full disk needs back), the `.keep` a fetch holds its new pack with, and loose objects
 * a killed unpack was writing.
 */
export function findStaleGitFiles(root: string): string[] {
  const gitDir = join(root, ".git");
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        // Object directories hold no lock files worth a walk (their few are handled below).
        if (e.name === "objects") continue;
        if (depth < 8) walk(p, depth + 1);
      } else if (e.name.endsWith(".lock") || (depth === 0 && e.name === "gc.pid") || (depth === 2 && e.name === "locked" && dir.startsWith(join(gitDir, "worktrees")))) {
        out.push(p);
      }
    }
  };
  walk(gitDir, 0);
  for (const sub of ["pack", "info"]) {
    const dir = join(gitDir, "objects", sub);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith(".lock") || (sub === "pack" && name.startsWith("tmp_"))) out.push(join(dir, name));
      else if (sub === "pack" && name.endsWith(".keep") && readOr(join(dir, name)).startsWith("fetch-pack")) out.push(join(dir, name));
    }
  }
  // A killed unpack leaves the loose object it was writing (objects/<xx>/tmp_obj_*): one readdir
  // per fan-out directory, and only at a full check (startup, after a failure).
  let fanout: string[] = [];
  try {
    fanout = readdirSync(join(gitDir, "objects")).filter((n) => /^[0-9a-f]{2}$/.test(n));
  } catch {
    // no object store yet
  }
  for (const xx of fanout) {
    try {
      for (const name of readdirSync(join(gitDir, "objects", xx))) if (name.startsWith("tmp_obj_")) out.push(join(gitDir, "objects", xx, name));
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

function readOr(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

/**
 * Git processes (by command name) whose working directory is root or below it, other than ours:
 * a git started by a killed git-sync on this host may still be running and own a lock.
 */
export function liveGitIn(root: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd !== root && !cwd.startsWith(root + "/")) continue;
      if (readFileSync(`/proc/${entry}/comm`, "utf8").startsWith("git")) pids.push(Number(entry));
    } catch {
      // exited, or not ours to inspect
    }
  }
  return pids;
}

/**
 * Remove what a dead git-sync's git commands left in root (findStaleGitFiles). Only while we hold
 * the root lock, and only once no git process works inside root (waits up to `waitMs` for them).
 * Returns the number of files removed.
 */
export async function removeStaleGitFiles(lock: RootLock, root: string, log: Logger, waitMs: number): Promise<number> {
  if (!lock.held) return 0;
  const stale = findStaleGitFiles(root);
  if (stale.length === 0) return 0;
  const end = Date.now() + waitMs;
  let live = liveGitIn(root);
  while (live.length > 0 && Date.now() < end) {
    await Bun.sleep(50);
    live = liveGitIn(root);
  }
  if (live.length > 0) {
    log.info("git processes still work in root, leaving their lock files", { pids: live });
    return 0;
  }
  let removed = 0;
  for (const p of findStaleGitFiles(root)) {
    try {
      lstatSync(p);
      rmSync(p, { force: true, recursive: true });
      removed++;
      log.info("removed a lock file a killed git left behind", { path: p });
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}
