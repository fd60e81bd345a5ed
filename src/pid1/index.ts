// PID 1 (behaviour.md 9). In a container git-sync is usually the first process, and PID 1 has two
// jobs nobody else does: orphans (git's credential-cache daemon, ssh, a killed hook's
// grandchildren) are re-parented to it and stay zombies until it waits for them, and the kernel
// drops every signal PID 1 has no handler for. Like upstream's pkg/pid1, we re-execute ourselves
// as a child and act as a minimal init: forward signals, reap everything, exit like the child.
//
// Why posix_spawn through bun:ffi and not Bun.spawn: Bun reaps its own children (pidfd) as soon
// as they exit, so a waitpid(-1) loop would see the child's pid only when it won the race, and
// Bun would lose exit statuses we stole. A child started behind Bun's back is reaped by us alone,
// and we watch for its pid in the same loop that collects the orphans.
//
// What drives reaping: Bun delivers SIGCHLD to process.on("SIGCHLD") (measured on Bun 1.4.5:
// a child of `sh -c 'exec sleep 0.05'` is reaped a median 2.4 ms, max 5 ms, after the 50 ms,
// shell start-up included; an `exit 42` child makes the whole namespace exit in ~30 ms).
// Signals coalesce, so each wake-up drains waitpid until nothing is left. A slow poll timer
// backs it up in case a wake-up is ever missed; it costs one syscall a second.
import { openLibc, reapOne, spawnChild } from "./libc.ts";
import { writeStderr } from "../lib/stdio.ts";

const POLL_MS = 1000;

// Not forwarded: SIGCHLD is our reaping trigger; SIGKILL and SIGSTOP cannot be caught; the
// synchronous fault signals belong to Bun's crash handler (a fault in the init is the init's).
const NOT_FORWARDED = new Set(["SIGCHLD", "SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGSYS"]);

/** Signal names to forward, one per number (SIGIOT/SIGABRT and SIGPOLL/SIGIO are aliases). */
export function forwardedSignals(): NodeJS.Signals[] {
  const seen = new Set<number>();
  const out: NodeJS.Signals[] = [];
  for (const [name, num] of Object.entries((require("node:os") as typeof import("node:os")).constants.signals)) {
    if (NOT_FORWARDED.has(name) || seen.has(num)) continue;
    seen.add(num);
    out.push(name as NodeJS.Signals);
  }
  return out;
}

/**
 * The command line that runs this program again. In a compiled binary argv[1] is the embedded
 * entry point (`/$bunfs/root/...`), not a user argument; under `bun run` it is the script.
 */
export function childArgv(execPath = process.execPath, argv = process.argv): string[] {
  const [, second, ...rest] = argv;
  if (second === undefined) return [execPath];
  if (second.startsWith("/$bunfs/") || second.startsWith("B:/~BUN/")) return [execPath, ...rest];
  return [execPath, second, ...rest];
}

function fatal(err: unknown): never {
  writeStderr(`FATAL: unhandled pid1 error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(127);
}

function runInit(): Promise<never> {
  const lib = openLibc();
  const argv = childArgv();
  const child = spawnChild(lib, process.execPath, argv, process.env);

  const status = new Int32Array(1);
  const reap = () => {
    for (;;) {
      const r = reapOne(lib, status);
      if (!r) return;
      if (r.pid === child) process.exit(r.signal === null ? r.code! : 128 + r.signal);
      // Any other pid was an orphan; collecting it is the whole point.
    }
  };

  for (const sig of forwardedSignals()) {
    process.on(sig, () => {
      try {
        process.kill(child, sig);
      } catch {
        // The child is already gone; its exit is about to be reaped.
      }
      // Upstream reaps on every signal, not only SIGCHLD.
      reap();
    });
  }
  process.on("SIGCHLD", reap);
  setInterval(reap, POLL_MS);
  // The child may have exited before the handlers were in place.
  reap();
  return new Promise<never>(() => {});
}

/**
 * When this process is PID 1, run as init around a re-executed copy of ourselves and never
 * return (the promise never settles; the process exits with the child's code, or 128+signo).
 * Otherwise null: the caller carries on as git-sync.
 */
export function maybeRunAsInit(): Promise<never> | null {
  if (process.pid !== 1) return null;
  writeStderr("INFO: detected pid 1, running init handler\n");
  try {
    return runInit();
  } catch (e) {
    fatal(e);
  }
}
