// The binary under test, long-running: started with its HTTP endpoint (metrics, POST /sync) on
// 127.0.0.1, its log in a file (nothing in this process reads a pipe on its behalf), and its
// private temp files inside the benchmark's dir.
import { closeSync, openSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { BIN, freePort, gitEnv, metricValue, waitFor } from "../../test/helpers/index.ts";

export interface Attempts {
  noop: number;
  success: number;
  error: number;
}

export class LiveGitSync {
  readonly proc: ReturnType<typeof Bun.spawn>;
  readonly port = freePort();
  readonly link: string;

  constructor(
    readonly root: string,
    readonly logFile: string,
    args: string[],
    tmp: string,
  ) {
    this.link = join(root, "link");
    const fd = openSync(logFile, "a");
    const argv = [BIN, `--root=${root}`, "--link=link", `--http-bind=127.0.0.1:${this.port}`, "--http-metrics", ...args];
    this.proc = Bun.spawn(argv, { env: gitEnv({ TMPDIR: tmp }), stdin: "ignore", stdout: "ignore", stderr: fd });
    closeSync(fd);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The hash the link points at ("" before the first publish). */
  hash(): string {
    try {
      return basename(readlinkSync(this.link));
    } catch {
      return "";
    }
  }

  /** Sync attempts so far by outcome, from git_sync_count_total. */
  async attempts(): Promise<Attempts> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const count = (status: string) => metricValue(text, `git_sync_count_total{status="${status}"}`) ?? 0;
    return { noop: count("noop"), success: count("success"), error: count("error") };
  }

  /** Waits for the first published sync (and fails early with the log if the process exits). */
  async synced(timeoutMs = 120_000): Promise<void> {
    await waitFor("git-sync's first sync", async () => {
      if (this.proc.exitCode !== null) throw new Error(`git-sync exited ${this.proc.exitCode}: ${this.logTail()}`);
      return this.hash() !== "" && (await this.attempts()).success > 0;
    }, timeoutMs, 20);
  }

  /** Waits until one more attempt has finished than `after` counts; returns the new counts. */
  async nextAttempt(after: Attempts, timeoutMs = 30_000): Promise<Attempts> {
    const total = (a: Attempts) => a.noop + a.success + a.error;
    let now = after;
    await waitFor("git-sync's next attempt", async () => total((now = await this.attempts())) > total(after), timeoutMs, 5);
    return now;
  }

  logTail(): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-5).join("\n");
    } catch {
      return "";
    }
  }

  /** SIGTERM and wait; returns the peak RSS (MiB) of the largest process in its tree (wait4). */
  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    await this.proc.exited;
    return (this.proc.resourceUsage()?.maxRSS ?? NaN) / 1024 / 1024;
  }
}
