// Figures for --serve-git (issue 22): the mirror at /git of --http-bind against the floor, `git
// http-backend` as CGI on the same .git (bench/serve/floor.ts: the tests' buffering server, and one
// that streams as a real web server does), on the large generated repo (15,000 files) over
// 127.0.0.1, with a secret on every side as a real deployment has.
//   1. Clone time: `git clone --depth=1` from a default (--depth=1) mirror, and a full `git clone`
//      from a --depth=0 one, protocol v2 and v0. Servers alternate, the first rotating each run;
//      medians of BENCH_RUNS (default 5), and the server's CPU per clone (its process and every
//      child it waited for, from /proc/<pid>/stat). Clones are --no-checkout: writing 15,000
//      files is the same work whichever server sent them, and on a shared machine it swings
//      from 0.5 to 10 s, which would drown the server's part; BENCH_CHECKOUT=1 adds full clones.
//   2. 20 concurrent `git clone --depth=1 --no-checkout` (--serve-git-max-packs=20): wall time;
//      git-sync's own VmRSS before and at its peak, sampled every 50 ms, and apart from it the
//      peak sum of its children's (upload-pack, pack-objects); every clone checked: HEAD is the
//      served commit and `git archive HEAD` equals the source repo's, byte for byte.
//   3. One follower's idle poll: a second git-sync with --repo=<mirror>/git --period=100ms, for
//      BENCH_POLL_SECONDS (default 15) after its first sync; the mirror's CPU per poll (polls
//      counted by its git_sync_serve_requests_total{kind="ls-refs",result="ok"}), net of what
//      it uses idle over as long, and the programs it started meanwhile (strace's execve
//      records; the mirror and the floor run under strace --seccomp-bpf in this part, which
//      stops them only at an exec). The floor's cost: per `git ls-remote`, and per poll of the
//      same follower pointed at it.
// `npm run bench:serve` (builds first) or `bun bench/serve.ts`; BENCH_JSON=<file> writes the
// figures as JSON there too (they are also printed, after the table, as one JSON line).
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Subprocess } from "bun";
import { BIN, freePort, git, gitEnv, metricValue, waitFor } from "../test/helpers/index.ts";
import { memory, runTimedOk, statTimes } from "./compare/proc.ts";
import { generateRepo } from "./compare/repos.ts";
import { median, positive } from "./compare/stats.ts";
import { parseCalls } from "./compare/strace.ts";

const RUNS = positive("BENCH_RUNS", 5);
const POLL_SECONDS = positive("BENCH_POLL_SECONDS", 15);
const CHECKOUT = process.env.BENCH_CHECKOUT === "1";
const CONCURRENT = 20;
const LS_REMOTES = 20;
const USER = "bench";
const STRACE = "/usr/bin/strace";
const canTrace = existsSync(STRACE);

const dir = realpathSync(mkdtempSync(join(tmpdir(), "gs-bench-serve-")));
const secret = crypto.randomUUID().replaceAll("-", "");
const secretFile = join(dir, "secret");
writeFileSync(secretFile, secret);

// ---- processes: every one this bench starts is stopped at the end, by its pid

const started = new Set<number>();

function stopPid(pid: number, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** Parent of every process now: pid -> ppid. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      table.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited while we looked
    }
  }
  return table;
}

function descendants(pid: number, table = processTable()): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of table) {
      if (parent === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** CPU of a process and the children it has waited for, in ms (clock ticks). */
function cpuMs(pid: number): number {
  const t = statTimes(pid);
  return t.selfMs + t.childrenMs;
}

/** strace options: execs only, seccomp so that the tracee stops at an exec and nowhere else. */
function traced(argv: string[], traceFile: string | undefined): string[] {
  if (!traceFile) return argv;
  return [STRACE, "-f", "--seccomp-bpf", "-qq", "-ttt", "-e", "trace=execve,execveat", "-e", "signal=none", "-o", traceFile, ...argv];
}

/** The process strace started for `argv` (its only child). */
async function tracee(stracePid: number): Promise<number> {
  return await waitFor("the traced process", () => [...processTable()].find(([, parent]) => parent === stracePid)?.[0], 10_000, 10);
}

/** Programs started (successful execs) in a trace between two epoch times, in seconds. */
function execsBetween(traceFile: string, from: number, to: number): number {
  return parseCalls(readFileSync(traceFile, "utf8")).filter((c) => c.name.startsWith("execve") && c.result === 0 && c.at >= from && c.at <= to).length;
}

const withCredentials = (url: string) => url.replace("http://", `http://${USER}:${secret}@`);

class GitSync {
  readonly port = freePort();
  readonly proc: Subprocess;
  readonly log: string;
  pid = 0;

  constructor(
    readonly name: string,
    readonly root: string,
    args: string[],
    readonly trace?: string,
  ) {
    this.log = join(dir, `${name}.log`);
    const fd = openSync(this.log, "a");
    const argv = [BIN, `--root=${root}`, "--link=link", `--http-bind=127.0.0.1:${this.port}`, "--http-metrics", ...args];
    this.proc = Bun.spawn(traced(argv, trace), { env: gitEnv({ TMPDIR: dir }), stdin: "ignore", stdout: "ignore", stderr: fd });
    closeSync(fd);
    started.add(this.proc.pid);
  }

  async started(): Promise<void> {
    this.pid = this.trace ? await tracee(this.proc.pid) : this.proc.pid;
    started.add(this.pid);
  }

  private failFast(): void {
    if (this.proc.exitCode !== null) throw new Error(`${this.name} exited ${this.proc.exitCode}: ${readFileSync(this.log, "utf8").split("\n").slice(-5).join("\n")}`);
  }

  async metrics(): Promise<string> {
    return await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
  }

  /** A mirror is ready when /git answers the advertisement (503 before its first publish). */
  async serving(): Promise<void> {
    await this.started();
    const auth = { Authorization: `Basic ${btoa(`${USER}:${secret}`)}` };
    await waitFor(`${this.name} serving /git`, async () => {
      this.failFast();
      return (await fetch(`http://127.0.0.1:${this.port}/git/info/refs?service=git-upload-pack`, { headers: auth })).status === 200;
    }, 180_000, 50);
  }

  /** A follower is ready when its link is published. */
  async synced(): Promise<void> {
    await this.started();
    await waitFor(`${this.name}'s first sync`, async () => {
      this.failFast();
      return existsSync(join(this.root, "link")) && (metricValue(await this.metrics(), 'git_sync_count_total{status="success"}') ?? 0) > 0;
    }, 180_000, 50);
  }

  hash(): string {
    return basename(readlinkSync(join(this.root, "link")));
  }

  async stop(): Promise<void> {
    // The git-sync itself, not strace: strace would detach and leave it running.
    stopPid(this.pid || this.proc.pid);
    const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
    if (!done) {
      stopPid(this.pid || this.proc.pid, "SIGKILL");
      stopPid(this.proc.pid, "SIGKILL");
      await this.proc.exited;
    }
    started.delete(this.pid);
    started.delete(this.proc.pid);
  }
}

class Floor {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  pid = 0;
  buffered = "";
  streamed = "";
  private stderr = "";

  constructor(
    readonly root: string,
    readonly trace?: string,
  ) {
    const argv = [process.execPath, join(import.meta.dir, "serve", "floor.ts"), root, USER, secretFile];
    this.proc = Bun.spawn(traced(argv, trace), { env: gitEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    started.add(this.proc.pid);
    void new Response(this.proc.stderr).text().then((t) => (this.stderr = t));
  }

  async ready(): Promise<void> {
    const reader = this.proc.stdout.getReader();
    const dec = new TextDecoder();
    let text = "";
    while (!text.includes("\n")) {
      const step = await reader.read();
      if (step.done) throw new Error(`the floor server exited: ${this.stderr}`);
      text += dec.decode(step.value, { stream: true });
    }
    void (async () => {
      while (!(await reader.read()).done);
    })();
    const info = JSON.parse(text.slice(0, text.indexOf("\n"))) as { pid: number; buffered: string; streamed: string };
    this.pid = info.pid;
    started.add(this.pid);
    // GIT_PROJECT_ROOT is root: its repository is at /.git.
    this.buffered = `${info.buffered}/.git`;
    this.streamed = `${info.streamed}/.git`;
  }

  async requests(): Promise<{ buffered: number; streamed: number }> {
    return (await (await fetch(`${this.streamed.replace(/\/\.git$/, "")}/__requests`)).json()) as { buffered: number; streamed: number };
  }

  async stop(): Promise<void> {
    stopPid(this.pid);
    await this.proc.exited;
    started.delete(this.pid);
    started.delete(this.proc.pid);
  }
}

/** After a failure: what is still running gets SIGTERM (git-sync then ends its git children), then SIGKILL. */
function cleanup(): void {
  if (started.size > 0) {
    for (const pid of started) stopPid(pid);
    Bun.sleepSync(1000);
    for (const pid of started) stopPid(pid, "SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

// ---- clones

interface CloneCase {
  depth: 0 | 1;
  protocol: 0 | 2;
  checkout: boolean;
}

function cloneArgv(url: string, dest: string, c: CloneCase): string[] {
  return ["git", "-c", `protocol.version=${c.protocol}`, "-c", "advice.detachedHead=false", "clone", "-q", ...(c.depth > 0 ? [`--depth=${c.depth}`] : []), ...(c.checkout ? [] : ["--no-checkout"]), url, dest];
}

/** SHA-256 of `git archive --format=tar <rev>` in `repo`: the whole tree, every byte of every file. */
async function archiveHash(repo: string, rev: string): Promise<string> {
  const p = Bun.spawn(["git", "archive", "--format=tar", rev], { cwd: repo, env: gitEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of p.stdout) hasher.update(chunk);
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`git archive in ${repo} exited ${code}: ${stderr.trim()}`);
  return hasher.digest("hex");
}

/** A clone is complete: HEAD is the served commit and its tree is the source's, byte for byte. */
async function verifyClone(dest: string, commit: string, tree: string): Promise<string> {
  const head = git(dest, "rev-parse", "HEAD");
  if (head !== commit) return `HEAD ${head}, not ${commit}`;
  const got = await archiveHash(dest, "HEAD");
  return got === tree ? "" : `git archive HEAD differs from the source's (${got.slice(0, 12)} vs ${tree.slice(0, 12)})`;
}

interface Server {
  name: "mirror" | "floor (buffered)" | "floor (streamed)";
  url: string;
  pid: number;
}

interface CaseResult {
  case: CloneCase;
  ms: Record<Server["name"], number[]>;
  cpuMs: Record<Server["name"], number[]>;
}

async function cloneTimes(servers: Server[], cases: CloneCase[], commit: string, runs: number): Promise<CaseResult[]> {
  const results: CaseResult[] = cases.map((c) => ({ case: c, ms: {} as CaseResult["ms"], cpuMs: {} as CaseResult["cpuMs"] }));
  for (const s of servers) {
    // Warm: page cache, and each server's first request.
    const dest = join(dir, "warm");
    await runTimedOk(cloneArgv(withCredentials(s.url), dest, cases[0]!), gitEnv());
    rmSync(dest, { recursive: true, force: true });
  }
  for (let run = 0; run < runs; run++) {
    for (const r of results) {
      const order = servers.map((_, i) => servers[(i + run) % servers.length]!);
      for (const s of order) {
        const dest = join(dir, "clone");
        const cpu0 = cpuMs(s.pid);
        const t = await runTimedOk(cloneArgv(withCredentials(s.url), dest, r.case), gitEnv());
        const cpu = cpuMs(s.pid) - cpu0;
        const head = git(dest, "rev-parse", "HEAD");
        if (head !== commit) throw new Error(`clone from ${s.name} has HEAD ${head}, not ${commit}`);
        rmSync(dest, { recursive: true, force: true });
        (r.ms[s.name] ??= []).push(Math.round(t.ms));
        (r.cpuMs[s.name] ??= []).push(Math.round(cpu));
      }
    }
  }
  return results;
}

// ---- concurrent clones and memory

interface ConcurrentResult {
  server: string;
  clones: number;
  wallMs: number;
  failed: number;
  incomplete: string[];
  rssBeforeMiB: number;
  rssPeakMiB: number;
  hwmBeforeMiB: number;
  hwmAfterMiB: number;
  childrenPeakMiB: number;
  childrenPeakCount: number;
}

async function concurrentClones(server: string, url: string, pid: number, n: number, commit: string, tree: string): Promise<ConcurrentResult> {
  const before = memory(pid);
  let rssPeak = before.rssMiB;
  let childrenPeak = 0;
  let childrenCount = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        rssPeak = Math.max(rssPeak, memory(pid).rssMiB);
      } catch {
        // exited: the run fails below
      }
      let sum = 0;
      const kids = descendants(pid);
      for (const k of kids) {
        try {
          // NaN: a zombie (no VmRSS line) waiting to be reaped.
          sum += memory(k).rssMiB || 0;
        } catch {
          // exited between the scan and the read
        }
      }
      childrenPeak = Math.max(childrenPeak, sum);
      childrenCount = Math.max(childrenCount, kids.length);
      await Bun.sleep(50);
    }
  })();
  const dests = Array.from({ length: n }, (_, i) => join(dir, `concurrent-${i}`));
  const t0 = performance.now();
  const procs = dests.map((d) => {
    const p = Bun.spawn(cloneArgv(withCredentials(url), d, { depth: 1, protocol: 2, checkout: false }), { env: gitEnv(), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    started.add(p.pid);
    return p;
  });
  const outcomes = await Promise.all(procs.map(async (p) => ({ code: await p.exited, stderr: await new Response(p.stderr).text() })));
  const wallMs = performance.now() - t0;
  for (const p of procs) started.delete(p.pid);
  sampling = false;
  await sampler;
  const after = memory(pid);
  const failed = outcomes.filter((o) => o.code !== 0);
  if (failed.length > 0) console.error(`${server}: ${failed.length} of ${n} clones failed; first: ${failed[0]!.stderr.trim().slice(-300)}`);
  const incomplete: string[] = [];
  for (const [i, d] of dests.entries()) {
    if (outcomes[i]!.code !== 0) continue;
    const why = await verifyClone(d, commit, tree);
    if (why !== "") incomplete.push(`clone ${i}: ${why}`);
  }
  for (const d of dests) rmSync(d, { recursive: true, force: true });
  return {
    server,
    clones: n,
    wallMs: Math.round(wallMs),
    failed: failed.length,
    incomplete,
    rssBeforeMiB: before.rssMiB,
    rssPeakMiB: rssPeak,
    hwmBeforeMiB: before.hwmMiB,
    hwmAfterMiB: after.hwmMiB,
    childrenPeakMiB: childrenPeak,
    childrenPeakCount: childrenCount,
  };
}

// ---- idle polls

interface PollResult {
  server: string;
  seconds: number;
  polls: number;
  cpuMs: number;
  idleCpuMs: number;
  /** (cpuMs - idleCpuMs) / polls */
  cpuMsPerPoll: number;
  /** null without strace */
  programs: number | null;
}

/** CPU (ms) of `pid` over `seconds`, and the epoch window it covered. */
async function cpuOver(pid: number, seconds: number): Promise<{ ms: number; from: number; to: number }> {
  const from = Date.now() / 1000;
  const c0 = cpuMs(pid);
  await Bun.sleep(seconds * 1000);
  return { ms: cpuMs(pid) - c0, from, to: Date.now() / 1000 };
}

// ---- the table

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")).join("\n");
}

// ---- the run

try {
  const t0 = performance.now();
  const repo = generateRepo(dir, { name: "large", files: 15_000, bytesPerFile: 2500, commits: 1, changesPerCommit: 0 });
  const commit = git(repo.path, "rev-parse", "refs/heads/main");
  const tree = await archiveHash(repo.path, commit);
  const mirrorArgs = (depth: number) => [`--repo=file://${repo.path}`, `--depth=${depth}`, "--period=1h", "--serve-git", `--serve-git-secret-file=${secretFile}`, `--serve-git-max-packs=${CONCURRENT}`];
  const root1 = join(dir, "mirror-depth1");
  const root0 = join(dir, "mirror-depth0");

  // 1. clone times
  console.error(`clone times: ${RUNS} runs...`);
  const m1 = new GitSync("mirror-depth1", root1, mirrorArgs(1));
  const m0 = new GitSync("mirror-depth0", root0, mirrorArgs(0));
  await Promise.all([m1.serving(), m0.serving()]);
  if (m1.hash() !== commit || m0.hash() !== commit) throw new Error(`the mirrors publish ${m1.hash()} and ${m0.hash()}, not ${commit}`);
  const f1Floor = new Floor(root1);
  const f0Floor = new Floor(root0);
  await Promise.all([f1Floor.ready(), f0Floor.ready()]);
  const serversOf = (m: GitSync, f: Floor): Server[] => [
    { name: "mirror", url: `http://127.0.0.1:${m.port}/git`, pid: m.pid },
    { name: "floor (buffered)", url: f.buffered, pid: f.pid },
    { name: "floor (streamed)", url: f.streamed, pid: f.pid },
  ];
  const cases = (depth: 0 | 1): CloneCase[] => [
    { depth, protocol: 2, checkout: false },
    { depth, protocol: 0, checkout: false },
    ...(CHECKOUT ? [{ depth, protocol: 2, checkout: true } as const, { depth, protocol: 0, checkout: true } as const] : []),
  ];
  const clones = [...(await cloneTimes(serversOf(m1, f1Floor), cases(1), commit, RUNS)), ...(await cloneTimes(serversOf(m0, f0Floor), cases(0), commit, RUNS))];
  await Promise.all([m0.stop(), f0Floor.stop()]);

  // 2. concurrent clones
  console.error(`${CONCURRENT} concurrent clones...`);
  const concurrent = [
    await concurrentClones("mirror (git-sync)", `http://127.0.0.1:${m1.port}/git`, m1.pid, CONCURRENT, commit, tree),
    await concurrentClones("floor (streamed)", f1Floor.streamed, f1Floor.pid, CONCURRENT, commit, tree),
  ];
  const mirrorRequests = await m1.metrics();
  await Promise.all([m1.stop(), f1Floor.stop()]);

  // 3. idle polls: the mirror and the floor again, on the same root, under strace
  console.error(`idle polls: ${POLL_SECONDS} s each...`);
  const mTrace = canTrace ? join(dir, "mirror.strace") : undefined;
  const fTrace = canTrace ? join(dir, "floor.strace") : undefined;
  const m3 = new GitSync("mirror-traced", root1, mirrorArgs(1), mTrace);
  const f3 = new Floor(root1, fTrace);
  await Promise.all([m3.serving(), f3.ready()]);
  const password = join(dir, "follower-password");
  writeFileSync(password, secret);
  // A sparse checkout of nothing: the follower's worktree would be 15,000 files written for no figure.
  const sparse = join(dir, "sparse-nothing");
  writeFileSync(sparse, "/no-such-file\n");
  const followerArgs = (url: string) => [`--repo=${url}`, `--username=${USER}`, `--password-file=${password}`, "--period=100ms", `--sparse-checkout-file=${sparse}`];
  const lsRefs = async () => metricValue(await m3.metrics(), 'git_sync_serve_requests_total{kind="ls-refs",result="ok"}') ?? 0;

  // The floor's follower first, while the mirror sits idle (its idle CPU over as long).
  const onFloor = new GitSync("follower-of-floor", join(dir, "follower-floor"), followerArgs(f3.streamed));
  await onFloor.synced();
  await Bun.sleep(500);
  const floorPolls0 = (await f3.requests()).streamed;
  const [floorPoll, mirrorIdle] = await Promise.all([cpuOver(f3.pid, POLL_SECONDS), cpuOver(m3.pid, POLL_SECONDS)]);
  const floorPolls = (await f3.requests()).streamed - floorPolls0;
  await onFloor.stop();

  // The mirror's follower, while the floor sits idle.
  const onMirror = new GitSync("follower-of-mirror", join(dir, "follower-mirror"), followerArgs(`http://127.0.0.1:${m3.port}/git`));
  await onMirror.synced();
  await Bun.sleep(500);
  const polls0 = await lsRefs();
  const [mirrorPoll, floorIdle] = await Promise.all([cpuOver(m3.pid, POLL_SECONDS), cpuOver(f3.pid, POLL_SECONDS)]);
  const mirrorPolls = (await lsRefs()) - polls0;
  if (onMirror.hash() !== commit) throw new Error(`the follower publishes ${onMirror.hash()}, not ${commit}`);
  await onMirror.stop();

  // One `git ls-remote` (GET info/refs, POST ls-refs, each after a 401), LS_REMOTES times.
  const lsRemote = async (url: string, pid: number) => {
    const from = Date.now() / 1000;
    const c0 = cpuMs(pid);
    for (let i = 0; i < LS_REMOTES; i++) await runTimedOk(["git", "ls-remote", withCredentials(url)], gitEnv());
    return { ms: cpuMs(pid) - c0, from, to: Date.now() / 1000 };
  };
  const floorLs = await lsRemote(f3.streamed, f3.pid);
  const mirrorLs = await lsRemote(`http://127.0.0.1:${m3.port}/git`, m3.pid);
  await Promise.all([m3.stop(), f3.stop()]);
  const programs = (trace: string | undefined, w: { from: number; to: number }) => (trace ? execsBetween(trace, w.from, w.to) : null);
  const poll = (server: string, w: { ms: number; from: number; to: number }, idle: { ms: number }, n: number, trace: string | undefined): PollResult => ({
    server,
    seconds: POLL_SECONDS,
    polls: n,
    cpuMs: w.ms,
    idleCpuMs: idle.ms,
    cpuMsPerPoll: (w.ms - idle.ms) / n,
    programs: programs(trace, w),
  });
  const polls = [poll("mirror (follower's ls-refs)", mirrorPoll, mirrorIdle, mirrorPolls, mTrace), poll("floor (follower's ls-refs)", floorPoll, floorIdle, floorPolls, fTrace)];
  const lsRemotes = [
    { server: "mirror", runs: LS_REMOTES, cpuMsPerRun: mirrorLs.ms / LS_REMOTES, programsPerRun: mTrace ? programs(mTrace, mirrorLs)! / LS_REMOTES : null },
    { server: "floor", runs: LS_REMOTES, cpuMsPerRun: floorLs.ms / LS_REMOTES, programsPerRun: fTrace ? programs(fTrace, floorLs)! / LS_REMOTES : null },
  ];

  // ---- report
  const out: string[] = [];
  out.push(`--serve-git on the large repo: ${repo.spec.files} files, ${(repo.checkoutBytes / 1e6).toFixed(1)} MB checkout, ${(repo.objectBytes / 1e6).toFixed(1)} MB objects; 127.0.0.1; git ${git(dir, "--version").replace("git version ", "")}; ${RUNS} runs`);
  out.push("");
  out.push(`1. git clone${CHECKOUT ? "" : " --no-checkout"} time, median ms (server CPU per clone, median ms); ratio = mirror / floor, goal <= 1.1`);
  const rows1 = [["clone", "mirror", "floor buffered", "floor streamed", "ratio buffered", "ratio streamed"]];
  const cloneJson = clones.map((r) => {
    const m = median(r.ms.mirror);
    const b = median(r.ms["floor (buffered)"]);
    const s = median(r.ms["floor (streamed)"]);
    const label = `${r.case.depth === 1 ? "--depth=1" : "full"} v${r.case.protocol}${r.case.checkout ? " with checkout" : ""}`;
    const cell = (name: Server["name"]) => `${median(r.ms[name])} (${median(r.cpuMs[name])})`;
    rows1.push([label, cell("mirror"), cell("floor (buffered)"), cell("floor (streamed)"), f2(m / b), f2(m / s)]);
    return { ...r.case, medianMs: { mirror: m, floorBuffered: b, floorStreamed: s }, ratio: { buffered: m / b, streamed: m / s }, serverCpuMedianMs: { mirror: median(r.cpuMs.mirror), floorBuffered: median(r.cpuMs["floor (buffered)"]), floorStreamed: median(r.cpuMs["floor (streamed)"]) }, allMs: r.ms, allCpuMs: r.cpuMs };
  });
  out.push(table(rows1));
  out.push("");
  out.push(`2. ${CONCURRENT} concurrent git clone --depth=1 --no-checkout (v2), --serve-git-max-packs=${CONCURRENT}`);
  const rows2 = [["server", "wall ms", "failed", "incomplete", "RSS before MiB", "RSS peak MiB", "growth MiB", "VmHWM after MiB", "children peak MiB", "children peak #"]];
  for (const c of concurrent) rows2.push([c.server, String(c.wallMs), String(c.failed), String(c.incomplete.length), f1(c.rssBeforeMiB), f1(c.rssPeakMiB), f1(c.rssPeakMiB - c.rssBeforeMiB), f1(c.hwmAfterMiB), f1(c.childrenPeakMiB), String(c.childrenPeakCount)]);
  out.push(table(rows2));
  for (const c of concurrent) for (const why of c.incomplete) out.push(`  ${c.server}: ${why}`);
  out.push("");
  out.push(`3. one follower's idle poll (--period=100ms, ${POLL_SECONDS} s), CPU of the serving process and its children`);
  const rows3 = [["server", "polls", "CPU ms", "idle CPU ms", "CPU ms/poll", "programs started"]];
  for (const p of polls) rows3.push([p.server, String(p.polls), String(Math.round(p.cpuMs)), String(Math.round(p.idleCpuMs)), f2(p.cpuMsPerPoll), p.programs === null ? "n/a (no strace)" : String(p.programs)]);
  for (const l of lsRemotes) rows3.push([`${l.server} (per git ls-remote, ${l.runs} runs)`, "", "", "", f2(l.cpuMsPerRun), l.programsPerRun === null ? "n/a" : `${f1(l.programsPerRun)}/run`]);
  out.push(table(rows3));
  out.push("");
  out.push(`took ${Math.round((performance.now() - t0) / 1000)} s; the --depth=1 mirror answered (parts 1 and 2; not_ready is this bench waiting for its first sync): ${mirrorRequests.split("\n").filter((l) => l.startsWith("git_sync_serve_requests_total{")).map((l) => l.replace("git_sync_serve_requests_total", "")).join(", ")}`);
  console.log(out.join("\n"));
  const json = JSON.stringify({ repo: { files: repo.spec.files, checkoutBytes: repo.checkoutBytes, objectBytes: repo.objectBytes, commit }, runs: RUNS, clones: cloneJson, concurrent, polls, lsRemotes });
  console.log(json);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, json + "\n");
} finally {
  cleanup();
}
