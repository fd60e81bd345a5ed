// Figures for --peers (issue 23): what a fleet of replicas costs the git host, and how fast a
// push reaches every replica. Real processes and real DNS, as in test/e2e/peers.test.ts: the
// replicas on 127.0.0.11.. :8080 resolve `peers` through dnsmasq, in private PID, network and
// mount namespaces (this script re-runs itself under unshare; root and dnsmasq needed), against
// a git host on 127.0.0.1 (git http-backend, basic auth) that logs every request by user.
//   1. Steady state: requests to the host per minute, --period=1s, N = 1, 5, 20 with --peers and
//      N = 5 without (today's cost), each over BENCH_WINDOW seconds (default 30) after the fleet
//      has settled on one owner. Polls and fetches alike: git's credential-less first request
//      (401) is left out, as the same process repeats it at once.
//   2. Fetches from the host per new commit, N = 20 (BENCH_PUSHES commits, default 10).
//   3. Push -> published on every replica (readlink of each link every 5 ms): p50 and max, over
//      the same pushes, N = 20 and one replica alone; first found by the owner's poll, then
//      with the push trigger (a forge's POST /sync to the owner, --http-sync-secret-file; no
//      --http-sync-min-interval spacing), which N = 5 is measured with too. And the CPU one
//      follower's update costs (/proc stat of git-sync and the git processes it waited for):
//      all replicas share this machine's cores, where in a cluster each has its own.
//   4. The owner SIGKILLed, then a push: time until every survivor publishes it (the dead owner
//      stays in the DNS answer: the worst case), and reads that failed meanwhile through any
//      survivor's link (a file read every 5 ms per replica).
//   5. A replica joining the fleet of 20: requests it made to the host before it published.
// `npm run bench:fleet` (builds first) or `bun bench/fleet.ts`; BENCH_JSON=<file> writes the
// figures as JSON too (also printed after the table, as one line). BENCH_ONLY_N=5 or 20 runs
// that fleet size alone (JSON only); BENCH_KEEP=1 keeps every replica's log.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitEnv, waitFor } from "../test/helpers/index.ts";
import { statTimes } from "./compare/proc.ts";
import { percentile, positive } from "./compare/stats.ts";
import { enterNamespace, Fleet, ip, namespaces, OUTER_NS, readers, rendezvous, type Replica } from "../test/peers/harness.ts";

const WINDOW_S = positive("BENCH_WINDOW", 30);
const PUSHES = positive("BENCH_PUSHES", 10);
const PUSH_TOKEN = "bench-push-token";

if (process.env[OUTER_NS] === undefined) {
  // Outside: run this file again inside fresh namespaces, and pass its output through.
  const argv = ["unshare", "--pid", "--net", "--mount", "--propagation", "private", "--fork", "--kill-child", "--mount-proc", "--", process.execPath, import.meta.path];
  const proc = Bun.spawn(argv, { env: gitEnv({ ...process.env, [OUTER_NS]: namespaces() }), stdout: "inherit", stderr: "inherit" });
  process.exit(await proc.exited);
}

const dir = mkdtempSync(join(tmpdir(), "bench-fleet-"));
enterNamespace(dir);
const say = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const nums = (n: number, from = 11) => Array.from({ length: n }, (_, i) => from + i);

/** A fleet of `n` on the DNS answer, all published and (with --peers) agreed on an owner. */
async function fleetOf(n: number, peers: boolean): Promise<{ fleet: Fleet; replicas: Replica[]; owner: Replica }> {
  const sub = mkdtempSync(join(dir, `n${n}-`));
  const tokenFile = join(sub, "push-token");
  writeFileSync(tokenFile, PUSH_TOKEN + "\n");
  const fleet = await Fleet.start(sub, peers ? "peers" : "");
  await fleet.dns.set("peers", nums(n).map(ip));
  // No push spacing: each push in this bench is a lone push, woken at once.
  const replicas = nums(n).map((k) => fleet.start(k, { extra: [`--http-sync-secret-file=${tokenFile}`, "--http-sync-min-interval=0"] }));
  await fleet.published(fleet.host.head, replicas, 60_000);
  if (!peers) return { fleet, replicas, owner: replicas[0]! };
  const all = await fleet.statusesWhere("one owner", replicas, (s) => s.every((x) => x.peers?.owner === s[0]!.peers?.owner && (x.peers?.self === x.peers?.owner ? x.peers?.source === "host" : x.peers?.source === "peer")), 60_000);
  const owner = replicas.find((r) => r.addr === all[0]!.peers!.owner)!;
  return { fleet, replicas, owner };
}

/** Host requests (with a user) since `mark`. */
function hostRequests(fleet: Fleet, mark: number): { total: number; fetches: number; byUser: Record<string, number> } {
  const counts = fleet.host.since(mark);
  let total = 0;
  let fetches = 0;
  const byUser: Record<string, number> = {};
  for (const [user, c] of Object.entries(counts)) {
    const n = c.advertisement + c["ls-refs"] + c.fetch + c.other;
    byUser[user] = n;
    total += n;
    fetches += c.fetch;
  }
  return { total, fetches, byUser };
}

/** Push, optionally trigger the owner, and time until each replica's link names the commit. */
async function pushAndTime(fleet: Fleet, replicas: Replica[], trigger: Replica | null): Promise<number[]> {
  const hash = fleet.host.push();
  const t0 = performance.now();
  if (trigger) {
    const res = await fetch(`http://${trigger.addr}/sync`, { method: "POST", headers: { Authorization: `Bearer ${PUSH_TOKEN}` } });
    await res.body?.cancel();
  }
  const times = new Map<Replica, number>();
  await waitFor(
    `${hash.slice(0, 8)} on ${replicas.length}`,
    () => {
      for (const r of replicas) if (!times.has(r) && r.hash() === hash) times.set(r, performance.now() - t0);
      return times.size === replicas.length;
    },
    30_000,
    5,
  );
  return [...times.values()];
}

/** Latency figures over PUSHES pushes; pauses a random part of a period between them. */
async function latency(fleet: Fleet, replicas: Replica[], trigger: Replica | null): Promise<{ p50: number; max: number; perPush: number[] }> {
  const all: number[] = [];
  const perPush: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    await Bun.sleep(300 + Math.random() * 1000);
    const t = await pushAndTime(fleet, replicas, trigger);
    all.push(...t);
    perPush.push(Math.max(...t));
  }
  return { p50: Math.round(percentile(all, 50)), max: Math.round(Math.max(...all)), perPush: perPush.map(Math.round) };
}

const figures: Record<string, unknown> = {};
const steady: Record<string, number> = {};

try {
  // 1. Steady state, and (one replica) its publish latency.
  const only = process.env.BENCH_ONLY_N ? positive("BENCH_ONLY_N", 1) : 0;
  for (const [n, peers] of [
    [1, true],
    [5, true],
    [20, true],
    [5, false],
  ] as const) {
    if (only && (n !== only || !peers)) continue;
    const label = `${peers ? "peers" : "plain"} N=${n}`;
    say(`${label}: starting`);
    const { fleet, replicas, owner } = await fleetOf(n, peers);
    const mark = fleet.host.mark();
    await Bun.sleep(WINDOW_S * 1000);
    const r = hostRequests(fleet, mark);
    steady[label] = Math.round((r.total * 60) / WINDOW_S);
    say(`${label}: ${steady[label]} host requests/min (by ${Object.keys(r.byUser).length} replicas)`);
    if (n === 1) {
      figures.aloneByPoll = await latency(fleet, replicas, null);
      figures.aloneByTrigger = await latency(fleet, replicas, owner);
      say(`one replica: push -> published ${JSON.stringify(figures.aloneByPoll)} by poll, ${JSON.stringify(figures.aloneByTrigger)} by trigger`);
    }
    if (n === 5 && peers) {
      figures.fiveByTrigger = await latency(fleet, replicas, owner);
      say(`N=5: push -> published ${JSON.stringify(figures.fiveByTrigger)} by trigger`);
    }
    if (n === 20) {
      // 2 and 3: fetches per commit, latency by poll and by trigger.
      const m = fleet.host.mark();
      figures.fleetByPoll = await latency(fleet, replicas, null);
      const byPoll = hostRequests(fleet, m);
      figures.fetchesPerCommit = byPoll.fetches / PUSHES;
      // What one follower's update costs in CPU (git-sync and the git processes it waited for):
      // on a machine of few cores the followers' updates queue for it, in a cluster they do not.
      const followers = replicas.filter((r) => r !== owner);
      const cpu = () => followers.reduce((sum, r) => sum + (({ selfMs, childrenMs }) => selfMs + childrenMs)(statTimes(r.proc.pid)), 0);
      const cpuBefore = cpu();
      figures.fleetByTrigger = await latency(fleet, replicas, owner);
      figures.followerUpdateCpuMs = Math.round((cpu() - cpuBefore) / followers.length / PUSHES);
      figures.cores = navigator.hardwareConcurrency;
      say(`N=20: push -> published ${JSON.stringify(figures.fleetByPoll)} by poll, ${JSON.stringify(figures.fleetByTrigger)} by trigger; ${figures.fetchesPerCommit} host fetches per commit`);

      // 5. A replica joining (before the kill, while the fleet is whole).
      // The worst case: one that outranks the owner (it takes over once it has synced).
      let k = 31;
      while (rendezvous(fleet.host.url, ["main"], [...nums(20), k].map(ip))[0] !== ip(k)) k++;
      await fleet.dns.set("peers", [...nums(20), k].map(ip));
      const jm = fleet.host.mark();
      const joined = fleet.start(k);
      await fleet.published(fleet.host.head, [joined], 60_000);
      figures.joinHostRequests = hostRequests(fleet, jm).byUser[joined.user] ?? 0;
      say(`a replica joining (${joined.user}, ranked first): ${figures.joinHostRequests} host requests before it published`);

      // 4. The owner SIGKILLed, then a push.
      const survivors = [...replicas, joined].filter((r) => r !== owner);
      const reading = readers(survivors);
      await owner.kill("SIGKILL");
      const t = await pushAndTime(fleet, survivors, null);
      await reading.stop();
      figures.ownerKilled = { allPublishedMs: Math.round(Math.max(...t)), reads: reading.stats.reads, failedReads: reading.stats.errors.length };
      say(`owner killed: the next commit on all ${survivors.length} survivors after ${Math.round(Math.max(...t))} ms; ${reading.stats.errors.length} of ${reading.stats.reads} reads failed`);
    }
    await fleet.stop();
  }
  figures.steadyPerMinute = steady;
} finally {
  if (process.env.BENCH_KEEP === "1") say(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

// The table needs every figure; BENCH_ONLY_N (one fleet size, for looking at one part) prints the JSON only.
if (process.env.BENCH_ONLY_N === undefined) {
  const s = figures as {
    steadyPerMinute: Record<string, number>;
    fetchesPerCommit: number;
    aloneByPoll: { p50: number; max: number };
    aloneByTrigger: { p50: number; max: number };
    fleetByPoll: { p50: number; max: number };
    fleetByTrigger: { p50: number; max: number };
    fiveByTrigger: { p50: number; max: number };
    followerUpdateCpuMs: number;
    cores: number;
    ownerKilled: { allPublishedMs: number; failedReads: number; reads: number };
    joinHostRequests: number;
  };
  const one = s.steadyPerMinute["peers N=1"]!;
  const rows: Array<[string, string, string]> = [
    ["host requests/min, steady state, --period=1s", `N=1: ${one}; N=5: ${s.steadyPerMinute["peers N=5"]}; N=20: ${s.steadyPerMinute["peers N=20"]} (without --peers, N=5: ${s.steadyPerMinute["plain N=5"]})`, `N=20 / N=1 = ${(s.steadyPerMinute["peers N=20"]! / one).toFixed(2)}x`],
    ["host fetches per new commit, N=20", String(s.fetchesPerCommit), ""],
    ["push -> published, by the owner's poll (p50 / max)", `N=20: ${s.fleetByPoll.p50} / ${s.fleetByPoll.max} ms; one replica: ${s.aloneByPoll.p50} / ${s.aloneByPoll.max} ms`, `max - one's max = ${s.fleetByPoll.max - s.aloneByPoll.max} ms`],
    ["push -> published, by the push trigger (p50 / max)", `N=20: ${s.fleetByTrigger.p50} / ${s.fleetByTrigger.max} ms; N=5: ${s.fiveByTrigger.p50} / ${s.fiveByTrigger.max} ms; one replica: ${s.aloneByTrigger.p50} / ${s.aloneByTrigger.max} ms`, `max - one's max = ${s.fleetByTrigger.max - s.aloneByTrigger.max} ms at N=20, ${s.fiveByTrigger.max - s.aloneByTrigger.max} ms at N=5`],
    ["CPU of one follower's update (git-sync and its git processes)", `${s.followerUpdateCpuMs} ms; ${s.cores} cores for 20 replicas`, ""],
    ["owner SIGKILLed -> next commit on all survivors", `${s.ownerKilled.allPublishedMs} ms`, `${s.ownerKilled.failedReads} of ${s.ownerKilled.reads} reads failed`],
    ["host requests by a replica joining", String(s.joinHostRequests), ""],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([a, b, c]) => `${a.padEnd(width)}  ${b}${c ? `  (${c})` : ""}`).join("\n"));
}
console.log(JSON.stringify(figures));
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(figures, null, 2) + "\n");
