// Benchmark of the compiled binary against local repos: `npm run bench` (builds first).
// Measures what an operator pays for: startup, a first sync, a restart on a synced root,
// a no-op poll, the delay from a commit to the link moving, and the memory it holds.
// Figures go to stdout as a Markdown table; the README quotes a run of it.
import { readFileSync, readlinkSync, existsSync } from "node:fs";
import { basename, join } from "node:path";
import { BIN, cleanup, commit, freePort, git, gitEnv, tmpDir, waitFor } from "../test/helpers/index.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const FILES = Number(process.env.BENCH_FILES ?? 2000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeRun(args: string[]): Promise<number> {
  const t = performance.now();
  const p = Bun.spawn([BIN, ...args], { env: gitEnv(), stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  const code = await p.exited;
  if (code !== 0) throw new Error(`git-sync ${args.join(" ")} exited ${code}: ${err.slice(-500)}`);
  return performance.now() - t;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function metric(port: number, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found ? Number(found.split(" ").pop()) : 0;
}

const dir = tmpDir("gs-bench-");
try {
  const repo = join(dir, "repo");
  Bun.spawnSync(["mkdir", "-p", repo]);
  git(repo, "init", "-q", "-b", "main");
  for (let i = 0; i < FILES; i++) await Bun.write(join(repo, `d${i % 20}`, `f${i}.txt`), `file ${i}\n`.repeat(20));
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "many files");

  const version: number[] = [];
  for (let i = 0; i < RUNS; i++) version.push(await timeRun(["--version"]));

  const first: number[] = [];
  const restart: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const root = join(dir, `root${i}`);
    first.push(await timeRun(["--one-time", `--repo=${repo}`, `--root=${root}`]));
    restart.push(await timeRun(["--one-time", `--repo=${repo}`, `--root=${root}`]));
  }

  // Long-running: polls every 100ms; commits land and we time how long until the link moves.
  const port = freePort();
  const root = join(dir, "live");
  const link = join(root, "repo");
  const proc = Bun.spawn([BIN, `--repo=${repo}`, `--root=${root}`, "--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics"], {
    env: gitEnv(),
    stdout: "ignore",
    stderr: "ignore",
  });
  await waitFor("first sync", () => existsSync(link), 30_000);
  const latency: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const hash = commit(repo, "bench.txt", `change ${i}\n`);
    const t = performance.now();
    await waitFor("link to move", () => basename(readlinkSync(link)) === hash, 30_000, 5);
    latency.push(performance.now() - t);
    await Bun.sleep(150);
  }
  const noopBefore = await metric(port, 'git_sync_count_total{status="noop"}');
  const sumBefore = await metric(port, 'git_sync_duration_seconds_sum{status="noop"}');
  await Bun.sleep(3000);
  const noops = (await metric(port, 'git_sync_count_total{status="noop"}')) - noopBefore;
  const noopSeconds = (await metric(port, 'git_sync_duration_seconds_sum{status="noop"}')) - sumBefore;
  const rss = rssKiB(proc.pid);
  proc.kill("SIGTERM");
  await proc.exited;

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`git-sync benchmark: ${FILES} files, median of ${RUNS} runs, ${new Date().toISOString()}\n`);
  console.log("| measure | value |\n|---|---|");
  console.log(`| \`--version\` (process start) | ${ms(median(version))} |`);
  console.log(`| first one-time sync (init, fetch, worktree, publish) | ${ms(median(first))} |`);
  console.log(`| one-time restart on a synced root | ${ms(median(restart))} |`);
  console.log(`| no-op poll (mean of ${noops}, from git_sync_duration_seconds) | ${ms((noopSeconds / Math.max(1, noops)) * 1000)} |`);
  console.log(`| commit to link moved, --period=100ms | ${ms(median(latency))} |`);
  console.log(`| resident memory after ${RUNS} updates | ${(rss / 1024).toFixed(1)} MiB |`);
} finally {
  cleanup(dir);
}
