// Shared helpers for black-box tests: temp dirs, real git repos, and the compiled binary.
// The binary is built once by scripts/test.ts (or `npm run build`) before `bun test` runs.
import { mkdtempSync, realpathSync, rmSync, existsSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BIN = process.env.GIT_SYNC_BIN ?? join(ROOT, "dist", "git-sync");

/** A fresh temp dir (symlinks resolved); remove it with `cleanup()` in afterEach/afterAll. */
export function tmpDir(prefix = "gs-test-"): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** A clean environment for git in tests: no user/system config leaks in. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "test",
    GIT_COMMITTER_EMAIL: "test@example.com",
    ...extra,
  };
}

/** Run git synchronously in `cwd`; throws with stderr on failure; returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  const p = Bun.spawnSync(["git", ...args], { cwd, env: gitEnv(), stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

/** A new repo on branch `main` with one commit; returns its path. */
export function makeRepo(dir: string, branch = "main"): string {
  git(dir, "init", "-q", "-b", branch);
  commit(dir, "file", "initial\n");
  return dir;
}

/** Write `file` with `content`, commit it, return the new HEAD hash. */
export function commit(repo: string, file = "file", content = `${Date.now()}-${Math.random()}\n`): string {
  Bun.spawnSync(["mkdir", "-p", join(repo, file, "..")]);
  require("node:fs").writeFileSync(join(repo, file), content);
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", `update ${file}`);
  return git(repo, "rev-parse", "HEAD");
}

export function head(repo: string, ref = "HEAD"): string {
  return git(repo, "rev-parse", ref);
}

/** The hash a git-sync link points at, or "" if the link does not exist. */
export function linkHash(link: string): string {
  if (!existsSync(link) && !isSymlink(link)) return "";
  try {
    return basename(readlinkSync(link));
  } catch {
    return "";
  }
}

function isSymlink(p: string): boolean {
  try {
    readlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Run the binary to completion (e.g. --one-time); kills it after `timeoutMs`. */
export async function runBinary(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const proc = Bun.spawn([BIN, ...args], {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: proc.signalCode ? null : proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode), stdout, stderr };
}

/** A long-running git-sync: stderr is collected as it arrives. */
export class Running {
  readonly proc: ReturnType<typeof Bun.spawn>;
  stderr = "";
  stdout = "";
  constructor(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
    this.proc = Bun.spawn([BIN, ...args], { cwd: opts.cwd, env: gitEnv(opts.env), stdout: "pipe", stderr: "pipe" });
    void this.pump(this.proc.stderr as ReadableStream<Uint8Array>, (s) => (this.stderr += s));
    void this.pump(this.proc.stdout as ReadableStream<Uint8Array>, (s) => (this.stdout += s));
  }
  private async pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void) {
    const dec = new TextDecoder();
    for await (const chunk of stream) add(dec.decode(chunk, { stream: true }));
  }
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>> {
    return this.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    this.proc.kill(signal);
    return await this.proc.exited;
  }
}

/** Poll `fn` until it returns truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
