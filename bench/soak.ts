// Soak: a sidecar runs for weeks, so what it holds must stay flat. Runs the binary with a very
// short period (each poll is a full attempt: sanity checks, fetch, worktree check) plus a commit
// every few seconds, and samples resident memory, open file descriptors and zombie children.
//   bun bench/soak.ts            (SOAK_SECONDS=60 by default)
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { BIN, cleanup, commit, freePort, gitEnv, makeRepo, tmpDir, waitFor } from "../test/helpers/index.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Children of `pid` that have exited but were not reaped. */
function zombies(pid: number): number {
  let n = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" && Number(fields[1]) === pid) n++;
    } catch {
      // gone between readdir and read
    }
  }
  return n;
}

async function metric(port: number, prefix: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

const dir = tmpDir("gs-soak-");
try {
  const repo = makeRepo(join(dir, "repo"));
  const port = freePort();
  const proc = Bun.spawn([BIN, `--repo=${repo}`, `--root=${join(dir, "root")}`, "--period=10ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics"], {
    env: gitEnv(),
    stdout: "ignore",
    stderr: "ignore",
  });
  await waitFor("first sync", () => existsSync(join(dir, "root", "repo")), 30_000);
  const samples: Array<{ t: number; rss: number; fds: number; zombies: number; attempts: number }> = [];
  const start = Date.now();
  let commits = 0;
  while (Date.now() - start < SECONDS * 1000) {
    samples.push({
      t: Math.round((Date.now() - start) / 1000),
      rss: rssMiB(proc.pid),
      fds: fds(proc.pid),
      zombies: zombies(proc.pid),
      attempts: await metric(port, "git_sync_count_total"),
    });
    commit(repo, "file", `soak ${commits++}\n`);
    await Bun.sleep(Math.min(5000, SECONDS * 100));
  }
  const attempts = await metric(port, "git_sync_count_total");
  const updates = await metric(port, "git_fetch_count_total");
  proc.kill("SIGTERM");
  await proc.exited;

  console.log(`git-sync soak: ${SECONDS}s at --period=10ms, ${attempts} attempts, ${updates} updates, ${commits} commits\n`);
  console.log("| t (s) | attempts | RSS (MiB) | open fds | zombies |\n|---|---|---|---|---|");
  for (const s of samples) console.log(`| ${s.t} | ${s.attempts} | ${s.rss.toFixed(1)} | ${s.fds} | ${s.zombies} |`);
  const settled = samples.slice(Math.floor(samples.length / 3));
  const rss = settled.map((s) => s.rss);
  console.log(`\nRSS after warm-up: ${Math.min(...rss).toFixed(1)}-${Math.max(...rss).toFixed(1)} MiB; fds ${Math.min(...settled.map((s) => s.fds))}-${Math.max(...settled.map((s) => s.fds))}; zombies max ${Math.max(...samples.map((s) => s.zombies))}`);
} finally {
  cleanup(dir);
}
