// What git's object checking on fetch (fetch.fsckObjects, on by default since issue 20) costs:
// a cold one-time sync of the large generated repo (15,000 files) into a fresh root, with it and
// with it turned off by --git-config, alternating, medians of BENCH_RUNS runs (default 5). Wall
// time and CPU time (user + system of git-sync and every git it waited for, from wait4's rusage):
// the CPU figure holds on a machine shared with other work, where wall time swings.
// `bun scripts/build.ts && bun bench/fsck.ts`
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitEnv } from "../test/helpers/index.ts";
import { generateRepo } from "./compare/repos.ts";

const BIN = join(import.meta.dir, "..", "dist", "git-sync");
const runs = Number(process.env.BENCH_RUNS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "gs-bench-fsck-"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

try {
  const repo = generateRepo(dir, { name: "large", files: 15_000, bytesPerFile: 2500, commits: 1, changesPerCommit: 0 });
  const variants = [
    { name: "fsck on (default)", flags: [] as string[] },
    { name: "fsck off", flags: ["--git-config=fetch.fsckObjects:false"] },
  ];
  const ms: number[][] = variants.map(() => []);
  const cpu: number[][] = variants.map(() => []);
  const fetchMs: number[][] = variants.map(() => []);
  const fetchCpu: number[][] = variants.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, v] of variants.entries()) {
      const root = join(dir, `root-${i}-${k}`);
      const started = performance.now();
      const p = Bun.spawnSync([BIN, "--one-time", `--repo=file://${repo.path}`, `--root=${root}`, "--link=link", ...v.flags], { env: { ...gitEnv(), TMPDIR: dir }, stdout: "ignore", stderr: "pipe" });
      const took = performance.now() - started;
      if (p.exitCode !== 0) throw new Error(`${v.name}: git-sync exited ${p.exitCode}: ${p.stderr.toString()}`);
      ms[k]!.push(Math.round(took));
      const ru = p.resourceUsage?.cpuTime;
      cpu[k]!.push(ru ? Math.round(Number(ru.user + ru.system) / 1000) : NaN);
      rmSync(root, { recursive: true, force: true });
      // The part fsck touches, alone: the same shallow fetch git-sync runs, into a fresh repo.
      const bare = join(dir, `fetch-${i}-${k}`);
      Bun.spawnSync(["git", "init", "-q", bare], { env: gitEnv() });
      const f0 = performance.now();
      const fsck = v.flags.length === 0 ? "true" : "false";
      const f = Bun.spawnSync(["git", "-c", `fetch.fsckObjects=${fsck}`, "fetch", "-q", "--depth", "1", `file://${repo.path}`, "HEAD"], { cwd: bare, env: gitEnv(), stderr: "pipe" });
      if (f.exitCode !== 0) throw new Error(`git fetch: ${f.stderr.toString()}`);
      fetchMs[k]!.push(Math.round(performance.now() - f0));
      const fru = f.resourceUsage?.cpuTime;
      fetchCpu[k]!.push(fru ? Math.round(Number(fru.user + fru.system) / 1000) : NaN);
      rmSync(bare, { recursive: true, force: true });
    }
  }
  console.log(`large repo: ${repo.spec.files} files, ${(repo.checkoutBytes / 1e6).toFixed(1)} MB checkout, ${(repo.objectBytes / 1e6).toFixed(1)} MB objects; cold one-time sync, median of ${runs}`);
  for (const [k, v] of variants.entries()) console.log(`${v.name}: wall ${median(ms[k]!)} ms (all: ${ms[k]!.join(", ")}), CPU ${median(cpu[k]!)} ms (all: ${cpu[k]!.join(", ")})`);
  const cost = (xs: number[][]) => `${median(xs[0]!) - median(xs[1]!)} ms (${(((median(xs[0]!) - median(xs[1]!)) / median(xs[1]!)) * 100).toFixed(0)}%)`;
  console.log(`fsck on fetch costs, in the whole sync: wall ${cost(ms)}, CPU ${cost(cpu)}`);
  for (const [k, v] of variants.entries()) console.log(`git fetch alone, ${v.name}: wall ${median(fetchMs[k]!)} ms (all: ${fetchMs[k]!.join(", ")}), CPU ${median(fetchCpu[k]!)} ms`);
  console.log(`fsck on fetch costs, in the fetch alone: wall ${cost(fetchMs)}, CPU ${cost(fetchCpu)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
