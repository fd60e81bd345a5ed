// The fleet scenarios of --peers (issue 23), run inside private PID, network and mount namespaces:
//   unshare --pid --net --mount --propagation private --fork --kill-child --mount-proc -- bun _scenarios.ts NAME DIR
// Runs the scenario NAME with everything under DIR (replica logs rN.log, this run's own
// scenario.log), stops every process it started, and prints one line `PEERS-RESULT {json}`:
// what it measured, and `error` when a step failed or timed out. It waits for events (a link,
// a /status field, the host's request log), never for time. test/e2e/peers.test.ts starts it
// and asserts on the result.
import { appendFileSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../helpers/index.ts";
import { enterNamespace, Fleet, ip, nudge, peerAddr, PORT, readers, rendezvous, type ReplicaOptions, type Replica, type Status } from "./harness.ts";

export const RESULT_PREFIX = "PEERS-RESULT ";

/** Replicas 11..10+N: the fleet (the issue asks for N >= 10). */
export const N = 10;

type Out = Record<string, unknown>;
type Log = (msg: string) => void;
type Scenario = (fleet: Fleet, out: Out, log: Log) => Promise<void>;

const fleetNs = (n = N) => Array.from({ length: n }, (_, i) => 11 + i);

/** The owner a fleet must agree on for the DNS answer `ns` (replica numbers), as "127.0.0.N:8080". */
function expectedOwner(fleet: Fleet, ns: number[]): string {
  return `${rendezvous(fleet.host.url, ["main"], ns.map(ip))[0]}:${PORT}`;
}

/** The first replica number from `from` on whose rank in `ns` ∪ {it} is `top` (or not). */
function pick(fleet: Fleet, ns: number[], top: boolean, from: number): number {
  for (let n = from; n < 65_000; n++) {
    const first = rendezvous(fleet.host.url, ["main"], [...ns, n].map(ip))[0];
    if ((first === ip(n)) === top) return n;
  }
  throw new Error("no address found");
}

/** A replica's peers section, compact, for the result. */
const view = (s: Status | undefined) =>
  s?.peers && { self: s.peers.self, role: s.peers.role, owner: s.peers.owner, source: s.peers.source, peers: s.peers.peers, down: s.peers.down, hostRequests: s.peers.hostRequests, peerRequests: s.peers.peerRequests, refused: s.peers.refused, nudgesSent: s.peers.nudgesSent, nudgesReceived: s.peers.nudgesReceived };

/**
 * Waits until `replicas` agree: the same owner everywhere, which calls itself owner and serves
 * from the host, every other one a follower served by a peer, and each has seen `answer`.
 */
async function settled(fleet: Fleet, replicas: Replica[], answer: number[], what: string): Promise<Status[]> {
  const peers = answer.map(peerAddr).sort().join(",");
  return await fleet.statusesWhere(`${what}: ${replicas.length} replicas agree on one owner`, replicas, (all) => {
    const owner = all[0]!.peers?.owner;
    return all.every((s) => {
      const p = s.peers;
      if (!p || p.owner !== owner || [...p.peers].sort().join(",") !== peers) return false;
      return p.self === owner ? p.role === "owner" && p.source === "host" : p.role === "follower" && p.source === "peer";
    });
  });
}

/** The fleet of N on the DNS answer "peers"; resolves once all have published the host's commit and agree. */
async function startFleet(fleet: Fleet, log: Log, out: Out, opts: ReplicaOptions = {}): Promise<{ replicas: Replica[]; owner: Replica }> {
  const ns = fleetNs();
  await fleet.dns.set("peers", ns.map(ip));
  const t0 = Date.now();
  const replicas = ns.map((k) => fleet.start(k, opts));
  await fleet.published(fleet.host.head, replicas, 30_000);
  out.startPublishedMs = Date.now() - t0;
  if (fleet.peersDefault === "") return { replicas, owner: replicas[0]! };
  const all = await settled(fleet, replicas, ns, "start");
  out.startSettledMs = Date.now() - t0;
  out.startRequests = fleet.host.since(0);
  const owner = replicas.find((r) => r.addr === all[0]!.peers!.owner)!;
  log(`fleet of ${replicas.length} published ${fleet.host.head.slice(0, 8)}, owner ${owner.addr}`);
  return { replicas, owner };
}

/** Fetches (POST upload-pack asking for objects) per user since `mark`, users with none left out. */
function fetchesSince(fleet: Fleet, mark: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(fleet.host.since(mark))
      .filter(([, c]) => c.fetch > 0)
      .map(([u, c]) => [u, c.fetch]),
  );
}

const SCENARIOS: Record<string, Scenario> = {
  /** Plain git-syncs (no --peers): the harness's baseline, every replica polls and fetches on its own. */
  async plain(fleet, out, log) {
    const { replicas } = await startFleet(fleet, log, out);
    const mark = fleet.host.mark();
    const hash = fleet.host.push();
    const t0 = Date.now();
    await fleet.published(hash, replicas);
    out.publishedMs = Date.now() - t0;
    out.fetches = fetchesSince(fleet, mark);
    out.users = replicas.map((r) => r.user);
  },

  /**
   * Steady state (only the owner asks the host), then a push (published by all, one fetch),
   * then a new replica's first sync (nothing from the host).
   */
  async steady(fleet, out, log) {
    const { replicas, owner } = await startFleet(fleet, log, out);
    out.expectedOwner = expectedOwner(fleet, fleetNs());
    out.statuses = (await fleet.statuses(replicas)).map(view);

    // The window: from a mark until the owner has polled the host 5 more times.
    const mark = fleet.host.mark();
    const before = await fleet.statuses(replicas);
    await waitFor("5 polls by the owner", () => (fleet.host.since(mark)[owner.user]?.["ls-refs"] ?? 0) >= 5, 20_000);
    const after = await fleet.statuses(replicas);
    out.window = {
      owner: owner.user,
      requests: fleet.host.since(mark),
      hostRequestsDelta: Object.fromEntries(replicas.map((r, i) => [r.user, (after[i]?.peers?.hostRequests ?? NaN) - (before[i]?.peers?.hostRequests ?? NaN)])),
      peerRequestsDelta: Object.fromEntries(replicas.map((r, i) => [r.user, (after[i]?.peers?.peerRequests ?? NaN) - (before[i]?.peers?.peerRequests ?? NaN)])),
    };
    log("steady window measured");

    const pushMark = fleet.host.mark();
    const hash = fleet.host.push();
    const t0 = Date.now();
    const times: Record<string, number> = {};
    await waitFor(`${hash.slice(0, 8)} on all`, () => {
      for (const r of replicas) if (times[r.user] === undefined && r.hash() === hash) times[r.user] = Date.now() - t0;
      return Object.keys(times).length === replicas.length;
    }, 20_000, 10);
    out.push = { hash, publishedMs: times, fetches: fetchesSince(fleet, pushMark), links: replicas.map((r) => r.hash()) };
    log(`push ${hash.slice(0, 8)} published by all`);

    // A new replica in the answer, ranked below the owner so that ownership stays where it is.
    const n = pick(fleet, fleetNs(), false, 21);
    const joinMark = fleet.host.mark();
    await fleet.dns.set("peers", [...fleetNs(), n].map(ip));
    const t1 = Date.now();
    const newcomer = fleet.start(n);
    await fleet.published(hash, [newcomer]);
    const joinedMs = Date.now() - t1;
    const all = await settled(fleet, [...replicas, newcomer], [...fleetNs(), n], "after the newcomer joined");
    out.join = {
      user: newcomer.user,
      publishedMs: joinedMs,
      link: newcomer.hash(),
      status: view(all.at(-1)),
      owner: all[0]!.peers!.owner,
      requests: fleet.host.since(joinMark),
    };
    // What the first sync made, measured until the newcomer's next poll of the owner too.
    log("newcomer joined");
    out.finalFetches = fetchesSince(fleet, 0);
  },

  /** The owner SIGKILLed with a commit pushed at the same moment: a new owner, every survivor publishes, no read fails. */
  async "owner-killed"(fleet, out, log) {
    const { replicas, owner } = await startFleet(fleet, log, out);
    const survivors = replicas.filter((r) => r !== owner);
    const reading = readers(survivors);
    await waitFor("readers to start", () => reading.stats.reads >= survivors.length * 3);
    const mark = fleet.host.mark();
    await owner.kill("SIGKILL");
    const hash = fleet.host.push();
    const t0 = Date.now();
    log(`killed ${owner.user}, pushed ${hash.slice(0, 8)}`);
    await fleet.published(hash, survivors, 30_000);
    out.killToPublishedMs = Date.now() - t0;
    out.links = survivors.map((r) => r.hash());
    out.fetches = fetchesSince(fleet, mark);
    const all = await fleet.statusesWhere("survivors agree on a new owner", survivors, (s) => {
      const o = s[0]!.peers?.owner;
      return o !== undefined && o !== owner.addr && s.every((x) => x.peers?.owner === o);
    });
    out.killToAgreedMs = Date.now() - t0;
    // The next push, under the new owner.
    const nextMark = fleet.host.mark();
    const next = fleet.host.push();
    await fleet.published(next, survivors);
    out.next = { hash: next, fetches: fetchesSince(fleet, nextMark), links: survivors.map((r) => r.hash()) };
    await reading.stop();
    out.killed = owner.addr;
    const rank = rendezvous(fleet.host.url, ["main"], fleetNs().map(ip)).map((a) => `${a}:${PORT}`);
    out.rank = rank;
    out.nextUser = replicas.find((r) => r.addr === rank[1])?.user;
    out.statuses = all.map(view);
    out.hash = hash;
    out.reads = reading.stats.reads;
    out.readErrors = reading.stats.errors.slice(0, 20);
    log("survivors agree");
  },

  /** Replicas added to and removed from the DNS answer: the owner moves only where it must. */
  async "dns-change"(fleet, out, log) {
    const { replicas } = await startFleet(fleet, log, out);
    const steps: Array<{ step: string; answer: string[]; expected: string; owners: string[]; ms: number }> = [];
    let answer = fleetNs();
    const running = new Map(replicas.map((r) => [r.n, r]));
    const step = async (name: string) => {
      const t0 = Date.now();
      const members = answer.map((n) => running.get(n)!);
      const all = await settled(fleet, members, answer, name);
      steps.push({ step: name, answer: answer.map(peerAddr), expected: expectedOwner(fleet, answer), owners: all.map((s) => s.peers!.owner), ms: Date.now() - t0 });
      log(`${name}: owner ${all[0]!.peers!.owner}`);
    };
    await step("start");

    // A replica that outranks everyone joins: it must become the owner. It is the owner in its
    // own view from the start (the answer and itself), so it asks the host at once.
    const top = pick(fleet, answer, true, 21);
    const joinMark = fleet.host.mark();
    running.set(top, fleet.start(top));
    answer = [...answer, top];
    await fleet.dns.set("peers", answer.map(ip));
    await step(`add ${ip(top)} (ranks first)`);
    out.topJoinFetches = fetchesSince(fleet, joinMark);

    // A push goes through the new owner.
    const mark = fleet.host.mark();
    const hash = fleet.host.push();
    await fleet.published(hash, answer.map((n) => running.get(n)!));
    out.pushFetches = fetchesSince(fleet, mark);
    out.pushOwner = `r${top}`;

    // It leaves (terminated, out of the answer): ownership goes back to the one ranked next.
    answer = answer.filter((n) => n !== top);
    await fleet.dns.set("peers", answer.map(ip));
    await running.get(top)!.kill("SIGTERM");
    await step(`remove ${ip(top)}`);

    // Three followers leave: the owner stays.
    const owner = expectedOwner(fleet, answer);
    const gone = answer.filter((n) => peerAddr(n) !== owner).slice(0, 3);
    answer = answer.filter((n) => !gone.includes(n));
    await fleet.dns.set("peers", answer.map(ip));
    for (const n of gone) await running.get(n)!.kill("SIGTERM");
    await step(`remove 3 followers`);

    // Two replicas ranked below the owner join: the owner stays.
    const low1 = pick(fleet, answer, false, 30);
    const low2 = pick(fleet, answer, false, low1 + 1);
    for (const n of [low1, low2]) running.set(n, fleet.start(n));
    answer = [...answer, low1, low2];
    await fleet.dns.set("peers", answer.map(ip));
    await step(`add 2 ranked below the owner`);
    out.steps = steps;
  },

  /** The host answers 503 for a while; when it is back a push costs one fetch and reaches all. */
  async "host-down"(fleet, out, log) {
    const { replicas, owner } = await startFleet(fleet, log, out);
    const mark = fleet.host.mark();
    fleet.host.down(true);
    const t0 = Date.now();
    const failing = await fleet.statusesWhere("the owner to fail twice", [owner], (s) => s[0]!.consecutiveFailures >= 2);
    const during = await fleet.statuses(replicas);
    fleet.host.down(false);
    out.outageMs = Date.now() - t0;
    out.outageRequests = fleet.host.since(mark);
    out.ownerDuring = { consecutiveFailures: failing[0]!.consecutiveFailures, lastError: failing[0]!.lastError };
    out.during = during.map(view);
    log("host back");

    const back = fleet.host.mark();
    const hash = fleet.host.push();
    const t1 = Date.now();
    await fleet.published(hash, replicas, 30_000);
    out.publishedMs = Date.now() - t1;
    out.fetches = fetchesSince(fleet, back);
    out.owner = owner.user;
    out.links = replicas.map((r) => r.hash());
    out.hash = hash;
  },

  /**
   * A replica with the wrong secret: as an owner in its own view (it is not in the answer and
   * outranks the fleet) its nudges are refused; as a follower its polls of the owner are
   * refused. The fleet's --period is long, so a loop that wakes shows in lastAttempt.
   */
  async "wrong-secret"(fleet, out, log) {
    const { replicas, owner } = await startFleet(fleet, log, out, { extra: ["--period=60s"] });
    const followers = replicas.filter((r) => r !== owner);
    const t0 = Date.now();

    const loud = fleet.start(pick(fleet, fleetNs(), true, 21), { secret: "not-the-fleets-secret" });
    await fleet.published(fleet.host.head, [loud]);
    // Its nudges go out after it publishes: the link's own time (lstat) is before any of them.
    const loudPublishedAt = lstatSync(loud.link).mtimeMs;
    await fleet.statusesWhere("every follower to refuse a nudge", followers, (all) => all.every((s) => (s.peers?.refused ?? 0) >= 1));
    const quiet = fleet.start(pick(fleet, fleetNs(), false, loud.n + 1), { secret: "not-the-fleets-secret" });
    await fleet.published(fleet.host.head, [quiet]);
    await fleet.statusesWhere("the owner to refuse a poll", [owner], (all) => (all[0]!.peers?.refused ?? 0) >= 1);
    const after = await fleet.statuses(replicas);
    out.wrong = { loud: view(await loud.status()), quiet: view(await quiet.status()) };
    out.fleetOwner = owner.addr;
    out.after = after.map((s, i) => ({
      user: replicas[i]!.user,
      refused: s?.peers?.refused,
      owner: s?.peers?.owner,
      // ms from the wrong peer's first publish to this replica's last attempt: negative = none since.
      lastAttemptAfterLoud: Date.parse(s?.lastAttempt ?? "") - loudPublishedAt,
    }));
    // The check above is void if a period passed: then the loops woke for their own reasons.
    out.withinPeriod = Date.now() - t0 < 60_000;
    log("wrong secrets refused");

    // By hand: nudges with a bad signature and without one at one follower, then a valid one at
    // another. Once the valid one has woken its loop, a wake by the bad ones would have shown.
    const [f, g] = followers as [Replica, Replica];
    const send = async (to: Replica, headers: Record<string, string>, body: string) =>
      (await fetch(`http://${to.addr}/sync`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body })).status;
    const good = nudge(owner.addr, fleet.host.head, undefined, g.addr);
    const bad = nudge(owner.addr, fleet.host.head, "not-the-fleets-secret", f.addr);
    const [f0, g0] = await fleet.statuses([f, g]);
    const badSignature = await send(f, { "GitSync-Peer-Signature-256": bad.signature }, bad.body);
    const noSignature = await send(f, {}, bad.body);
    const goodSignature = await send(g, { "GitSync-Peer-Signature-256": good.signature }, good.body);
    out.byHand = { badSignature, noSignature, goodSignature };
    await waitFor("the valid nudge to wake its follower", async () => (await g.status())?.lastAttempt !== g0!.lastAttempt);
    const f1 = await f.status();
    out.byHand = { badSignature, noSignature, goodSignature, refusedDelta: (f1?.peers?.refused ?? NaN) - (f0?.peers?.refused ?? NaN), badWoke: f1?.lastAttempt !== f0?.lastAttempt };
    out.links = replicas.map((r) => r.hash());
    out.hash = fleet.host.head;
  },

  /**
   * Two owners at once: a replica whose DNS (its own nameserver) lists only itself and two of
   * the fleet, and ranks first there, owns in its view while the fleet's owner owns in theirs.
   * A push reaches everyone, fetched by the two owners only.
   */
  async "two-owners"(fleet, out, log) {
    const { replicas, owner } = await startFleet(fleet, log, out);
    const others = fleetNs().filter((n) => peerAddr(n) !== owner.addr).slice(0, 2);
    const s = pick(fleet, others, true, 21);
    const second = await fleet.nameserver("127.0.0.54");
    await second.set("peers", [s, ...others].map(ip));
    const solo = fleet.start(s, { nameserver: "127.0.0.54" });
    await fleet.published(fleet.host.head, [solo]);
    await fleet.statusesWhere("the second view to own", [solo], (all) => all[0]!.peers?.role === "owner" && all[0]!.peers.peers.length === 3);
    log(`second owner ${solo.addr}`);

    const mark = fleet.host.mark();
    const hash = fleet.host.push();
    const t0 = Date.now();
    await fleet.published(hash, [...replicas, solo]);
    out.publishedMs = Date.now() - t0;
    out.fetches = fetchesSince(fleet, mark);
    out.owners = [owner.user, solo.user];
    out.solo = view(await solo.status());
    out.fleet = (await fleet.statuses(replicas)).map(view);
    out.links = [...replicas, solo].map((r) => r.hash());
    out.hash = hash;
  },
};

async function main(): Promise<void> {
  const [name, dir] = process.argv.slice(2);
  const scenario = SCENARIOS[name ?? ""];
  if (!scenario || !dir) throw new Error(`usage: _scenarios.ts (${Object.keys(SCENARIOS).join("|")}) DIR`);
  const start = Date.now();
  const log: Log = (msg) => appendFileSync(join(dir, "scenario.log"), `${((Date.now() - start) / 1000).toFixed(2)}s ${msg}\n`);
  const out: Out = {};
  enterNamespace(dir);
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start(dir, name === "plain" ? "" : "peers");
    await scenario(fleet, out, log);
  } catch (e) {
    out.error = (e as Error).stack ?? String(e);
    log(`failed: ${String(e)}`);
  } finally {
    await fleet?.stop();
  }
  out.ms = Date.now() - start;
  log("done");
  console.log(RESULT_PREFIX + JSON.stringify(out));
}

if (import.meta.main) await main();
