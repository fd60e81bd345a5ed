// --peers (issue 23): the replicas of a Deployment share one poll and one fetch. Each attempt,
// this replica resolves the DNS name of its replicas (address.ts), ranks them by rendezvous
// hashing (rendezvous.ts) and so agrees with every replica that got the same answer on one owner.
// The owner asks the git host, as without --peers, and nudges the others after it publishes
// (nudge.ts). A follower asks the owner's /git instead (client.ts), fetches from it the object
// the owner's proven answer named, and publishes on its own, through the same sync, checks,
// verification and hooks as ever: the peers only change where the objects come from.
//
// Faults never leave a follower on a wrong tree, only on more requests to the host:
//   - a peer that does not answer, refuses the secret, cannot prove it holds the secret, serves
//     another repo, or fails the fetch is passed over ("down") for a backoff that doubles from
//     one period up to DOWN_MAX_MS; the next peer in rank order is tried, then the host (after a
//     random jitter, so followers that lose their owner together do not ask the host together);
//   - a peer whose content was last confirmed against the host longer than 3 periods plus the
//     sync timeout ago (it lost the host) is passed over the same way;
//   - a young peer with nothing to serve yet (its first sync runs) is waited for, woken by its
//     nudge, and a peer whose content is older than this replica's is waited for too: a follower
//     never moves back to a commit the host's ref pointed at before the one it serves.
// Ranking is one total order, so a follower always follows a replica ranked above it and no two
// replicas can follow each other. A replica's first sync comes from a peer that has content,
// even one ranked below it: a replica joining the fleet costs the host nothing, and takes over
// as owner (when it ranks first) only once it has synced.
import type { Config } from "../config/types.ts";
import { GitError, interrupted } from "../git/runner.ts";
import { parseBind } from "../lib/bind.ts";
import { SecretFile } from "../lib/secrets.ts";
import { peerToken } from "../serve/peer-token.ts";
import { errorText, type Logger } from "../log/logger.ts";
import type { FetchSource } from "../repo/context.ts";
import type { RemoteQuery } from "../repo/remote.ts";
import { peersMetrics } from "../state/metrics.ts";
import type { PeersState, SyncState } from "../state/sync-state.ts";
import { endpointOf, lookupPeers, ownAddress, withoutOtherFamilyOfSelf } from "./address.ts";
import { findRef, PeerQuery, PeerUnavailable, type PeerAnswer } from "./client.ts";
import { NudgeInbox, Nudger } from "./nudge.ts";
import { AGE_HEADER, answerProof, challenge, INSTANCE_HEADER, KEY_HEADER, newNonce, NONCE, NONCE_HEADER, PROOF_HEADER } from "./proof.ts";
import { keyDigest, ownershipKey, rank } from "./rendezvous.ts";

export { NudgeInbox } from "./nudge.ts";

export type PeersConfig = Pick<Config, "peers" | "httpBind" | "period" | "syncTimeout" | "serveGit">;

/** The longest a peer is passed over after failures in a row. */
export const DOWN_MAX_MS = 60_000;
/** Peers ranked above this replica tried in one attempt before it asks the host itself. */
const MAX_TRIES = 2;
/** Peers a replica without content of its own asks for some, in rank order. */
const MAX_PROBES = 3;
/** The longest one DNS question may take. */
const LOOKUP_TIMEOUT_MS = 5_000;

export interface PeersDeps {
  log: Logger;
  /** The main ref's state: /status shows `peers` from it. */
  state: SyncState;
  /** How the git host is asked (repo/remote.ts). */
  host: RemoteQuery;
  /** The repo URL without userinfo and every ref: what is owned. */
  repo: string;
  refs: readonly string[];
  /** Wake the sync loop now. */
  wake: () => void;
  env: Record<string, string | undefined>;
  /** What an earlier process left the main link serving, and when it published it: never gone back from. */
  startedWith?: { hash: string; at: number };
}

/** What the loop runs: a Syncer, or a Fleet of them. */
interface Attempts<R> {
  attempt(deadline: number, syncCount: number): Promise<R>;
}

/** How often one fetch asks a busy peer again. */
const MAX_BUSY_RETRIES = 20;
/** A random pause before asking a busy peer again (50 to 250 ms), so the askers spread out. */
const busyPause = () => 50 + Math.random() * 200;

export class Peers {
  /** The remote the syncers ask: the host's query, or the peer's while a follower syncs from one. */
  readonly remote: RemoteQuery;
  /** POST /sync with a peer's signature (http/server.ts). */
  readonly inbox: NudgeInbox;
  readonly state: PeersState;
  private readonly nudger: Nudger;
  private readonly secret: SecretFile;
  private readonly query: PeerQuery;
  private readonly key: string;
  private readonly digest: string;
  private readonly port: number;
  private readonly bindHost: string;
  private readonly staleAfter: number;
  /** The last DNS answer as heard, and as used (without this replica's own other-family address). */
  private heard: string[] = [];
  private answer: string[] = [];
  private self = "";
  /** The peer (address:port) the current attempt syncs from; null = the host. */
  private source: string | null = null;
  /** The peer the query asks. */
  private asking = "";
  /** When this replica's content was last confirmed against the host (process start before its first good attempt). */
  private confirmedAt = Date.now();
  /** This process has had a good attempt: its mirror is a source for others. */
  private synced = false;
  private readonly down = new Map<string, { until: number; failures: number }>();
  private readonly waiters = new Set<() => void>();
  private toNudge: { targets: string[]; hash: string } | null = null;
  /** When what the last good attempt synced was confirmed against the host; taken once the mirror serves it. */
  private confirmed: number | null = null;
  /** This process among the peers (proof.ts INSTANCE_HEADER). */
  private readonly instance = newNonce();
  /** Until when a fetch from the peer may run (and a busy one be asked again); the attempt's deadline. */
  private fetchUntil = 0;
  private attemptDeadline = 0;
  private busyRetries = 0;

  constructor(
    private readonly config: PeersConfig,
    private readonly deps: PeersDeps,
  ) {
    const { host, port } = parseBind(config.httpBind);
    this.bindHost = host;
    this.port = port;
    this.staleAfter = 3 * config.period + config.syncTimeout;
    this.key = ownershipKey(deps.repo, deps.refs);
    this.digest = keyDigest(this.key);
    this.secret = new SecretFile(config.serveGit.secretFile, "--serve-git-secret-file");
    const metrics = peersMetrics();
    this.state = { name: config.peers, self: "", role: "owner", owner: "", source: "", peers: [], down: [], resolvedAt: null, resolveError: "", hostRequests: 0, peerRequests: 0, nudgesSent: 0, nudgesReceived: 0, refused: 0 };
    deps.state.peers = this.state;
    // Known before the first answer when --http-bind or $POD_IP names it: peers' tokens for it are taken from the start.
    const own = ownAddress(host, deps.env, []);
    if (own.address !== "") deps.log.info("peers: this replica's address", { address: own.address, from: own.from });
    this.self = own.address;
    this.state.self = this.self === "" ? "" : endpointOf(this.self, port);
    const counted = (direction: "sent" | "received", result: "ok" | "failed" | "refused") => {
      metrics.nudges.inc({ direction, result });
      if (result === "refused") this.state.refused++;
      else if (result === "ok") this.state[direction === "sent" ? "nudgesSent" : "nudgesReceived"]++;
    };
    const nudgeDeps = { log: deps.log, key: () => this.secret.current(), counted };
    this.nudger = new Nudger(nudgeDeps);
    this.inbox = new NudgeInbox(
      nudgeDeps,
      () => {
        deps.wake();
        for (const w of this.waiters) w();
      },
      () => this.state.self,
    );
    this.query = new PeerQuery(
      deps.refs[0]!,
      { key: () => this.secretKey(), keyDigest: this.digest, instance: this.instance },
      () => ({ endpoint: this.asking, staleAfter: this.staleAfter }),
      () => this.counted("peer", "poll"),
      (ref, found, confirmedAt) => this.behind(ref, found.hash, confirmedAt),
    );
    this.remote = this.switching();
  }

  /** A request to /git from a peer, refused for its secret (mirror.ts counts it here too). */
  refusedRequest(): void {
    this.state.refused++;
  }

  /**
   * The headers that prove an in-process /git answer (the request was authenticated by the mirror):
   * how fresh this replica's content is, what it owns, and the HMAC over the follower's nonce.
   */
  answerHeaders(req: Request, body: string | Uint8Array, status: number): Record<string, string> {
    const nonce = req.headers.get(NONCE_HEADER) ?? "";
    if (!NONCE.test(nonce)) return {};
    const key = this.secret.current();
    if (key instanceof Error) return {};
    const age = `${Math.max(0, Date.now() - this.confirmedAt)}${this.synced ? "" : ";starting"}`;
    const proof = answerProof(key, challenge(nonce, this.state.self, status), age, this.digest, body);
    return { [AGE_HEADER]: age, [KEY_HEADER]: this.digest, [PROOF_HEADER]: proof, [INSTANCE_HEADER]: this.instance };
  }

  /** This replica's address:port, which peers' tokens must be for ("" while it does not know it). */
  selfEndpoint(): string {
    return this.state.self;
  }

  /** Where a fetch of `objects` goes now: the peer's mirror with a token for them, or null for the host. */
  fetchSource(objects: readonly string[]): FetchSource | null {
    if (this.source === null) {
      this.counted("host", "fetch");
      return null;
    }
    this.counted("peer", "fetch");
    const url = `http://${this.source}/git`;
    return {
      url,
      env: {
        // The token (serve/peer-token.ts: these objects, this peer) reaches git through its
        // environment, scoped to this URL, never argv; no askpass, credential helper or prompt:
        // a peer that asks for credentials gets none of the host's. An empty value first empties the list of extra headers for this URL, so a
        // header the user set for the host (--git-config http.extraHeader, a token) is not sent
        // here; an empty credential.helper empties the helpers' list the same way.
        GIT_CONFIG_COUNT: "6",
        GIT_CONFIG_KEY_0: `http.${url}.extraHeader`,
        GIT_CONFIG_VALUE_0: "",
        GIT_CONFIG_KEY_1: `http.${url}.extraHeader`,
        GIT_CONFIG_VALUE_1: `Authorization: Bearer ${peerToken(this.secretKey(), objects, this.source)}`,
        GIT_CONFIG_KEY_2: "credential.helper",
        GIT_CONFIG_VALUE_2: "",
        // No redirect away from the peer; a peer that stalls the pack is given up on in 10 s.
        GIT_CONFIG_KEY_3: "http.followRedirects",
        GIT_CONFIG_VALUE_3: "false",
        GIT_CONFIG_KEY_4: "http.lowSpeedLimit",
        GIT_CONFIG_VALUE_4: "1000",
        GIT_CONFIG_KEY_5: "http.lowSpeedTime",
        GIT_CONFIG_VALUE_5: "10",
        GIT_ASKPASS: "",
        SSH_ASKPASS: "",
        GIT_TERMINAL_PROMPT: "0",
      },
      // The owner's mirror makes --serve-git-max-packs packs at once and answers the rest 503,
      // which git does not retry: after a nudge, every follower fetches at once. The same fetch
      // runs again after a short random pause, within half the attempt's time.
      again: async (e) => {
        if (!(e instanceof GitError && /returned error: 503/.test(e.stderr)) || Date.now() + 1_000 >= this.fetchUntil || ++this.busyRetries > MAX_BUSY_RETRIES) return false;
        this.deps.log.v(2, "the peer's mirror is busy; fetching again", { peer: this.source });
        await Bun.sleep(busyPause());
        this.counted("peer", "fetch");
        return true;
      },
      // Within half the attempt's time, so that the host still fits in the rest.
      deadline: this.fetchUntil,
      // Whatever went wrong (a stall, a bad pack, the peer gone), it is the peer's: pass it over
      // and fetch from another source, never refuse the commit for it.
      // (Killed by a signal, the process is stopping; past the attempt's deadline, no time is left.)
      failed: (e) => ((e instanceof GitError && interrupted(e) && !e.timedOut) || Date.now() >= this.attemptDeadline ? e : new PeerUnavailable(`fetching from peer ${this.source}: ${errorText(e)}`, "fetch-failed")),
    };
  }

  /** One sync attempt of `inner` from the owner, another peer, or the host. */
  async attempt<R extends { changed: boolean; hash: string }>(inner: Attempts<R>, deadline: number, syncCount: number): Promise<R> {
    await this.resolve(deadline);
    const ranked = this.ranked();
    const others = ranked.filter((a) => a !== this.self);
    const above = this.self === "" ? others : ranked.slice(0, ranked.indexOf(this.self));
    this.report(above[0] ?? this.self);
    let fallback = false;
    if (!this.synced) {
      // A replica's first sync comes from a peer that has content, even one ranked below it.
      const ready = await this.firstReady(others.slice(0, MAX_PROBES), deadline);
      if (ready !== null) {
        const r = await this.fromPeer(inner, ready, deadline, syncCount, false);
        if (r !== null) return r;
      }
    }
    for (const peer of above.slice(0, MAX_TRIES)) {
      const r = await this.fromPeer(inner, peer, deadline, syncCount, true);
      if (r !== null) return r;
      fallback = true;
    }
    if (fallback) {
      // Followers that lost their owner together do not all ask the host at once.
      const jitter = Math.random() * Math.min(this.config.period, 2_000);
      await Bun.sleep(Math.max(0, Math.min(jitter, deadline - Date.now() - 1_000)));
    }
    // Peers passed over in this attempt: the role and owner the next one starts with.
    if (fallback) this.report(this.ranked()[0] ?? this.self);
    const started = Date.now();
    this.state.source = "host";
    const r = await inner.attempt(deadline, syncCount);
    this.confirmed = started;
    // The owner tells the others (once its mirror serves the commit: served()); a follower
    // that fell back to the host does not.
    if (r.changed && !fallback) this.toNudge = { targets: others.map((a) => endpointOf(a, this.port)), hash: r.hash };
    return r;
  }

  /**
   * After each attempt, once the mirror has (`ok`) or has not taken what the links serve: only
   * then does this replica's answer say how fresh that is, and the owner nudge the others.
   */
  served(ok: boolean): void {
    const n = this.toNudge;
    const confirmed = this.confirmed;
    this.toNudge = null;
    this.confirmed = null;
    if (!ok) return;
    if (confirmed !== null) {
      this.confirmedAt = this.synced ? Math.max(this.confirmedAt, confirmed) : confirmed;
      this.synced = true;
    }
    if (n) this.nudger.send(n.targets, this.self === "" ? "" : endpointOf(this.self, this.port), n.hash);
  }

  /**
   * A push trigger (POST /sync from a forge) reached this replica: a follower passes it on to
   * the owner, which is the one that asks the host; the owner's nudge then brings the commit here.
   */
  pushed(): void {
    if (this.state.role !== "follower" || this.state.owner === "") return;
    this.nudger.send([this.state.owner], this.state.self, "");
  }


  private async fromPeer<R>(inner: Attempts<R>, address: string, deadline: number, syncCount: number, wait: boolean): Promise<R | null> {
    const endpoint = endpointOf(address, this.port);
    this.asking = endpoint;
    try {
      if (wait) await this.untilReady(deadline);
      this.source = endpoint;
      this.state.source = "peer";
      this.fetchUntil = Date.now() + (deadline - Date.now()) / 2;
      this.attemptDeadline = deadline;
      this.busyRetries = 0;
      const r = await inner.attempt(deadline, syncCount);
      this.report(address);
      const last: PeerAnswer | null = this.query.last;
      this.confirmed = last ? last.at - last.age : Date.now();
      this.down.delete(address);
      return r;
    } catch (e) {
      // A fetch from the peer that failed comes as a PeerUnavailable too (fetchSource's `failed`).
      if (!(e instanceof PeerUnavailable)) throw e;
      this.markDown(address, e);
      return null;
    } finally {
      this.source = null;
    }
  }

  /** The first of `candidates` that serves every ref now, fresh; null when none does. */
  private async firstReady(candidates: string[], deadline: number): Promise<string | null> {
    for (const address of candidates) {
      this.asking = endpointOf(address, this.port);
      try {
        const a = await this.query.probe(this.deps.refs, deadline);
        if (a.age <= this.staleAfter && this.serves(a)) return address;
      } catch (e) {
        if (!(e instanceof PeerUnavailable)) throw e;
        // Not started yet, most likely (a fleet's cold start: untilReady waits for the owner), or busy.
        if (e.reason !== "unreachable" && e.reason !== "busy") this.markDown(address, e);
      }
    }
    return null;
  }

  /**
   * Ask the peer (this.asking) until it serves every ref with content no older than ours; while it
   * has nothing yet, wait for its nudge (or a second) and ask again. Throws PeerUnavailable when it
   * cannot answer, is stale, or is not ready within half the attempt's time.
   */
  private async untilReady(deadline: number): Promise<void> {
    // At most half the attempt's time: the host must still fit in the rest.
    const until = Date.now() + (deadline - Date.now()) / 2;
    for (;;) {
      const pause = Math.min(this.config.period, 1_000);
      const late = Date.now() + pause >= until;
      let a: PeerAnswer;
      try {
        a = await this.query.probe(this.deps.refs, deadline);
      } catch (e) {
        if (!(e instanceof PeerUnavailable) || late) throw e;
        if (e.reason === "busy") {
          await Bun.sleep(busyPause());
          continue;
        }
        // A replica with nothing of its own waits for an owner that is not listening yet (the
        // fleet starts together); one that serves a tree passes a silent owner over at once.
        if (e.reason !== "unreachable" || this.synced) throw e;
        this.deps.log.v(2, "waiting for the owner to listen", { peer: this.asking });
        await this.nudgedOr(pause);
        continue;
      }
      if (a.age > this.staleAfter) throw new PeerUnavailable(`peer ${this.asking} last confirmed its content against the git host ${Math.round(a.age / 1000)}s ago`, "stale");
      if (this.serves(a)) return;
      if (late) throw new PeerUnavailable(`peer ${this.asking} had nothing to follow in time`, "not-ready");
      this.deps.log.v(2, "waiting for the peer's first sync", { peer: this.asking });
      await this.nudgedOr(pause);
    }
  }

  /** The answer has every ref, none of them older than what this replica serves. */
  private serves(a: PeerAnswer): boolean {
    if (a.listing === null) return false;
    for (const ref of this.deps.refs) {
      const found = findRef(ref, a.listing);
      if (found === null || this.behind(ref, found.hash, a.at - a.age)) return false;
    }
    return true;
  }

  /**
   * Whether the peer's `hash` for `ref`, confirmed against the host at `confirmedAt`, is older
   * than what this replica serves for it: a different commit, confirmed before ours.
   */
  private behind(ref: string, hash: string, confirmedAt: number): boolean {
    const { state } = this.deps;
    if (!this.synced) {
      // Before this process's first good attempt: what an earlier one left published, as of its publish.
      const start = this.deps.startedWith;
      return start !== undefined && ref === this.deps.refs[0] && hash !== start.hash && confirmedAt < start.at;
    }
    const ours = ref === this.deps.refs[0] ? state.hash : (state.links.find((l) => l.ref === ref)?.state.hash ?? "");
    return ours !== "" && hash !== ours && confirmedAt < this.confirmedAt;
  }

  private async nudgedOr(ms: number): Promise<void> {
    let done = () => {};
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      done = finish;
      this.waiters.add(done);
    });
    this.waiters.delete(done);
  }

  private markDown(address: string, e: PeerUnavailable): void {
    const prev = this.down.get(address);
    const failures = (prev?.failures ?? 0) + 1;
    const backoff = Math.min(DOWN_MAX_MS, this.config.period * 2 ** Math.min(failures - 1, 16));
    this.down.set(address, { until: Date.now() + backoff, failures });
    this.deps.log.info("peer unavailable, passing it over", { peer: endpointOf(address, this.port), reason: e.reason, error: errorText(e), retryIn: `${Math.round(backoff / 1000)}s` });
    this.state.down = this.downList();
  }

  /** The answer's addresses (and this replica's) by rank, without peers passed over now. */
  private ranked(): string[] {
    const now = Date.now();
    const live = this.answer.filter((a) => a === this.self || (this.down.get(a)?.until ?? 0) <= now);
    if (this.self !== "" && !live.includes(this.self)) live.push(this.self);
    this.state.down = this.downList();
    return rank(this.key, live);
  }

  private downList(): string[] {
    const now = Date.now();
    return [...this.down].filter(([, d]) => d.until > now).map(([a]) => endpointOf(a, this.port));
  }

  /** The role and owner this attempt starts with; logged when they change. */
  private report(owner: string): void {
    const role = owner === this.self ? "owner" : "follower";
    const shown = owner === "" ? "" : endpointOf(owner, this.port);
    if (role !== this.state.role || shown !== this.state.owner) this.deps.log.info("peers: owner", { owner: shown, role });
    this.state.role = role;
    this.state.owner = shown;
    peersMetrics().owner.set(role === "owner" ? 1 : 0);
  }

  /** Resolve --peers (c-ares keeps the answer for its TTL); a failed lookup keeps the last answer. */
  private async resolve(deadline: number): Promise<void> {
    const { log } = this.deps;
    try {
      const ms = Math.max(1, Math.min(LOOKUP_TIMEOUT_MS, deadline - Date.now()));
      let timer: Timer | undefined;
      const { addresses: answer, dropped } = await Promise.race([
        lookupPeers(this.config.peers),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
      ]).finally(() => clearTimeout(timer));
      if (answer.join() !== this.heard.join()) log.info("peers: DNS answer", { name: this.config.peers, peers: answer, ...(dropped > 0 ? { dropped } : {}) });
      this.heard = answer;
      this.state.resolvedAt = Date.now();
      if (this.state.resolveError !== "") log.info("peers: DNS answers again", { name: this.config.peers });
      this.state.resolveError = "";
    } catch (e) {
      const msg = errorText(e);
      if (msg !== this.state.resolveError) log.info("peers: can't resolve the name; keeping the last answer", { name: this.config.peers, error: msg, peers: this.answer });
      this.state.resolveError = msg;
    }
    const own = ownAddress(this.bindHost, this.deps.env, this.heard);
    if (own.address !== this.self) log.info("peers: this replica's address", { address: own.address, from: own.from });
    this.self = own.address;
    this.answer = withoutOtherFamilyOfSelf(this.heard, this.self);
    this.state.self = own.address === "" ? "" : endpointOf(own.address, this.port);
    this.state.peers = this.answer.map((a) => endpointOf(a, this.port));
    for (const a of this.down.keys()) if (!this.answer.includes(a)) this.down.delete(a);
    peersMetrics().seen.set(this.answer.length);
  }

  /** The secret's digest, which every token, proof and signature between peers is keyed with. */
  private secretKey(): string {
    const key = this.secret.current();
    if (key instanceof Error) throw new PeerUnavailable(errorText(key), "refused");
    return key;
  }

  private counted(to: "host" | "peer", kind: "poll" | "fetch"): void {
    peersMetrics().requests.inc({ to, kind });
    if (to === "host") this.state.hostRequests++;
    else this.state.peerRequests++;
  }

  /** The syncers' RemoteQuery: the host's, or the peer's while an attempt syncs from one. */
  private switching(): RemoteQuery {
    const current = (): RemoteQuery => (this.source === null ? this.deps.host : this.query);
    const hostPoll = () => {
      if (this.source === null) this.counted("host", "poll");
    };
    return {
      get kind() {
        return current().kind;
      },
      get fetchByAnswer() {
        return current().fetchByAnswer;
      },
      get fetchByOid() {
        return current().fetchByOid;
      },
      resolve: async (deadline) => {
        hostPoll();
        return await current().resolve(deadline);
      },
      resolveMany: async (refs, deadline) => {
        hostPoll();
        return await current().resolveMany(refs, deadline);
      },
      fetchWorked: () => current().fetchWorked(),
    };
  }
}
