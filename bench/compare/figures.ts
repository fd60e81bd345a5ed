// The measurements. Each one runs git-sync and its plain-git floor (floor.ts) under the same
// conditions in the same run and returns raw samples; report.ts turns them into table rows.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, gitEnv } from "../../test/helpers/index.ts";
import type { Floor } from "./floor.ts";
import { LiveGitSync, type Attempts } from "./gitsync.ts";
import { largestProcessMiB, memory, runTimedOk, treeCpuOver, type Finished, type Memory } from "./proc.ts";
import { commitTo, type Remote } from "./repos.ts";
import { mean } from "./stats.ts";
import { attach, countPrograms, traceCommand, type ProgramCounts } from "./strace.ts";

export interface Settings {
  /** Files in the large repo (the small one always has 10). */
  largeFiles: number;
  startupRuns: number;
  /** Cold syncs per remote, by repo (one discarded warm-up pair comes first). */
  coldRuns: { small: number; large: number };
  /** git-sync's --period while idle, and the floor's pause between ls-remotes. */
  idlePeriodMs: number;
  /** How long the idle CPU window lasts. */
  idleWindowMs: number;
  /** ls-remote runs averaged for the floor's idle poll. */
  floorPolls: number;
  /** Idle polls watched by strace. */
  tracedPolls: number;
  /** Commits per push-to-publish variant. */
  latencyCommits: number;
  incrementalRuns: number;
}

export const FULL: Settings = {
  largeFiles: 15_000,
  startupRuns: 11,
  // Large cold syncs are disk-bound and vary run to run by +-20% on this machine: five of each.
  coldRuns: { small: 7, large: 5 },
  idlePeriodMs: 100,
  idleWindowMs: 10_000,
  floorPolls: 40,
  tracedPolls: 10,
  latencyCommits: 15,
  incrementalRuns: 9,
};

export const QUICK: Settings = {
  largeFiles: 2_000,
  startupRuns: 5,
  coldRuns: { small: 3, large: 2 },
  idlePeriodMs: 100,
  idleWindowMs: 2_500,
  floorPolls: 10,
  tracedPolls: 4,
  latencyCommits: 5,
  incrementalRuns: 3,
};

/** Where a measurement keeps its roots, logs and traces; every path it hands out is new. */
export class Workspace {
  readonly tmp: string;
  readonly secretFile: string;
  readonly secret = "bench-push-secret";
  private serial = 0;

  constructor(
    readonly dir: string,
    readonly settings: Settings,
    readonly floor: Floor,
    /** strace can attach to our processes here (else programs are counted by a --git wrapper). */
    readonly traceable: boolean,
  ) {
    this.tmp = join(dir, "tmp");
    mkdirSync(this.tmp, { recursive: true });
    mkdirSync(join(dir, "runs"), { recursive: true });
    this.secretFile = join(dir, "sync-secret");
    writeFileSync(this.secretFile, this.secret + "\n");
  }

  fresh(name: string): string {
    return join(this.dir, "runs", `${name}-${this.serial++}`);
  }

  env(): Record<string, string> {
    return gitEnv({ TMPDIR: this.tmp });
  }
}

// ---------------------------------------------------------------------------------------------
// Startup: wall time of `git-sync --version` (spawn to exit) against `git --version`.

export interface StartupResult {
  gitSyncMs: number[];
  gitMs: number[];
}

export async function measureStartup(ws: Workspace): Promise<StartupResult> {
  const result: StartupResult = { gitSyncMs: [], gitMs: [] };
  for (let i = 0; i < ws.settings.startupRuns; i++) {
    result.gitSyncMs.push((await runTimedOk([BIN, "--version"], ws.env())).ms);
    result.gitMs.push((await runTimedOk(["git", "--version"], ws.env())).ms);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Cold one-time sync: `git-sync --one-time` into a fresh root against the floor's script (init,
// shallow fetch, worktree, symlink swap), alternating which goes first, after one discarded
// warm-up pair (page cache, the binary's pages). A large checkout is disk-bound: each run
// starts after `sync` has flushed the previous runs' writes, and no root is deleted until the
// benchmark ends (deleting 15,000 files, with ext4's online discard, slowed the next runs
// down several times over).

export interface ColdResult {
  gitSync: Finished[];
  floor: Finished[];
}

function flushWrites(): void {
  Bun.spawnSync(["sync"]);
}

async function oneTimeSync(ws: Workspace, url: string): Promise<Finished> {
  const root = ws.fresh("cold");
  flushWrites();
  const run = await runTimedOk([BIN, "--one-time", `--repo=${url}`, `--root=${root}`, "--link=link"], ws.env());
  if (!existsSync(join(root, "link"))) throw new Error(`git-sync --one-time exited 0 but published nothing in ${root}`);
  return run;
}

async function floorColdSync(ws: Workspace, url: string): Promise<Finished> {
  flushWrites();
  return await ws.floor.coldSync(ws.fresh("floor-cold"), url);
}

export async function measureCold(ws: Workspace, remote: Remote): Promise<ColdResult> {
  const result: ColdResult = { gitSync: [], floor: [] };
  for (let i = -1; i < ws.settings.coldRuns[remote.repo.spec.name]; i++) {
    let gitSync: Finished;
    let floor: Finished;
    if (i % 2 === 0) {
      gitSync = await oneTimeSync(ws, remote.url);
      floor = await floorColdSync(ws, remote.url);
    } else {
      floor = await floorColdSync(ws, remote.url);
      gitSync = await oneTimeSync(ws, remote.url);
    }
    if (i < 0) continue;
    result.gitSync.push(gitSync);
    result.floor.push(floor);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Largest process: one more cold sync each, under GNU time (proc.ts says why not wait4 here).
// For git-sync that is the larger of itself and its biggest git child; for the floor, its
// biggest git.

export interface LargestProcess {
  gitSyncMiB: number;
  floorMiB: number;
}

export async function measureLargestProcess(ws: Workspace, remote: Remote): Promise<LargestProcess> {
  const scratch = ws.fresh("time") + ".txt";
  const gitSyncMiB = await largestProcessMiB([BIN, "--one-time", `--repo=${remote.url}`, `--root=${ws.fresh("cold-peak")}`, "--link=link"], ws.env(), scratch);
  const floorMiB = await largestProcessMiB(ws.floor.coldArgv(ws.fresh("floor-cold-peak"), remote.url), gitEnv(), scratch);
  return { gitSyncMiB, floorMiB };
}

// ---------------------------------------------------------------------------------------------
// Idle polls: a long-running git-sync at --period=<idlePeriodMs> after its first sync, the remote
// unchanged. CPU per poll = whole-tree CPU over a time window / the noop attempts counted by
// /metrics in it (scraped just outside the window, so the scrapes cost the window nothing; a
// poll straddling an edge is counted at one edge and not the other, which evens out). Then
// memory, then programs per poll from strace over whole polls (separate from the CPU window:
// tracing slows everything down). Floor: `git ls-remote <url> HEAD` at the same pace.

export interface IdleCpu {
  polls: number;
  cpuMsPerPoll: number;
  /** The same from clock ticks alone, for comparison. */
  ticksMsPerPoll: number;
  /** Whether git-sync's own share came from per-thread runtimes (else 10 ms clock ticks). */
  precise: boolean;
}

export interface ProgramsPerPoll {
  /** Programs git-sync starts itself, per poll. */
  direct: number;
  /** Programs started anywhere in its tree, per poll (undefined when counted by a wrapper). */
  all: number | undefined;
  polls: number;
  method: "strace" | "--git wrapper";
}

export interface IdleResult {
  cpu: IdleCpu;
  programs: ProgramsPerPoll;
  /** git-sync's main process after the idle window. */
  memory: Memory;
  floor: {
    cpuMsPerPoll: number;
    polls: number;
    /** Programs one ls-remote starts, itself included (undefined without strace). */
    programs: ProgramCounts | undefined;
  };
}

async function warmUp(gs: LiveGitSync, polls: number): Promise<Attempts> {
  let seen = await gs.attempts();
  for (let i = 0; i < polls; i++) seen = await gs.nextAttempt(seen);
  return seen;
}

async function idleCpu(gs: LiveGitSync, windowMs: number): Promise<IdleCpu> {
  const before = await gs.attempts();
  const cpu = await treeCpuOver(gs.pid, windowMs);
  const after = await gs.attempts();
  if (after.error !== before.error || after.success !== before.success) {
    throw new Error(`idle window was not idle: ${after.success - before.success} updates, ${after.error - before.error} errors; ${gs.logTail()}`);
  }
  const polls = after.noop - before.noop;
  if (polls < 1) throw new Error("no poll finished in the idle window");
  return { polls, cpuMsPerPoll: cpu.ms / polls, ticksMsPerPoll: cpu.ticksMs / polls, precise: cpu.precise };
}

/**
 * strace stays attached while N whole polls pass; only execs between the moment one poll was
 * seen to finish and the moment the Nth after it was are counted. Each of those moments falls
 * in git-sync's sleep (the next poll starts a period later; /metrics is read every 5 ms), so
 * exactly N polls are in the window.
 */
async function tracedPolls(ws: Workspace, gs: LiveGitSync): Promise<ProgramsPerPoll> {
  const tracer = await attach(gs.pid, ws.fresh("strace") + ".txt");
  const first = await gs.nextAttempt(await gs.attempts());
  const from = Date.now() / 1000; // strace -ttt prints the same wall clock
  let seen = first;
  for (let i = 0; i < ws.settings.tracedPolls; i++) seen = await gs.nextAttempt(seen);
  const to = Date.now() / 1000;
  const counts = countPrograms(await tracer.detach(), gs.pid, { from, to });
  const polls = seen.noop - first.noop;
  return { direct: counts.direct / polls, all: counts.all / polls, polls, method: "strace" };
}

/** Without ptrace: a separate git-sync whose --git is a script that logs each invocation. */
async function wrapperCountedPolls(ws: Workspace, remote: Remote): Promise<ProgramsPerPoll> {
  const wrapper = ws.fresh("git-wrapper");
  const log = `${wrapper}.log`;
  writeFileSync(wrapper, `#!/bin/sh\necho "$1" >> '${log}'\nexec git "$@"\n`, { mode: 0o755 });
  const lines = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").length - 1 : 0);
  const root = ws.fresh("idle-wrapped");
  const gs = new LiveGitSync(root, `${root}.log`, [`--repo=${remote.url}`, `--period=${ws.settings.idlePeriodMs}ms`, `--git=${wrapper}`], ws.tmp);
  try {
    await gs.synced();
    const first = await warmUp(gs, 2);
    const before = lines();
    let seen = first;
    for (let i = 0; i < ws.settings.tracedPolls; i++) seen = await gs.nextAttempt(seen);
    const polls = seen.noop - first.noop;
    return { direct: (lines() - before) / polls, all: undefined, polls, method: "--git wrapper" };
  } finally {
    await gs.stop();
  }
}

async function floorIdle(ws: Workspace, remote: Remote): Promise<IdleResult["floor"]> {
  await ws.floor.lsRemote(remote.url); // warm-up
  const cpu: number[] = [];
  for (let i = 0; i < ws.settings.floorPolls; i++) {
    cpu.push((await ws.floor.lsRemote(remote.url)).cpuMs);
    await Bun.sleep(ws.settings.idlePeriodMs);
  }
  const programs = ws.traceable ? await traceCommand(["git", "ls-remote", remote.url, "HEAD"], gitEnv(), ws.fresh("strace-floor") + ".txt") : undefined;
  return { cpuMsPerPoll: mean(cpu), polls: cpu.length, programs };
}

export async function measureIdle(ws: Workspace, remote: Remote): Promise<IdleResult> {
  const root = ws.fresh("idle");
  const gs = new LiveGitSync(root, `${root}.log`, [`--repo=${remote.url}`, `--period=${ws.settings.idlePeriodMs}ms`], ws.tmp);
  let cpu: IdleCpu;
  let mem: Memory;
  let programs: ProgramsPerPoll | undefined;
  try {
    await gs.synced();
    await warmUp(gs, 3);
    cpu = await idleCpu(gs, ws.settings.idleWindowMs);
    mem = memory(gs.pid);
    if (ws.traceable) programs = await tracedPolls(ws, gs);
  } finally {
    await gs.stop();
  }
  programs ??= await wrapperCountedPolls(ws, remote);
  return { cpu, programs, memory: mem, floor: await floorIdle(ws, remote) };
}

// ---------------------------------------------------------------------------------------------
// Push-to-publish: a commit lands in the served repo (fast-import, as a push would leave it);
// the latency is from the moment the ref moved until the link names the new hash (readlink
// every 2 ms). Commits never overlap: each waits for the previous publish, then a delay, so a
// polling git-sync is caught at a known point of its period. The delays are the midpoints of
// N equal slices of 0..gap in random order: uniform sampling of the phase without the noise of
// random draws (with 15 random draws the median of a 1 s period wanders by about +-130 ms).
// The push trigger is `POST /sync` with `Authorization: Bearer <secret>`, sent right after
// the commit, to a git-sync that would otherwise poll only hourly.

export interface LatencyVariant {
  name: string;
  args(ws: Workspace): string[];
  /** Polling period in ms (0: push-triggered). */
  periodMs: number;
  /** The delays before the commits are spread evenly over 0..gapMs. */
  gapMs: number;
  /** Least time between two commits. */
  spacingMs: number;
  /** Commits measured, as a multiple of the settings' latencyCommits (cheap variants take more). */
  commitsFactor: number;
}

export const LATENCY_VARIANTS: LatencyVariant[] = [
  // The median of a uniform 0..period wait spreads by about period/15 with 15 samples, as much
  // as the margin the target leaves: 30 samples at 1s (30 s), 45 at 100ms (under 10 s).
  { name: "--period=1s", args: () => ["--period=1s"], periodMs: 1000, gapMs: 1000, spacingMs: 0, commitsFactor: 2 },
  { name: "--period=100ms", args: () => ["--period=100ms"], periodMs: 100, gapMs: 100, spacingMs: 0, commitsFactor: 3 },
  // Pushes come seconds apart or more; git-sync may space push-triggered syncs (its
  // --http-sync-min-interval, 1s by default, defers a push that follows another within it),
  // and the target is about a push after a quiet spell, so pushes here are over 1 s apart.
  { name: "push trigger", args: (ws) => ["--period=1h", `--http-sync-secret-file=${ws.secretFile}`], periodMs: 0, gapMs: 250, spacingMs: 1100, commitsFactor: 1 },
];

export type LatencyResult = { samples: number[] } | { error: string };

/** Midpoints of n equal slices of 0..gapMs, shuffled. */
function phases(n: number, gapMs: number): number[] {
  const out = Array.from({ length: n }, (_, i) => ((i + 0.5) / n) * gapMs);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function waitForPublish(gs: LiveGitSync, hash: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (gs.hash() !== hash) {
    if (performance.now() > deadline) throw new Error(`link did not move to ${hash.slice(0, 8)} within ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
  return performance.now();
}

/** The push trigger; returns the HTTP status. */
async function triggerSync(ws: Workspace, gs: LiveGitSync): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${gs.port}/sync`, { method: "POST", headers: { Authorization: `Bearer ${ws.secret}` } });
  await res.arrayBuffer();
  return res.status;
}

export async function measureLatency(ws: Workspace, remote: Remote, variant: LatencyVariant): Promise<LatencyResult> {
  const root = ws.fresh("latency");
  const gs = new LiveGitSync(root, `${root}.log`, [`--repo=${remote.url}`, ...variant.args(ws)], ws.tmp);
  const samples: number[] = [];
  try {
    await gs.synced();
    let lastCommit = 0;
    const delays = phases(ws.settings.latencyCommits * variant.commitsFactor, variant.gapMs);
    for (let i = 0; i < delays.length; i++) {
      await Bun.sleep(Math.max(0, lastCommit + variant.spacingMs - performance.now()) + delays[i]!);
      const { hash, movedAt } = commitTo(remote.repo.path, "bench.txt", `${variant.name} ${i} ${Date.now()}\n`);
      if (variant.periodMs === 0) {
        const status = await triggerSync(ws, gs);
        if (status < 200 || status > 299) return { error: `POST /sync with a bearer token answered ${status}` };
      }
      const publishedAt = await waitForPublish(gs, hash, variant.periodMs === 0 ? 10_000 : 2 * variant.periodMs + 10_000);
      samples.push(publishedAt - movedAt);
      lastCommit = movedAt;
    }
    return { samples };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    await gs.stop();
  }
}

/** The floor's incremental sync: after each new commit, the floor's incremental script. */
export async function measureFloorIncremental(ws: Workspace, remote: Remote): Promise<number[]> {
  const root = ws.fresh("floor-incremental");
  await ws.floor.coldSync(root, remote.url);
  const samples: number[] = [];
  for (let i = 0; i < ws.settings.incrementalRuns; i++) {
    commitTo(remote.repo.path, "bench.txt", `floor ${i} ${Date.now()}\n`);
    samples.push((await ws.floor.incrementalSync(root, remote.url)).ms);
  }
  return samples;
}
