// git-sync against plain git, in one run on one machine: `npm run bench` (builds first).
//
// For each thing git-sync does, the benchmark also runs the least plain git needs for the same
// job (the "floor", bench/compare/floor.ts) and reports git-sync's figure as a ratio over it,
// with issue 7's target and a verdict. Figures (bench/compare/figures.ts says how each is taken):
//   - idle poll CPU per poll, whole process tree, file:// and HTTP, small and large repo
//   - programs started per idle poll (strace), by git-sync itself and in its whole tree
//   - memory: main process steady and peak RSS; the largest process of a cold sync
//   - cold one-time sync wall time
//   - push-to-publish latency: polling at 1s and 100ms, and the POST /sync push trigger
//   - startup (`--version`)
// Repos are generated into a temp dir (bench/compare/repos.ts) and served over file:// URLs and
// git smart HTTP on 127.0.0.1; floor and git-sync always use the same URL.
//
//   BENCH_QUICK=1   a smoke run: fewer repetitions, a 2000-file large repo (about a minute)
//   BENCH_JSON=f    also write the rows and raw samples to f
//   BENCH_STRACE=0  count programs with a --git wrapper even where strace works
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, cleanup, tmpDir } from "../test/helpers/index.ts";
import { FULL, LATENCY_VARIANTS, QUICK, Workspace, measureCold, measureFloorIncremental, measureIdle, measureLargestProcess, measureLatency, measureStartup } from "./compare/figures.ts";
import type { ColdResult, IdleResult, LargestProcess, LatencyResult } from "./compare/figures.ts";
import { Floor } from "./compare/floor.ts";
import { generateRepo, remotes, serveRepos, type GeneratedRepo, type Remote, type RepoSpec } from "./compare/repos.ts";
import { coldRows, guarded, idleRows, latencyRow, markdown, memoryRows, sizeSpreadRow, startupRows, type Outcome, type Row } from "./compare/report.ts";
import { canMeasurePeak } from "./compare/proc.ts";
import { canTrace } from "./compare/strace.ts";

const quick = process.env.BENCH_QUICK === "1";
const settings = quick ? QUICK : FULL;

const SMALL: RepoSpec = { name: "small", files: 10, bytesPerFile: 1000, commits: 3, changesPerCommit: 2 };
const LARGE: RepoSpec = { name: "large", files: settings.largeFiles, bytesPerFile: 2500, commits: 6, changesPerCommit: 300 };

function progress(what: string): void {
  console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${what}`);
}

function version(argv: string[]): string {
  return Bun.spawnSync(argv).stdout.toString().trim();
}

function describeRepo(r: GeneratedRepo): string {
  return `${r.spec.name}: ${r.spec.files} files, ${r.spec.commits} commits, ${(r.checkoutBytes / 1e6).toFixed(1)} MB checkout, ${(r.objectBytes / 1e6).toFixed(1)} MB of objects`;
}

interface Results {
  startup: Outcome<unknown>;
  cold: Map<Remote, Outcome<ColdResult>>;
  idle: Map<Remote, Outcome<IdleResult>>;
  largest: Array<Outcome<LargestProcess>>;
  incremental: Map<Remote, Outcome<number[]>>;
  latency: Array<{ remote: Remote; variant: string; outcome: Outcome<LatencyResult> }>;
}

async function run(ws: Workspace, all: Remote[]): Promise<{ rows: Row[]; results: Results }> {
  const rows: Row[] = [];
  progress("startup");
  const startup = await guarded(() => measureStartup(ws));
  rows.push(...startupRows(startup));

  const cold = new Map<Remote, Outcome<ColdResult>>();
  for (const r of all) {
    progress(`cold one-time sync, ${r.label}`);
    cold.set(r, await guarded(() => measureCold(ws, r)));
    rows.push(...coldRows(r, cold.get(r)!));
  }

  const idle = new Map<Remote, Outcome<IdleResult>>();
  for (const r of all) {
    progress(`idle polls, ${r.label}`);
    idle.set(r, await guarded(() => measureIdle(ws, r)));
    rows.push(...idleRows(r, idle.get(r)!));
  }
  for (const transport of ["file", "http"] as const) {
    const pick = (size: string) => idle.get(all.find((r) => r.transport === transport && r.repo.spec.name === size)!)!;
    rows.push(sizeSpreadRow(transport, pick("small"), pick("large")));
  }
  const largest: Array<Outcome<LargestProcess>> = [];
  if (canMeasurePeak()) {
    for (const r of all.filter((x) => x.repo.spec.name === "large")) {
      progress(`largest process, ${r.label}`);
      largest.push(await guarded(() => measureLargestProcess(ws, r)));
    }
  }
  rows.push(...memoryRows([...idle.values()], largest));

  // Latency runs last: its commits change the small repo the other figures read.
  const incremental = new Map<Remote, Outcome<number[]>>();
  const latency: Results["latency"] = [];
  for (const r of all.filter((x) => x.repo.spec.name === "small")) {
    progress(`incremental sync floor, ${r.label}`);
    incremental.set(r, await guarded(() => measureFloorIncremental(ws, r)));
    for (const variant of LATENCY_VARIANTS) {
      progress(`push-to-publish, ${variant.name}, ${r.label}`);
      const outcome = await guarded(() => measureLatency(ws, r, variant));
      latency.push({ remote: r, variant: variant.name, outcome });
      rows.push(latencyRow(r, variant, outcome, incremental.get(r)!));
    }
  }
  return { rows, results: { startup, cold, idle, largest, incremental, latency } };
}

function notes(ws: Workspace, repos: GeneratedRepo[]): string[] {
  return [
    `- Repos: ${repos.map(describeRepo).join("; ")}. file:// URLs (\`file:///...\`) and git smart HTTP (\`git http-backend\` behind Bun.serve on 127.0.0.1, protocol v2); git-sync and the floor use the same URL. Ref: HEAD, depth 1.`,
    `- Floor: idle poll = one \`git ls-remote <url> HEAD\`; cold sync = /bin/sh script doing \`git init\`, \`git fetch --depth 1\`, \`git worktree add --detach\`, \`ln -s\` + \`mv -T\`; incremental = the same minus init.`,
    `- Idle CPU: git-sync --period=${ws.settings.idlePeriodMs}ms after its first sync; whole-tree CPU (/proc/<pid>/stat utime+stime+cutime+cstime; git-sync's own share from per-thread sched runtimes where available) over ${ws.settings.idleWindowMs / 1000}s / noop attempts in /metrics. Floor: mean CPU of ${ws.settings.floorPolls} ls-remotes (wait4 rusage, children included). Server-side HTTP work (http-backend) runs in the benchmark process and is counted for neither.`,
    ws.traceable
      ? `- Programs per poll: strace -f attached to git-sync for ${ws.settings.tracedPolls} whole idle polls; floor: one ls-remote under strace (the ls-remote is the 1 program a plain-git poller starts itself).`
      : `- Programs per poll: without strace (ptrace not permitted, or BENCH_STRACE=0), counted by a --git wrapper script over ${ws.settings.tracedPolls} idle polls: git-sync's own git calls only, nothing about the rest of its tree; floor: 1 (the ls-remote).`,
    `- Memory: VmRSS/VmHWM of git-sync's main process from /proc after the idle window; largest process = GNU time's max RSS over a cold one-time sync of the large repo (wait4 from Bun would report this process's own peak for every child it starts).`,
    `- Push-to-publish: commit written into the served bare repo by git fast-import; from the ref moving to readlink showing the new hash (polled every 2 ms); delays before each commit spread evenly over 0..period (shuffled). Push trigger: --period=1h, --http-sync-secret-file, \`POST /sync\` with \`Authorization: Bearer <secret>\` right after the commit; commits over 1.1 s apart (past the default --http-sync-min-interval).`,
  ];
}

const started = performance.now();
const dir = tmpDir("gs-compare-");
let stopServer = () => {};
try {
  progress(`generating repos in ${dir}`);
  const reposDir = join(dir, "repos");
  const repos = [generateRepo(reposDir, SMALL), generateRepo(reposDir, LARGE)];
  const server = serveRepos(reposDir);
  stopServer = server.stop;
  const traceable = process.env.BENCH_STRACE !== "0" && (await canTrace(join(dir, "strace-probe.txt")));
  const ws = new Workspace(dir, settings, new Floor(dir), traceable);
  const { rows, results } = await run(ws, remotes(repos, server));
  const seconds = (performance.now() - started) / 1000;

  const binVersion = version([BIN, "--version"]);
  const gitVersion = version(["git", "--version"]);
  console.log(`git-sync ${binVersion} vs ${gitVersion}, ${navigator.hardwareConcurrency} CPUs, ${quick ? "BENCH_QUICK" : "full"} run, ${new Date().toISOString()}, ${seconds.toFixed(0)} s\n`);
  console.log(markdown(rows));
  console.log("\n" + notes(ws, repos).join("\n"));
  if (process.env.BENCH_JSON) {
    const raw = {
      startup: results.startup,
      cold: [...results.cold].map(([r, o]) => ({ remote: r.label, outcome: o })),
      idle: [...results.idle].map(([r, o]) => ({ remote: r.label, outcome: o })),
      largestProcess: results.largest,
      incremental: [...results.incremental].map(([r, o]) => ({ remote: r.label, outcome: o })),
      latency: results.latency.map((l) => ({ remote: l.remote.label, variant: l.variant, outcome: l.outcome })),
    };
    const meta = { gitSync: binVersion, git: gitVersion, cpus: navigator.hardwareConcurrency, quick, seconds, date: new Date().toISOString(), settings, repos: repos.map(describeRepo) };
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({ meta, rows, raw }, null, 2) + "\n");
  }
} finally {
  stopServer();
  cleanup(dir);
}
