// Counting the programs a process tree starts: strace's execve records. A program start is a
// successful execve (a failed one, e.g. a PATH probe, starts nothing). "Direct" starts are the
// ones made by children of the traced process itself; the rest come from its descendants (git's
// own helpers: sh, upload-pack, remote-http, index-pack, ...).
//
// strace -f -ttt writes "PID SECONDS.MICROS syscall(args) = result"; when two processes
// interleave it splits a call into "PID T name(args <unfinished ...>" and later
// "PID T <... name resumed>rest) = result". The time of a call is when it started.
import { readFileSync } from "node:fs";

const STRACE = "/usr/bin/strace";
// Clones tell who started whom; CLONE_THREAD ones are new threads of the same process.
const TRACE = ["-f", "-qq", "-ttt", "-e", "trace=execve,execveat,clone,clone3,fork,vfork", "-e", "signal=none"];

interface Call {
  pid: number;
  /** Epoch seconds (0 when the trace has no timestamps). */
  at: number;
  name: string;
  text: string;
  result: number;
}

/** Whole calls, with split ones joined back together. */
export function parseCalls(text: string): Call[] {
  const pending = new Map<number, { at: number; text: string }>();
  const calls: Call[] = [];
  for (const line of text.split("\n")) {
    const m = /^(?:\[pid\s+)?(\d+)\]?\s+(?:(\d+\.\d+)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    let at = Number(m[2] ?? 0);
    let rest = m[3]!;
    if (rest.endsWith("<unfinished ...>")) {
      pending.set(pid, { at, text: rest.slice(0, -"<unfinished ...>".length) });
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed) {
      const start = pending.get(pid);
      pending.delete(pid);
      rest = (start?.text ?? "") + resumed[1];
      at = start?.at ?? at;
    }
    const call = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(rest);
    if (call) calls.push({ pid, at, name: call[1]!, text: call[2]!, result: Number(call[3]) });
  }
  return calls;
}

export interface ProgramCounts {
  /** Programs started by children of the traced process itself. */
  direct: number;
  /** Every program started anywhere in the tree. */
  all: number;
}

export interface CountOptions {
  /** Whether an exec by the root itself counts (it does when strace started the root). */
  rootExecCounts?: boolean;
  /** Count only execs that started in this window (epoch seconds). */
  from?: number;
  to?: number;
}

/**
 * Counts successful execs in a trace of `rootPid` (attached with -p, so every tid not created
 * by a traced clone belongs to it).
 */
export function countPrograms(text: string, rootPid: number, opts: CountOptions = {}): ProgramCounts {
  const { rootExecCounts = false, from = -Infinity, to = Infinity } = opts;
  const processOf = new Map<number, number>(); // tid -> the pid (tgid) it belongs to
  const parentOf = new Map<number, number>(); // pid -> the pid that cloned it
  const execs: number[] = []; // tids that exec'd
  const owner = (tid: number) => processOf.get(tid) ?? rootPid;
  for (const c of parseCalls(text)) {
    if (/^(clone3?|v?fork)$/.test(c.name) && c.result > 0) {
      if (c.text.includes("CLONE_THREAD")) processOf.set(c.result, owner(c.pid));
      else {
        processOf.set(c.result, c.result);
        parentOf.set(c.result, owner(c.pid));
      }
    } else if ((c.name === "execve" || c.name === "execveat") && c.result === 0 && c.at >= from && c.at <= to) {
      execs.push(c.pid);
    }
  }
  // Owners are looked up only now: a vfork child's execve is often logged before the clone
  // that returns its pid.
  let direct = 0;
  let all = 0;
  for (const pid of execs.map(owner)) {
    if (pid === rootPid) {
      if (rootExecCounts) all++;
      continue;
    }
    all++;
    if (parentOf.get(pid) === rootPid) direct++;
  }
  return { direct, all };
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  while (!(await reader.read()).done);
}

/** An strace attached to a running process; `detach()` stops it and returns the trace. */
export interface Attached {
  detach(): Promise<string>;
}

/** Attaches to `pid` and all its threads; resolves once strace reports it is attached. */
export async function attach(pid: number, outFile: string): Promise<Attached> {
  // Without -q, strace reports "Process N attached" on stderr; that is how we know it is live.
  const argv = [STRACE, ...TRACE.filter((a) => a !== "-qq"), "-o", outFile, "-p", String(pid)];
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const reader = (p.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let err = "";
  while (!/attached/.test(err)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`strace could not attach to ${pid}: ${err.trim()} (exit ${await p.exited})`);
    err += decoder.decode(value, { stream: true });
  }
  void drain(reader);
  return {
    async detach() {
      p.kill("SIGINT"); // strace detaches from every tracee and exits
      await p.exited;
      return readFileSync(outFile, "utf8");
    },
  };
}

/** Runs `argv` under strace to completion and counts what it started, itself included. */
export async function traceCommand(argv: string[], env: Record<string, string>, outFile: string): Promise<ProgramCounts> {
  const p = Bun.spawn([STRACE, ...TRACE, "-o", outFile, ...argv], { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`strace ${argv.join(" ")} exited ${code}: ${stderr.slice(-400)}`);
  const text = readFileSync(outFile, "utf8");
  // The root is strace's child, the one that execs argv: the first process in the trace.
  const root = parseCalls(text)[0]?.pid ?? 0;
  return countPrograms(text, root, { rootExecCounts: true });
}

/** Whether this machine lets us ptrace a process we started (containers often forbid it). */
export async function canTrace(outFile: string): Promise<boolean> {
  try {
    await traceCommand(["/bin/true"], { PATH: "/usr/bin:/bin" }, outFile);
    const sleeper = Bun.spawn(["/bin/sleep", "5"], { stdio: ["ignore", "ignore", "ignore"] });
    try {
      await (await attach(sleeper.pid, outFile)).detach();
    } finally {
      sleeper.kill();
    }
    return true;
  } catch {
    return false;
  }
}
