// Running a child process the way git-sync needs it: argv only (never a shell), env passed
// explicitly (Bun.spawn snapshots it), and a timeout that kills the whole process group, so a
// git wrapper script or an ssh grandchild cannot outlive the deadline.
import { accessSync, constants, statSync } from "node:fs";
import { resolve } from "node:path";
import { goQuote } from "./go.ts";

export interface ExecOptions {
  cwd?: string;
  env: Record<string, string | undefined>;
  /** Milliseconds; 0 or undefined means none. */
  timeoutMs?: number;
  stdin?: string;
  /** Also hand stderr to this callback as it arrives (still captured), e.g. progress to a TTY. */
  teeStderr?: (chunk: Uint8Array) => void;
  /** Decode stdout as latin1 (one char per byte) instead of UTF-8, for git objects that must stay byte-exact. */
  latin1?: boolean;
  /** Hand stdout to this callback as it arrives instead of collecting it (binary output: `git cat-file --batch`); stdout is then "". */
  onStdout?: (chunk: Uint8Array) => void;
}

export interface ExecResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Process groups we started and that are still running; shutdown kills them. */
const running = new Set<number>();

let shuttingDown = false;

/** Shutdown: kill every running process group and refuse to start new ones. */
export function killAllRunning(signal: NodeJS.Signals = "SIGKILL"): void {
  shuttingDown = true;
  for (const pid of running) killGroup(pid, signal);
}

export function isShuttingDown(): boolean {
  return shuttingDown;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export class SpawnError extends Error {}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Go's exec.LookPath: a name with a slash is a path (a relative one against `cwd`), a bare name
 * is searched on PATH. Returns "" when there is nothing executable there.
 */
export function lookPath(program: string, cwd: string, path: string): string {
  if (program === "") return "";
  if (program.includes("/")) {
    const abs = resolve(cwd, program);
    return isExecutableFile(abs) ? abs : "";
  }
  return Bun.which(program, { PATH: path, cwd }) ?? "";
}

const SIGNAL_WORDS: Record<string, string> = { SIGKILL: "killed", SIGTERM: "terminated", SIGINT: "interrupt", SIGSEGV: "segmentation fault", SIGABRT: "aborted" };

/**
 * Upstream's text for a command that did not succeed (behaviour.md 4.2), shared by git and hooks:
 *   Run(<cmd line>): <exit status N | <timeout> | signal: killed>: { stdout: "…", stderr: "…" }
 */
export function failureText(cmd: string, r: ExecResult, timeoutText = "context deadline exceeded"): string {
  const why = r.timedOut ? timeoutText : r.code === null ? `signal: ${(r.signal && SIGNAL_WORDS[r.signal]) ?? r.signal ?? "unknown"}` : `exit status ${r.code}`;
  return `Run(${cmd}): ${why}: { stdout: ${goQuote(r.stdout.trim())}, stderr: ${goQuote(r.stderr.trim())} }`;
}

/**
 * Starts `argv` with stdout and stderr piped, as the leader of its own process group (setsid),
 * so that killGroup ends it with everything it started; registered for shutdown's kill.
 */
function spawnGroup(argv: string[], cwd: string | undefined, env: Record<string, string | undefined>, stdin: "ignore" | Uint8Array) {
  if (shuttingDown) throw new SpawnError(`not starting ${argv[0]}: shutting down`);
  let proc;
  try {
    proc = Bun.spawn(argv, { cwd, env, stdin, stdout: "pipe", stderr: "pipe", detached: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpawnError(code === "ENOENT" ? `${argv[0]}: executable file not found` : `can't start ${argv[0]}: ${(e as Error).message}`, { cause: e });
  }
  running.add(proc.pid);
  return proc;
}

export async function execute(argv: string[], opts: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const proc = spawnGroup(argv, opts.cwd, opts.env, opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin));
  const pid = proc.pid;
  let timedOut = false;
  const timer =
    opts.timeoutMs && opts.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          killGroup(pid, "SIGKILL");
        }, Math.max(1, opts.timeoutMs))
      : undefined;
  try {
    const [stdout, stderr] = await Promise.all([
      opts.onStdout
        ? drain(proc.stdout as ReadableStream<Uint8Array>, opts.onStdout)
        : opts.latin1
          ? new Response(proc.stdout as ReadableStream).arrayBuffer().then((b) => Buffer.from(b).toString("latin1"))
          : new Response(proc.stdout as ReadableStream).text(),
      readAll(proc.stderr as ReadableStream<Uint8Array>, opts.teeStderr),
      proc.exited,
    ]);
    return {
      code: proc.signalCode ? null : proc.exitCode,
      signal: proc.signalCode === null ? null : String(proc.signalCode),
      stdout,
      stderr,
      timedOut,
      ms: performance.now() - started,
    };
  } finally {
    if (timer) clearTimeout(timer);
    running.delete(pid);
  }
}

async function drain(stream: ReadableStream<Uint8Array>, each: (chunk: Uint8Array) => void): Promise<string> {
  for await (const chunk of stream) each(chunk);
  return "";
}

async function readAll(stream: ReadableStream<Uint8Array>, tee?: (chunk: Uint8Array) => void): Promise<string> {
  if (!tee) return await new Response(stream).text();
  const dec = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    tee(chunk);
    text += dec.decode(chunk, { stream: true });
  }
  return text + dec.decode();
}

/** A child whose stdout is read as a stream (spawnStreaming); kill() ends its whole process group. */
export interface StreamingChild {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(): void;
}

/**
 * Start `argv` in its own process group with `stdin` written and closed, for a caller that
 * streams stdout onward (git upload-pack's pack to an HTTP client) instead of collecting it.
 * The caller owns the deadline: kill() ends the group; shutdown kills it with every other.
 */
export function spawnStreaming(argv: string[], opts: { cwd: string; env: Record<string, string | undefined>; stdin: Uint8Array }): StreamingChild {
  const proc = spawnGroup(argv, opts.cwd, opts.env, opts.stdin);
  const pid = proc.pid;
  let reaped = false;
  const exited = proc.exited.then(() => {
    reaped = true;
    running.delete(pid);
    return { code: proc.signalCode ? null : proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode) };
  });
  return {
    stdout: proc.stdout as ReadableStream<Uint8Array>,
    stderr: proc.stderr as ReadableStream<Uint8Array>,
    exited,
    // Once the leader is reaped its pid may be another process's: nothing is killed then (git's
    // children, pack-objects, end before upload-pack does).
    kill: () => {
      if (!reaped) killGroup(pid, "SIGKILL");
    },
  };
}
