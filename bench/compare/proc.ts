// What the kernel says about a running process, read from /proc (Linux only).
//
// CPU of a whole process tree: a process's own utime+stime plus cutime+cstime, the CPU of every
// descendant it (or a descendant in between) has waited for. git-sync waits for each git it
// starts and git waits for its helpers (upload-pack, remote-http), so the sum covers the tree.
// /proc/<pid>/stat counts in clock ticks (10 ms at USER_HZ=100), too coarse for a process that
// spends about a millisecond per poll; where the scheduler's debug file
// /proc/<pid>/task/<tid>/sched exists, the process's own part is read from it instead
// (se.sum_exec_runtime, in ms with microsecond digits), summed over its threads. The children's
// part stays in ticks: with a program per poll it is several ms per poll, and 90 polls.
import { existsSync, readdirSync, readFileSync } from "node:fs";

const TICK_MS = 1000 / Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim() || 100);

/** The fields after the parenthesised command name, so a comm with spaces can't shift them. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime+stime (the process, all its threads, exited ones too) and cutime+cstime, in ms. */
export function statTimes(pid: number): { selfMs: number; childrenMs: number } {
  // Fields 14-17 of stat (1-based), i.e. 11-14 counted from the state field.
  const f = statFields(pid);
  const ms = (i: number) => Number(f[i]) * TICK_MS;
  return { selfMs: ms(11) + ms(12), childrenMs: ms(13) + ms(14) };
}

/** se.sum_exec_runtime of each live thread in ms, or undefined where the kernel has no sched files. */
function threadRuntimes(pid: number): Map<string, number> | undefined {
  const runtimes = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/sched`, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // exited just now
      return undefined;
    }
    const m = /se\.sum_exec_runtime\s*:\s*([\d.]+)/.exec(text);
    if (!m) return undefined;
    runtimes.set(tid, Number(m[1]));
  }
  return runtimes;
}

export interface TreeCpu {
  /** Whole-tree CPU in the window, in ms. */
  ms: number;
  /** The same from clock ticks only (for comparison; up to about 20 ms off). */
  ticksMs: number;
  /** Whether the process's own share came from per-thread runtimes (else from ticks). */
  precise: boolean;
}

/**
 * Whole-tree CPU used while `windowMs` passes. The process's own share is the growth of each
 * thread's runtime, re-read every `everyMs` so that a thread exiting mid-window keeps all but
 * its last moments (a thread started mid-window counts from zero); the descendants' share is
 * the growth of cutime+cstime.
 */
export async function treeCpuOver(pid: number, windowMs: number, everyMs = 25): Promise<TreeCpu> {
  const startStat = statTimes(pid);
  const first = threadRuntimes(pid);
  const last = new Map(first);
  const end = performance.now() + windowMs;
  while (performance.now() < end) {
    await Bun.sleep(Math.max(0, Math.min(everyMs, end - performance.now())));
    for (const [tid, ms] of threadRuntimes(pid) ?? []) last.set(tid, ms);
  }
  const endStat = statTimes(pid);
  const children = endStat.childrenMs - startStat.childrenMs;
  const ticksMs = endStat.selfMs - startStat.selfMs + children;
  if (!first) return { ms: ticksMs, ticksMs, precise: false };
  let self = 0;
  for (const [tid, ms] of last) self += ms - (first.get(tid) ?? 0);
  return { ms: self + children, ticksMs, precise: true };
}

export interface Memory {
  /** Resident set now (VmRSS) and the process's high-water mark (VmHWM), in MiB. */
  rssMiB: number;
  hwmMiB: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
}

export interface Finished {
  code: number;
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** CPU of the process and the descendants it waited for (wait4's rusage), in ms. */
  cpuMs: number;
  stderr: string;
}

// wait4's ru_maxrss is not used: Bun starts children with vfork, and at exec the kernel folds
// the parent's peak RSS into the child's (exec_mmap), so every child of this process reports
// at least this process's own peak. GNU time forks from its own small image instead.
const GNU_TIME = "/usr/bin/time";

/** Runs a program to completion and reports what wait4 knows about it. */
export async function runTimed(argv: string[], env: Record<string, string>, cwd?: string): Promise<Finished> {
  const start = performance.now();
  const p = Bun.spawn(argv, { env, cwd, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  const ms = performance.now() - start;
  return { code, ms, cpuMs: Number(p.resourceUsage()?.cpuTime.total ?? 0n) / 1000, stderr };
}

/** Like runTimed, but a non-zero exit is an error. */
export async function runTimedOk(argv: string[], env: Record<string, string>, cwd?: string): Promise<Finished> {
  const r = await runTimed(argv, env, cwd);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.slice(-600)}`);
  return r;
}

export function canMeasurePeak(): boolean {
  return existsSync(GNU_TIME);
}

/**
 * Runs a program under GNU time and returns the peak RSS of the largest single process in its
 * tree (the program and every descendant waited for), in MiB.
 */
export async function largestProcessMiB(argv: string[], env: Record<string, string>, scratch: string): Promise<number> {
  await runTimedOk([GNU_TIME, "-f", "%M", "-o", scratch, ...argv], env);
  return Number(readFileSync(scratch, "utf8").trim().split("\n").pop()) / 1024;
}
