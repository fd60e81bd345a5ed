// One process with three refs (--also-link) against three processes with one ref each, as the
// three-branch deployment runs today (issue 15). Part of `npm run bench`; alone:
// `bun scripts/build.ts && bun bench/multi-ref.ts`. The repo is generated (bench/compare/repos.ts)
// with main, release (main~2) and develop (main~1), served from a path on this machine.
//   - cold: wall time and whole-tree CPU of one `--one-time` run with 3 refs vs 3 single-ref runs
//     (one after another, summed, and all three at once as three containers would start)
//   - idle: whole-tree CPU over a window of polls (--period=100ms) and steady RSS of the 3-ref
//     process vs one 1-ref process and vs the sum of three 1-ref processes
// Goals (issue 15): idle 3 refs within 1.2x of one ref; cold <= 0.5x of three processes;
// memory <= 0.4x of three processes.
// Everything (repo, roots) lives on tmpfs (/dev/shm) when there is one: on the project's machine
// the same cold sync took 0.85 s in one run and 4.6 s in another, as the disk's writeback state
// came and went, which swamped what one process saves over three.
//   BENCH_QUICK=1  fewer repetitions, a smaller repo
//   BENCH_TMP=DIR  where to work instead (a disk, to see it with the disk)
import { existsSync, mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, cleanup, git, gitEnv } from "../test/helpers/index.ts";
import { memory, runTimedOk, treeCpuOver } from "./compare/proc.ts";
import { generateRepo } from "./compare/repos.ts";
import { median } from "./compare/stats.ts";

const quick = process.env.BENCH_QUICK === "1";
const REPS = quick ? 2 : 5;
const IDLE_MS = quick ? 3_000 : 10_000;
const FILES = quick ? 2_000 : 10_000;
const REFS = [
  ["main", "HEAD"],
  ["rel", "release"],
  ["dev", "develop"],
] as const;

const base = process.env.BENCH_TMP ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const dir = realpathSync(mkdtempSync(join(base, "gs-multi-ref-")));
const tmp = join(dir, "tmp");
Bun.spawnSync(["mkdir", "-p", tmp]);
const env = gitEnv({ TMPDIR: tmp });
let serial = 0;
const fresh = () => join(dir, "runs", String(serial++));

function flags(root: string, refs: ReadonlyArray<readonly [string, string]>): string[] {
  const [first, ...rest] = refs;
  return [`--repo=${repo.path}`, `--root=${root}`, `--link=${first![0]}`, `--ref=${first![1]}`, ...rest.map(([n, r]) => `--also-link=${n}=${r}`)];
}

async function cold(): Promise<{ one: number[]; oneCpu: number[]; seq: number[]; seqCpu: number[]; par: number[] }> {
  const out = { one: [] as number[], oneCpu: [] as number[], seq: [] as number[], seqCpu: [] as number[], par: [] as number[] };
  for (let i = 0; i < REPS; i++) {
    const r = await runTimedOk([BIN, "--one-time", ...flags(fresh(), REFS)], env);
    out.one.push(r.ms);
    out.oneCpu.push(r.cpuMs);
    let ms = 0;
    let cpu = 0;
    for (const ref of REFS) {
      const s = await runTimedOk([BIN, "--one-time", ...flags(fresh(), [ref])], env);
      ms += s.ms;
      cpu += s.cpuMs;
    }
    out.seq.push(ms);
    out.seqCpu.push(cpu);
    const start = performance.now();
    await Promise.all(REFS.map((ref) => runTimedOk([BIN, "--one-time", ...flags(fresh(), [ref])], env)));
    out.par.push(performance.now() - start);
  }
  return out;
}

/** Start long-running processes, wait for their links, then measure CPU over a window and RSS. */
async function idle(sets: Array<ReadonlyArray<readonly [string, string]>>): Promise<{ cpuMs: number; rssMiB: number }> {
  const procs = sets.map((refs) => {
    const root = fresh();
    const p = Bun.spawn([BIN, ...flags(root, refs), "--period=100ms"], { env, stdout: "ignore", stderr: "ignore" });
    return { p, root, refs };
  });
  try {
    const deadline = Date.now() + 120_000;
    for (const { root, refs } of procs) {
      for (const [name] of refs) {
        while (Bun.spawnSync(["test", "-L", join(root, name)]).exitCode !== 0) {
          if (Date.now() > deadline) throw new Error(`no link ${name} in ${root}`);
          await Bun.sleep(50);
        }
      }
    }
    // Let the first cleanup (gc) finish and the heap settle.
    await Bun.sleep(2_000);
    const cpu = await Promise.all(procs.map(({ p }) => treeCpuOver(p.pid, IDLE_MS)));
    const rss = procs.map(({ p }) => memory(p.pid).rssMiB);
    return { cpuMs: cpu.reduce((a, c) => a + c.ms, 0), rssMiB: rss.reduce((a, b) => a + b, 0) };
  } finally {
    for (const { p } of procs) p.kill("SIGKILL");
    await Promise.all(procs.map(({ p }) => p.exited));
  }
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const verdict = (ratio: number, goal: number) => (ratio <= goal ? "pass" : "FAIL");

const repo = generateRepo(dir, { name: "large", files: FILES, bytesPerFile: 2500, commits: 4, changesPerCommit: 200 });
git(repo.path, "branch", "release", "main~2");
git(repo.path, "branch", "develop", "main~1");
try {
  console.error(`[multi-ref] repo: ${FILES} files; cold syncs x${REPS}`);
  const c = await cold();
  console.error(`[multi-ref] idle, ${IDLE_MS} ms windows`);
  const one = await idle([[REFS[0]]]);
  const three = await idle([REFS]);
  const separate = await idle(REFS.map((r) => [r]));
  const polls = IDLE_MS / 100;
  const rows = [
    ["cold sync, wall", fmt(median(c.one)), `${fmt(median(c.seq))} (one after another)`, median(c.one) / median(c.seq), 0.5],
    ["cold sync, wall, three at once", fmt(median(c.one)), `${fmt(median(c.par))} (concurrently)`, median(c.one) / median(c.par), NaN],
    ["cold sync, CPU", fmt(median(c.oneCpu)), fmt(median(c.seqCpu)), median(c.oneCpu) / median(c.seqCpu), 0.5],
    ["idle CPU per poll (vs one 1-ref process)", `${(three.cpuMs / polls).toFixed(2)} ms`, `${(one.cpuMs / polls).toFixed(2)} ms`, three.cpuMs / one.cpuMs, 1.2],
    ["idle CPU per poll (vs three 1-ref processes)", `${(three.cpuMs / polls).toFixed(2)} ms`, `${(separate.cpuMs / polls).toFixed(2)} ms`, three.cpuMs / separate.cpuMs, NaN],
    ["memory, RSS", `${three.rssMiB.toFixed(1)} MiB`, `${separate.rssMiB.toFixed(1)} MiB (3 processes)`, three.rssMiB / separate.rssMiB, 0.4],
  ] as const;
  console.log(`\n### One process, three refs (--also-link) vs one process per ref; ${FILES}-file repo in ${base}, ${navigator.hardwareConcurrency} CPUs${quick ? ", BENCH_QUICK" : ""}\n`);
  console.log("| figure | 3 refs, 1 process | baseline | ratio | goal | verdict |\n|---|---|---|---|---|---|");
  for (const [figure, ours, base, ratio, goal] of rows) {
    console.log(`| ${figure} | ${ours} | ${base} | ${ratio.toFixed(2)}x | ${Number.isNaN(goal) ? "—" : `<= ${goal}x`} | ${Number.isNaN(goal) ? "—" : verdict(ratio, goal)} |`);
  }
} finally {
  cleanup(dir);
}
