// Every git command goes through here: `<--git> <args>` with the private environment, a
// deadline, V5/V6 command logging, and upstream's error text (behaviour.md 4.2):
//   Run(<cmd line>): <exit status N | context deadline exceeded | signal: killed>: { stdout: "…", stderr: "…" }
import { execute, failureText, SpawnError } from "../lib/exec.ts";
import { Duration, goQuote } from "../lib/go.ts";
import { writeStderr } from "../lib/stdio.ts";
import type { Logger } from "../log/logger.ts";

export interface GitRunOptions {
  cwd: string;
  /** Absolute time (Date.now() scale) after which the command is killed. */
  deadline?: number;
  stdin?: string;
  /** Extra environment for this call only (e.g. credentials for a fetch). */
  env?: Record<string, string>;
  /** Copy git's stderr (progress) to ours as it arrives; it is still captured for errors. */
  teeStderr?: boolean;
  /** stdout as latin1, byte for byte (objects read for signature checks). */
  latin1?: boolean;
  /** Stream stdout to this callback instead of collecting it (the result's stdout is then ""). */
  onStdout?: (chunk: Uint8Array) => void;
}

export interface GitResult {
  stdout: string;
  stderr: string;
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly code: number | null,
    /** Killed because the sync deadline passed. */
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/**
 * True when git did not get to answer: killed (deadline, shutdown, OOM) or never started. Such a
 * failure says nothing about the repo, so sanity checks must not read it as "broken" and wipe.
 */
export function interrupted(e: unknown): boolean {
  return e instanceof GitError && (e.timedOut || e.code === null);
}

/** Quote args containing whitespace, as upstream does in its command-line strings. */
export function formatCmd(argv: string[]): string {
  return argv.map((a) => (/\s/.test(a) || a === "" ? goQuote(a) : a)).join(" ");
}

export class Git {
  constructor(
    /** Resolved path of `--git` (may be a wrapper). */
    readonly path: string,
    private readonly log: Logger,
    /** The environment every git child gets; read at each call, so setup can extend it. */
    readonly env: () => Record<string, string | undefined>,
  ) {}

  async run(args: string[], opts: GitRunOptions): Promise<GitResult> {
    const argv = [this.path, ...args];
    const cmd = formatCmd(argv);
    let timeoutMs: number | undefined;
    if (opts.deadline !== undefined) {
      timeoutMs = opts.deadline - Date.now();
      if (timeoutMs <= 0) {
        throw new GitError(`Run(${cmd}): context deadline exceeded: { stdout: "", stderr: "" }`, "", "", null, true);
      }
    }
    this.log.v(5, "running command", { cwd: opts.cwd, cmd });
    let r;
    try {
      r = await execute(argv, {
        cwd: opts.cwd,
        env: opts.env ? { ...this.env(), ...opts.env } : this.env(),
        timeoutMs,
        stdin: opts.stdin,
        latin1: opts.latin1,
        teeStderr: opts.teeStderr ? (chunk) => writeStderr(chunk) : undefined,
        onStdout: opts.onStdout,
      });
    } catch (e) {
      if (e instanceof SpawnError) throw new GitError(`Run(${cmd}): ${e.message}`, "", "", null);
      throw e;
    }
    if (r.timedOut || r.code !== 0) throw new GitError(failureText(cmd, r), r.stdout, r.stderr, r.code, r.timedOut);
    this.log.v(6, "command result", { stdout: r.stdout, stderr: r.stderr, time: new Duration(r.ms) });
    return { stdout: r.stdout, stderr: r.stderr };
  }
}
