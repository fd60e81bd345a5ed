// Shared helpers for black-box tests: temp dirs, real git repos, and the compiled binary.
// The binary is built once by scripts/test.ts (or `npm run build`) before `bun test` runs.
import { setDefaultTimeout } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

// Scenarios queue for a slot and spawn real processes; tests set tighter deadlines themselves.
setDefaultTimeout(60_000);

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

/** Like `git`, but returns whether it succeeded instead of throwing. */
export function gitOk(cwd: string, ...args: string[]): boolean {
  return Bun.spawnSync(["git", ...args], { cwd, env: gitEnv(), stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

/** A new repo on branch `main` with one commit; returns its path. */
export function makeRepo(dir: string, branch = "main"): string {
  mkdirSync(dir, { recursive: true });
  git(dir, "init", "-q", "-b", branch);
  commit(dir, "file", "initial\n");
  return dir;
}

/** Write `file` with `content`, commit it, return the new HEAD hash. */
export function commit(repo: string, file = "file", content = `${Date.now()}-${Math.random()}\n`): string {
  mkdirSync(dirname(join(repo, file)), { recursive: true });
  writeFileSync(join(repo, file), content);
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

/** The raw target of a symlink, or "" if it is not one. */
export function linkTarget(link: string): string {
  try {
    return readlinkSync(link);
  } catch {
    return "";
  }
}

export function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Contents of a file, or undefined if it can't be read (missing, dangling link, ...). */
export function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Is `pid` a live (non-zombie) process? */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3 (after the parenthesised comm) is the state; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Wall time of the run in milliseconds. */
  ms: number;
}

/** Returns `r` if git-sync exited 0; otherwise throws with its error lines, for a readable failure. */
export function expectExit0(r: RunResult): RunResult {
  if (r.code !== 0) {
    const errors = r.stderr.split("\n").filter((l) => l !== "" && !l.includes('"level":'));
    throw new Error(`git-sync exited ${r.code ?? r.signal}, expected 0:\n${errors.join("\n")}`);
  }
  return r;
}

/** Parsed JSON log lines (stderr lines starting with `{`). */
export function jsonLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** How many JSON log lines carry exactly this `msg`. */
export function countMsg(stderr: string, msg: string): number {
  return jsonLines(stderr).filter((l) => l.msg === msg).length;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Start the binary under this umask (through /bin/sh), e.g. "000". */
  umask?: string;
}

/** Run the binary to completion (e.g. --one-time); kills it after `timeoutMs`. */
export async function runBinary(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const start = Date.now();
  const argv = opts.umask ? ["/bin/sh", "-c", `umask ${opts.umask}; exec "$@"`, "sh", BIN, ...args] : [BIN, ...args];
  const proc = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return {
    code: proc.signalCode ? null : proc.exitCode,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    stdout,
    stderr,
    ms: Date.now() - start,
  };
}

/** A long-running git-sync: stderr is collected as it arrives. */
export class Running {
  readonly proc: ReturnType<typeof Bun.spawn>;
  stderr = "";
  stdout = "";
  /** Exit code once the process has exited (null while running or when killed by a signal). */
  code: number | null = null;
  done = false;
  constructor(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
    this.proc = Bun.spawn([BIN, ...args], { cwd: opts.cwd, env: gitEnv(opts.env), stdout: "pipe", stderr: "pipe" });
    void this.pump(this.proc.stderr as ReadableStream<Uint8Array>, (s) => (this.stderr += s));
    void this.pump(this.proc.stdout as ReadableStream<Uint8Array>, (s) => (this.stdout += s));
    void this.proc.exited.then((c) => {
      this.code = c;
      this.done = true;
    });
  }
  private async pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void) {
    const dec = new TextDecoder();
    for await (const chunk of stream) add(dec.decode(chunk, { stream: true }));
  }
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>> {
    return jsonLines(this.stderr);
  }
  /** How many log lines so far carry exactly this `msg`. */
  count(msg: string): number {
    return countMsg(this.stderr, msg);
  }
  /** Wait until at least `n` log lines carry `msg`. */
  async waitLog(msg: string, n = 1, timeoutMs = 15_000): Promise<void> {
    await waitFor(`${n}x log "${msg}"`, () => this.count(msg) >= n || this.failFast(), timeoutMs);
    if (this.count(msg) < n) throw new Error(`git-sync exited (code ${this.code}) before logging "${msg}"\n${this.stderr}`);
  }
  /** Wait for the process to exit; returns its exit code. */
  async exited(timeoutMs = 15_000): Promise<number | null> {
    await waitFor("git-sync to exit", () => this.done, timeoutMs);
    return this.code;
  }
  private failFast(): boolean {
    return this.done;
  }
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (!this.done) this.proc.kill(signal);
    return await this.proc.exited;
  }
}

/** Poll `fn` until it returns truthy, and return that; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, false | 0 | "" | null | undefined>;
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

/** GET `path` on a local git-sync HTTP endpoint. */
export async function httpGet(port: number, path = "/"): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" };
}

/** The value of the metric line `series` (e.g. `git_sync_count_total{status="success"}`), or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1).trim());
  }
  return undefined;
}

/** Fetch /metrics and read one series; undefined while the endpoint or the series is absent. */
export async function metric(port: number, series: string): Promise<number | undefined> {
  try {
    return metricValue((await httpGet(port, "/metrics")).body, series);
  } catch {
    return undefined;
  }
}

export const SUCCESS = 'git_sync_count_total{status="success"}';
export const ERROR = 'git_sync_count_total{status="error"}';
export const NOOP = 'git_sync_count_total{status="noop"}';
export const FETCHES = "git_fetch_count_total";

// Many git-sync processes at once on a 2-core CI box make timing-sensitive scenarios flaky;
// scenarios queue for a slot (per test worker) before they start their processes.
const MAX_SCENARIOS = Number(process.env.E2E_CONCURRENCY ?? 4);
let active = 0;
const queue: Array<() => void> = [];

async function acquire(): Promise<void> {
  if (active < MAX_SCENARIOS) {
    active++;
    return;
  }
  await new Promise<void>((resolve) => queue.push(resolve));
}

function release(): void {
  const next = queue.shift();
  if (next) next();
  else active--;
}

/**
 * One scenario's world: a temp dir holding an upstream repo (`repo`, branch `main`, one commit),
 * the git-sync root (`root`, not created) and the default link `root/link`. Everything started
 * through it is killed and the temp dir removed on dispose (`await using t = await scenario()`).
 */
export class Scenario {
  readonly dir: string;
  readonly repo: string;
  readonly root: string;
  readonly link: string;
  /** Extra environment for every process started through this scenario. */
  readonly env: Record<string, string>;
  private readonly procs: Running[] = [];
  private readonly pidFiles: string[] = [];

  constructor(opts: { branch?: string; repoName?: string } = {}) {
    this.dir = tmpDir();
    this.repo = makeRepo(join(this.dir, opts.repoName ?? "repo"), opts.branch ?? "main");
    this.root = join(this.dir, "root");
    this.link = join(this.root, "link");
    // git-sync's private gitconfig goes to $TMPDIR; keep it inside the scenario's dir.
    mkdirSync(join(this.dir, "tmp"));
    this.env = { TMPDIR: join(this.dir, "tmp") };
  }

  /** `--repo`, `--root`, `--link=link`, then `extra`. */
  args(...extra: string[]): string[] {
    return [`--repo=${this.repo}`, `--root=${this.root}`, "--link=link", ...extra];
  }

  /** One `--one-time` run with the default args plus `extra`. */
  sync(...extra: string[]): Promise<RunResult> {
    return runBinary(["--one-time", ...this.args(...extra)], { env: this.env });
  }

  /** Like `sync`, but fails with git-sync's error lines when it does not exit 0. */
  async syncOk(...extra: string[]): Promise<RunResult> {
    return expectExit0(await this.sync(...extra));
  }

  /** Run the binary with exactly these args (plus the scenario env). */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runBinary(args, { ...opts, env: { ...this.env, ...opts.env } });
  }

  /** A long-running git-sync with the default args plus `extra`. */
  start(...extra: string[]): Running {
    return this.spawn(this.args(...extra));
  }

  /** A long-running git-sync with exactly these args. */
  spawn(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Running {
    const r = new Running(args, { ...opts, env: { ...this.env, ...opts.env } });
    this.procs.push(r);
    return r;
  }

  /** The hash the default link points at ("" if none). */
  hash(): string {
    return linkHash(this.link);
  }

  /** Read `file` through the default link (undefined if unreadable). */
  read(file = "file"): string | undefined {
    return readOr(join(this.link, file));
  }

  /** Wait until the default link points at `hash`. */
  /** Wait for the link to point at `hash`; on timeout, show the last errors `r` logged. */
  async waitHash(hash: string, timeoutMs = 15_000, r?: Running): Promise<void> {
    try {
      await waitFor(`link -> ${hash.slice(0, 8)} (now ${this.hash().slice(0, 8) || "none"})`, () => this.hash() === hash, timeoutMs);
    } catch (e) {
      if (!r) throw e;
      const errs = jsonLines(r.stderr).filter((l) => l.error !== undefined);
      throw new Error(`${(e as Error).message}; exited: ${r.done} (${r.code}); last errors:\n${errs.slice(-3).map((l) => JSON.stringify(l)).join("\n")}`, { cause: e });
    }
  }

  /** The worktree dir for a hash. */
  worktree(hash: string): string {
    return join(this.root, ".worktrees", hash);
  }

  /** Another upstream repo in this scenario's dir (branch `main`, one commit). */
  makeRepo(name: string, branch = "main"): string {
    return makeRepo(join(this.dir, name), branch);
  }

  /**
   * A `--git` wrapper: a bash script that appends its argv to `<dir>/<name>.log` and execs git.
   * With `sleepOnFetch`, a `fetch` first sleeps that many seconds in a child whose pid is
   * written to `<dir>/<name>.sleep.pid`.
   */
  gitWrapper(name = "git-wrapper", opts: { sleepOnFetch?: number } = {}): { path: string; log: string; sleepPid: string } {
    const path = join(this.dir, name);
    const log = join(this.dir, `${name}.log`);
    const sleepPid = join(this.dir, `${name}.sleep.pid`);
    const gitPath = Bun.which("git") ?? "git";
    const sleepPath = Bun.which("sleep") ?? "/bin/sleep";
    const slow = opts.sleepOnFetch
      ? `for a in "$@"; do if [ "$a" = fetch ]; then ${sleepPath} ${opts.sleepOnFetch} & echo $! > '${sleepPid}'; wait $!; break; fi; done\n`
      : "";
    writeFileSync(path, `#!/bin/bash\nprintf '%s\\n' "$*" >> '${log}'\n${slow}exec ${gitPath} "$@"\n`, { mode: 0o755 });
    this.pidFiles.push(sleepPid);
    return { path, log, sleepPid };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      for (const p of this.procs) if (!p.done) p.proc.kill("SIGKILL");
      await Promise.all(this.procs.map((p) => p.proc.exited));
      // git children of a killed git-sync run on in their own process groups; they are ours
      // (started by this scenario) and still work inside its dir.
      for (const f of this.pidFiles) killPid(Number(readOr(f)?.trim()));
      for (const pid of pidsWorkingIn(this.dir)) killPid(pid);
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } finally {
      release();
    }
  }
}

function killPid(pid: number): void {
  if (!(pid > 0) || !isAlive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Pids of live processes whose cwd is `dir` or below it. */
function pidsWorkingIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) pids.push(Number(entry));
    } catch {
      // exited, or not ours to inspect
    }
  }
  return pids;
}

/** Start a scenario once a slot is free. */
export async function scenario(opts: { branch?: string; repoName?: string } = {}): Promise<Scenario> {
  await acquire();
  try {
    return new Scenario(opts);
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * Every path under dir: type, exec bit, content or symlink target; `.git` and copy mode's hash
 * file left out. Two trees are the same checkout when their snapshots are equal.
 */
export function snapshot(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel === "" ? name : `${rel}/${name}`;
    if (p === ".git-sync-hash" || p === ".git") continue;
    const abs = join(dir, p);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(abs)}`;
    else if (st.isDirectory()) Object.assign(out, snapshot(dir, p), { [p]: "dir" });
    else out[p] = `${st.mode & 0o100 ? "x" : "-"}:${readFileSync(abs, "utf8")}`;
  }
  return out;
}

/** `git archive` of `rev` in `repo`, extracted into `scratch` (made anew), as a snapshot. */
export function archive(repo: string, rev: string, scratch: string): Record<string, string> {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const tar = join(scratch, "..", `${basename(scratch)}.tar`);
  git(repo, "archive", "-o", tar, rev);
  const p = Bun.spawnSync(["tar", "-xf", tar, "-C", scratch]);
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  rmSync(tar, { force: true });
  return snapshot(scratch);
}
