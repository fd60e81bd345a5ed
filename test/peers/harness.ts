// A fleet of real git-syncs for --peers (issue 23), run inside one private network and mount
// namespace (test/e2e/peers.test.ts starts test/peers/_scenarios.ts under `unshare`). In there
// every replica listens on its own 127.0.0.x:8080, /etc/resolv.conf names a dnsmasq on
// 127.0.0.53 (search svc.test), so `--peers=peers` resolves through the resolver path a pod uses,
// and the git host on 127.0.0.1 records who asked it what: each replica logs in with its own user
// name (r11 for 127.0.0.11), so every host request is attributed to the replica that made it.
import { createHmac, createHash } from "node:crypto";
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { Resolver } from "node:dns/promises";
import { join } from "node:path";
import { BIN, gitEnv, isAlive, linkHash, waitFor } from "../helpers/index.ts";
import { makeBareRepo, pushCommit, startGitHTTP, type GitHTTPServer } from "../servers/index.ts";
import type { PeersStatus } from "../../src/http/status.ts";

/** Every replica's --http-bind port; each has its own address. */
export const PORT = 8080;
/** The primary DNS server, the one /etc/resolv.conf names. */
export const NAMESERVER = "127.0.0.53";
export const DOMAIN = "svc.test";
export const SECRET = "peers-secret-7d1e0b";
const PASSWORD = "host-password-51c2";

/**
 * Replica N's address: 127.0.0.N below 256, then on through 127.0.1.0 and up (all of 127/8 is
 * on lo), so a search for an address that ranks first or not never runs out.
 */
export const ip = (n: number) => `127.0.${n >> 8}.${n & 255}`;
/** What /status and the peers protocol call a replica: "127.0.0.N:8080". */
export const peerAddr = (n: number) => `${ip(n)}:${PORT}`;

function run(argv: string[]): void {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${p.stderr.toString()}`);
}

/** The env var naming the namespaces of the process that ran `unshare` (see `namespaces`). */
export const OUTER_NS = "GIT_SYNC_PEERS_OUTER_NS";

/** This process's network and mount namespaces, e.g. "net:[4026531840] mnt:[4026531841]". */
export const namespaces = () => ["net", "mnt"].map((ns) => readlinkSync(`/proc/self/ns/${ns}`)).join(" ");

/**
 * Makes this process's namespaces the fleet's world: lo up, our resolv.conf and an empty hosts
 * file bind-mounted over /etc's. Refuses unless both namespaces differ from those of the process
 * that started us (OUTER_NS): a bind mount over the machine's /etc/resolv.conf would outlive the test.
 */
export function enterNamespace(dir: string): void {
  const outer = (process.env[OUTER_NS] ?? "").split(" ");
  const own = namespaces().split(" ");
  if (outer.length !== 2 || own.some((ns, i) => ns === outer[i])) throw new Error(`not in private network and mount namespaces (${OUTER_NS}=${outer.join(" ")}, here ${own.join(" ")}): run this under unshare --net --mount`);
  run(["ip", "link", "set", "lo", "up"]);
  const resolv = join(dir, "resolv.conf");
  writeFileSync(resolv, resolvConf(NAMESERVER));
  writeFileSync(join(dir, "hosts"), "");
  run(["mount", "--bind", resolv, "/etc/resolv.conf"]);
  run(["mount", "--bind", join(dir, "hosts"), "/etc/hosts"]);
}

/** A pod's resolv.conf, short names searched in svc.test. */
export const resolvConf = (nameserver: string) => `nameserver ${nameserver}\nsearch ${DOMAIN}\noptions ndots:5\n`;

/**
 * dnsmasq answering A records for *.svc.test from a hosts file with TTL 1, so a change is seen
 * within a second by c-ares, which caches for the TTL. `--local=/test/` answers NXDOMAIN for
 * unknown names (not REFUSED, which would stop the search-list walk).
 */
export class Dns {
  private readonly records = new Map<string, string[]>();
  private readonly file: string;
  private readonly proc: ReturnType<typeof Bun.spawn>;
  private readonly resolver = new Resolver({ timeout: 500, tries: 1 });

  /** Starts dnsmasq on `listen` and waits until it answers (a SIGHUP before then would kill it). */
  static async start(dir: string, listen = NAMESERVER): Promise<Dns> {
    const dns = new Dns(dir, listen);
    await waitFor(`dnsmasq on ${listen} to answer`, async () => (await dns.answer("nothing")).length === 0, 10_000);
    return dns;
  }

  private constructor(
    dir: string,
    readonly listen: string,
  ) {
    this.file = join(dir, `dns-${listen}.hosts`);
    writeFileSync(this.file, "");
    this.proc = Bun.spawn(
      [
        "dnsmasq",
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        `--addn-hosts=${this.file}`,
        `--listen-address=${listen}`,
        "--bind-interfaces",
        "--local-ttl=1",
        "--local=/test/",
        "--user=root",
        `--pid-file=${join(dir, `dns-${listen}.pid`)}`,
        `--log-facility=${join(dir, `dns-${listen}.log`)}`,
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    this.resolver.setServers([listen]);
  }

  /** Answers `name` (short, in svc.test) with `addrs` and waits until the server does. */
  async set(name: string, addrs: string[]): Promise<void> {
    this.records.set(name, [...addrs].sort());
    writeFileSync(this.file, [...this.records].flatMap(([n, list]) => list.map((a) => `${a} ${n}.${DOMAIN}\n`)).join(""));
    this.proc.kill("SIGHUP");
    const want = this.records.get(name)!.join(",");
    await waitFor(`${this.listen} to answer ${name} = [${want}]`, async () => (await this.answer(name)).join(",") === want, 10_000);
  }

  /** What the server answers now for `name`: sorted addresses, [] for NXDOMAIN. */
  async answer(name: string): Promise<string[]> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`dnsmasq exited (${this.proc.exitCode ?? this.proc.signalCode}): ${await new Response(this.proc.stderr as ReadableStream).text()}`);
    try {
      return (await this.resolver.resolve4(`${name}.${DOMAIN}`)).sort();
    } catch (e) {
      if ((e as { code?: string }).code === "ENOTFOUND") return [];
      throw e;
    }
  }

  stop(): void {
    this.proc.kill("SIGKILL");
  }
}

/** The host's requests, counted per replica user and kind of request. */
export type RequestCounts = Record<string, { advertisement: number; "ls-refs": number; fetch: number; other: number; failed: number }>;

/** The git host: a bare repo behind git http-backend, basic auth with any user and one password. */
export class GitHost {
  readonly server: GitHTTPServer;
  /** The repo URL every replica uses (and the key of the owner's rendezvous hash). */
  readonly url: string;
  readonly passwordFile: string;
  /** main's commit now. */
  head: string;
  private readonly root: string;

  constructor(dir: string) {
    this.root = join(dir, "host");
    this.head = makeBareRepo(this.root, "repo.git").head;
    this.server = startGitHTTP({ projectRoot: this.root, check: (_user, pass) => pass === PASSWORD });
    this.url = `${this.server.url}/repo.git`;
    this.passwordFile = join(dir, "host-password");
    writeFileSync(this.passwordFile, PASSWORD + "\n");
  }

  /** A new commit on main; returns its hash. */
  push(): string {
    this.head = pushCommit(this.root, "repo.git", "file", `${Date.now()}-${Math.random()}\n`);
    return this.head;
  }

  /** A mark in the request log, for `since`. */
  mark(): number {
    return this.server.requests.length;
  }

  /**
   * Requests since `mark`, per user and kind. git's own first request carries no credentials
   * (401, no user): it is left out, as the same process repeats it with its user right after.
   */
  since(mark = 0): RequestCounts {
    const out: RequestCounts = {};
    for (const r of this.server.requests.slice(mark)) {
      if (r.user === "") continue;
      const c = (out[r.user] ??= { advertisement: 0, "ls-refs": 0, fetch: 0, other: 0, failed: 0 });
      if (r.status >= 400) c.failed++;
      c[r.kind]++;
    }
    return out;
  }

  /** Answer 503 to everything (true) or serve again (false). */
  down(on: boolean): void {
    this.server.unavailable = on ? 503 : 0;
  }

  stop(): void {
    this.server.stop();
  }
}

/** The "peers" section of /status, as the binary writes it. */
export type { PeersStatus };

/** The parts of /status the scenarios read. */
export interface Status {
  hash: string;
  ready: boolean;
  syncCount: number;
  lastAttempt: string | null;
  consecutiveFailures: number;
  lastError: string;
  peers?: PeersStatus;
}

export interface ReplicaOptions {
  /** --peers NAME; "" runs a plain git-sync (no --peers). */
  peers?: string;
  /** The secret of --serve-git-secret-file (default: the fleet's). */
  secret?: string;
  /** Another nameserver than the fleet's: the replica gets a mount namespace of its own with its own resolv.conf. */
  nameserver?: string;
  extra?: string[];
}

/** One git-sync at 127.0.0.N:8080, logging to <dir>/rN.log. */
export class Replica {
  readonly addr: string;
  readonly user: string;
  readonly root: string;
  readonly link: string;
  readonly log: string;
  readonly proc: ReturnType<typeof Bun.spawn>;

  constructor(
    readonly n: number,
    fleet: { dir: string; host: GitHost; peersDefault: string },
    opts: ReplicaOptions = {},
  ) {
    this.addr = peerAddr(n);
    this.user = `r${n}`;
    const home = join(fleet.dir, this.user);
    mkdirSync(join(home, "tmp"), { recursive: true });
    this.root = join(home, "root");
    this.link = join(this.root, "link");
    this.log = join(fleet.dir, `${this.user}.log`);
    const secretFile = join(home, "secret");
    writeFileSync(secretFile, (opts.secret ?? SECRET) + "\n");
    const peers = opts.peers ?? fleet.peersDefault;
    const args = [
      `--repo=${fleet.host.url}`,
      "--ref=main",
      `--root=${this.root}`,
      "--link=link",
      `--username=${this.user}`,
      `--password-file=${fleet.host.passwordFile}`,
      `--http-bind=${this.addr}`,
      "--serve-git",
      `--serve-git-secret-file=${secretFile}`,
      ...(peers ? [`--peers=${peers}`] : []),
      "--period=1s",
      "--sync-timeout=20s",
      "--max-failures=-1",
      "-v=2",
      ...(opts.extra ?? []),
    ];
    let argv = [BIN, ...args];
    if (opts.nameserver) {
      // unshare without --fork execs in place: the pid stays the git-sync's.
      const resolv = join(home, "resolv.conf");
      writeFileSync(resolv, resolvConf(opts.nameserver));
      argv = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, ...argv];
    }
    this.proc = Bun.spawn(argv, { env: gitEnv({ TMPDIR: join(home, "tmp") }), stdout: Bun.file(join(home, "stdout")), stderr: Bun.file(this.log) });
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && isAlive(this.proc.pid);
  }

  /** /status, or undefined while it does not answer. */
  async status(): Promise<Status | undefined> {
    try {
      const res = await fetch(`http://${this.addr}/status`, { signal: AbortSignal.timeout(2_000) });
      return res.ok ? ((await res.json()) as Status) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The hash the link points at ("" before the first publish). */
  hash(): string {
    return linkHash(this.link);
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.proc.kill(signal);
    await this.proc.exited;
  }
}

/**
 * The owner every replica with the answer `addrs` must pick: rendezvous hashing, the highest
 * first 8 bytes of sha256(key + "\n" + addr), key = repo URL + "\n" + the refs joined by "\n".
 */
export function rendezvous(url: string, refs: string[], addrs: string[]): string[] {
  const key = `${url}\n${refs.join("\n")}`;
  const score = (a: string) => createHash("sha256").update(`${key}\n${a}`).digest().readBigUInt64BE(0);
  return [...addrs].sort((a, b) => (score(b) > score(a) ? 1 : score(b) < score(a) ? -1 : 0));
}

/**
 * A nudge body and its signature header, as an owner sends them to a peer's POST /sync: an
 * HMAC-SHA256 of the body keyed with the secret's SHA-256 in hex (src/peers/proof.ts).
 */
export function nudge(from: string, hash: string, secret = SECRET, to = ""): { body: string; signature: string } {
  const body = JSON.stringify({ event: "git-sync-peer", from, to, hash, at: Date.now() });
  const key = createHash("sha256").update(secret).digest("hex");
  return { body, signature: `sha256=${createHmac("sha256", key).update(body).digest("hex")}` };
}

/** The fleet: DNS, the git host and the replicas started so far. Stop it in a finally. */
export class Fleet {
  readonly replicas: Replica[] = [];
  private readonly others: Dns[] = [];

  static async start(dir: string, peersDefault = "peers"): Promise<Fleet> {
    return new Fleet(dir, peersDefault, await Dns.start(dir));
  }

  private constructor(
    readonly dir: string,
    /** --peers of every replica unless told otherwise; "" for plain git-syncs. */
    readonly peersDefault: string,
    readonly dns: Dns,
    readonly host = new GitHost(dir),
  ) {}

  /** Another DNS server (for replicas with a view of their own). */
  async nameserver(listen: string): Promise<Dns> {
    const d = await Dns.start(this.dir, listen);
    this.others.push(d);
    return d;
  }

  start(n: number, opts: ReplicaOptions = {}): Replica {
    if (this.replicas.some((r) => r.n === n && r.alive)) throw new Error(`replica ${n} is running already`);
    const r = new Replica(n, this, opts);
    this.replicas.push(r);
    return r;
  }

  /** Running replicas. */
  get alive(): Replica[] {
    return this.replicas.filter((r) => r.alive);
  }

  /** Waits until every one of `replicas` publishes `hash`. */
  async published(hash: string, replicas: Replica[], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${hash.slice(0, 8)} published by all of ${replicas.length}`,
      () => {
        const late = replicas.filter((r) => r.hash() !== hash);
        if (late.some((r) => !r.alive)) throw new Error(`replica exited: ${late.filter((r) => !r.alive).map((r) => r.user)}`);
        return late.length === 0;
      },
      timeoutMs,
      20,
    );
  }

  /** The /status of each of `replicas` (undefined for one that does not answer). */
  statuses(replicas: Replica[]): Promise<Array<Status | undefined>> {
    return Promise.all(replicas.map((r) => r.status()));
  }

  /** Waits until `check` holds for the statuses of all `replicas`; returns them. */
  async statusesWhere(what: string, replicas: Replica[], check: (all: Status[]) => boolean, timeoutMs = 20_000): Promise<Status[]> {
    let last: Array<Status | undefined> = [];
    try {
      return await waitFor(
        what,
        async () => {
          last = await this.statuses(replicas);
          return last.every((s) => s !== undefined) && check(last as Status[]) && (last as Status[]);
        },
        timeoutMs,
        100,
      );
    } catch (e) {
      const seen = replicas.map((r, i) => {
        const s = last[i];
        if (!s) return `${r.user}: no answer`;
        const p = s.peers;
        return `${r.user}: ${s.hash.slice(0, 8) || "-"} ${p ? `${p.role} of ${p.owner}, from ${p.source}, ${p.peers.length} peers, down [${p.down.join(" ")}]` : "(no peers section)"}`;
      });
      throw new Error(`${(e as Error).message}\n${seen.join("\n")}`, { cause: e });
    }
  }

  async stop(): Promise<void> {
    for (const r of this.replicas) r.proc.kill("SIGKILL");
    await Promise.all(this.replicas.map((r) => r.proc.exited));
    this.dns.stop();
    for (const d of this.others) d.stop();
    this.host.stop();
  }
}

/** Reads `file` through each replica's link, over and over, until stopped: every failed read is an outage. */
export function readers(replicas: Replica[]) {
  const stats = { reads: 0, errors: [] as string[] };
  let on = true;
  const loop = (async () => {
    while (on) {
      for (const r of replicas) {
        try {
          if (readFileSync(join(r.link, "file"), "utf8") === "") stats.errors.push(`${r.user}: empty`);
        } catch (e) {
          stats.errors.push(`${r.user}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
        stats.reads++;
      }
      await Bun.sleep(5);
    }
  })();
  return {
    stats,
    async stop() {
      on = false;
      await loop;
    },
  };
}
