// A follower's questions to a peer's /git (issue 23): one in-process ls-refs request per poll,
// authenticated with a poll's token made from the --serve-git secret (serve/peer-token.ts), and an answer the follower only takes when it
// carries the proof that the secret's holder wrote it (proof.ts). The answer says how fresh the
// peer's content is (how long since it was confirmed against the git host) and, on a young
// replica, that nothing is published yet.
import { readBounded } from "../lib/bounded-body.ts";
import { errorText } from "../log/logger.ts";
import { pickSemverTag, semverRange } from "../lib/semver.ts";
import { parseLsRefs, parsePktLines, pkt } from "../repo/smart-http.ts";
import { SourceFailed } from "../repo/fetch.ts";
import { pickRef, refCandidates, type RefListing, type RemoteQuery, type RemoteRef } from "../repo/remote.ts";
import { VERSION } from "../version.ts";
import { peerToken } from "../serve/peer-token.ts";
import { AGE_HEADER, answerProven, challenge, INSTANCE_HEADER, KEY_HEADER, newNonce, NONCE_HEADER, PROOF_HEADER } from "./proof.ts";

/** Why a peer cannot be followed now; the follower passes it over (peers/index.ts). */
export type Unavailable = "unreachable" | "busy" | "refused" | "unproven" | "other-key" | "stale" | "not-ready" | "missing-ref" | "fetch-failed" | "self";

/** A SourceFailed: a fetch from a peer that fails is the peer's fault (repo/fetch.ts). */
export class PeerUnavailable extends SourceFailed {
  constructor(
    message: string,
    readonly reason: Unavailable,
  ) {
    super(message);
  }
}

/** The longest a peer may take to answer a poll: it answers in-process, in-cluster. */
export const PEER_TIMEOUT_MS = 5_000;
/** A ref list is a few lines; a peer's answer past this is not one. */
const MAX_ANSWER = 1 << 20;

export interface PeerAnswer {
  /**
   * Null: the peer has nothing to follow yet (it published nothing, or what it serves is from
   * before its own first good attempt: a restarted replica's old tree is no source).
   */
  listing: RefListing | null;
  /** Milliseconds since the peer's content was confirmed against the git host. */
  age: number;
  /** When the answer arrived (epoch ms). */
  at: number;
}

export interface PeerCredentials {
  /** The --serve-git secret's SHA-256 (hex): tokens and proofs are keyed with it; the secret itself is never sent. */
  key: () => string;
  /** keyDigest() of this process's ownership key. */
  keyDigest: string;
  /** This process's instance id (proof.ts INSTANCE_HEADER); absent: never taken for itself. */
  instance?: string;
}

/** POST <endpoint>/git/git-upload-pack, command=ls-refs for `prefixes`; throws PeerUnavailable. */
export async function askPeer(endpoint: string, prefixes: readonly string[], creds: PeerCredentials, deadline: number): Promise<PeerAnswer> {
  const nonce = newNonce();
  const key = creds.key();
  const req = pkt("command=ls-refs\n") + pkt(`agent=git/git-sync-bun-${VERSION}\n`) + "0001" + pkt("peel\n") + pkt("symrefs\n") + prefixes.map((p) => pkt(`ref-prefix ${p}\n`)).join("") + "0000";
  const url = `http://${endpoint}/git/git-upload-pack`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "Git-Protocol": "version=2",
        "Content-Type": "application/x-git-upload-pack-request",
        Accept: "application/x-git-upload-pack-result",
        "User-Agent": `git/git-sync-bun-${VERSION}`,
        // A token for a poll: whatever answers at this address learns nothing it could fetch or prove with.
        Authorization: `Bearer ${peerToken(key, [], endpoint)}`,
        [NONCE_HEADER]: nonce,
      },
      body: req,
      redirect: "manual",
      signal: AbortSignal.timeout(Math.max(1, Math.min(PEER_TIMEOUT_MS, deadline - Date.now()))),
    });
  } catch (e) {
    throw new PeerUnavailable(`peer ${endpoint} did not answer: ${errorText(e)}`, "unreachable");
  }
  let body: Uint8Array;
  try {
    body = await readBounded(res, { maxBytes: MAX_ANSWER, what: `the answer of peer ${endpoint}` });
  } catch (e) {
    throw new PeerUnavailable(`peer ${endpoint}: ${errorText(e)}`, "unreachable");
  }
  if (res.status === 401) throw new PeerUnavailable(`peer ${endpoint} refused our token: it holds another --serve-git secret (HTTP 401)`, "refused");
  // The mirror's own "too many at once" (no proof: it did not get to the answer): not a fault.
  if (res.status === 503 && !res.headers.has(PROOF_HEADER)) throw new PeerUnavailable(`peer ${endpoint} is busy (HTTP 503)`, "busy");
  if (res.status !== 200 && res.status !== 503) throw new PeerUnavailable(`peer ${endpoint} answered HTTP ${res.status}`, "unreachable");
  const age = res.headers.get(AGE_HEADER) ?? "";
  const digest = res.headers.get(KEY_HEADER) ?? "";
  const proof = res.headers.get(PROOF_HEADER) ?? "";
  const aged = /^(\d{1,15})(;starting)?$/.exec(age);
  if (res.headers.get(INSTANCE_HEADER) === creds.instance) throw new PeerUnavailable(`${endpoint} is this replica itself`, "self");
  if (!aged || !answerProven(key, challenge(nonce, endpoint, res.status), age, digest, body, proof)) {
    throw new PeerUnavailable(`peer ${endpoint}'s answer does not prove it knows the --serve-git secret`, "unproven");
  }
  if (digest !== creds.keyDigest) throw new PeerUnavailable(`peer ${endpoint} syncs another repo or other refs`, "other-key");
  const at = Date.now();
  if (res.status === 503 || aged[2]) return { listing: null, age: Number(aged[1]), at };
  try {
    return { listing: parseLsRefs(parsePktLines(body)), age: Number(aged[1]), at };
  } catch (e) {
    throw new PeerUnavailable(`peer ${endpoint}: ${errorText(e)}`, "unreachable");
  }
}

/** What the peer serves for `ref` (a branch, tag, HEAD, `semver:` range or hash); null when nothing. */
export function findRef(ref: string, listing: RefListing): RemoteRef | null {
  const range = semverRange(ref);
  if (range !== null) {
    const best = pickSemverTag(range, listing.refs.keys());
    return best === null ? null : pickRef(best, listing);
  }
  // A hash ref: the peer must serve that very commit.
  if (/^[0-9a-f]{40,64}$/.test(ref)) return [...listing.refs.values()].some((r) => r.oid === ref || r.peeled === ref) ? { name: ref, oid: ref, hash: ref } : null;
  return pickRef(ref, listing);
}


/**
 * The poll of a peer, as the sync asks it (RemoteQuery). `peer()` names the peer to ask now and
 * how stale its content may be; a peer that cannot answer for the ref throws PeerUnavailable,
 * which the fleet (index.ts) turns into another source. `probe` asks ahead of the attempt; the
 * attempt's own question then takes that answer instead of asking again.
 */
export class PeerQuery implements RemoteQuery {
  readonly kind = "peer";
  readonly fetchByOid = true;
  private primed: { endpoint: string; answer: PeerAnswer } | null = null;
  /** The answer the last successful question got: its age tells how fresh what we sync is. */
  last: PeerAnswer | null = null;

  constructor(
    private readonly ref: string,
    private readonly creds: PeerCredentials,
    private readonly peer: () => { endpoint: string; staleAfter: number },
    private readonly counted: () => void,
    /** Whether `found`, confirmed against the host at `confirmedAt`, would take this replica back. */
    private readonly behind: (ref: string, found: RemoteRef, confirmedAt: number) => boolean,
  ) {}

  /** Ask the peer now for `refs` (a semver ref asks for every tag); the next question takes this answer. */
  async probe(refs: readonly string[], deadline: number): Promise<PeerAnswer> {
    const { endpoint } = this.peer();
    const answer = await this.ask(endpoint, refs, deadline);
    this.primed = { endpoint, answer };
    return answer;
  }

  private async ask(endpoint: string, refs: readonly string[], deadline: number): Promise<PeerAnswer> {
    const prefixes = semverRange(this.ref) !== null ? ["refs/tags/"] : [...new Set(refs.flatMap((r) => (/^[0-9a-f]{40,64}$/.test(r) ? [] : refCandidates(r))))];
    this.counted();
    return await askPeer(endpoint, prefixes.length > 0 ? prefixes : ["HEAD"], this.creds, deadline);
  }

  /** The primed answer if it is for this peer and fresh from this attempt, else a new one. */
  private async answer(refs: readonly string[], deadline: number): Promise<PeerAnswer> {
    const { endpoint, staleAfter } = this.peer();
    const primed = this.primed;
    this.primed = null;
    const answer = primed?.endpoint === endpoint && Date.now() - primed.answer.at < 1000 ? primed.answer : await this.ask(endpoint, refs, deadline);
    if (answer.age > staleAfter) throw new PeerUnavailable(`peer ${endpoint} last confirmed its content against the git host ${Math.round(answer.age / 1000)}s ago`, "stale");
    if (answer.listing === null) throw new PeerUnavailable(`peer ${endpoint} has published nothing yet`, "not-ready");
    return answer;
  }

  async resolve(deadline: number): Promise<RemoteRef> {
    return (await this.resolveMany([this.ref], deadline)).get(this.ref)!;
  }

  async resolveMany(refs: readonly string[], deadline: number): Promise<Map<string, RemoteRef>> {
    const answer = await this.answer(refs, deadline);
    const out = new Map<string, RemoteRef>();
    for (const r of refs) {
      const found = findRef(r, answer.listing!);
      if (found === null) throw new PeerUnavailable(`peer ${this.peer().endpoint} does not serve ${r} yet`, "missing-ref");
      // Never back: content the peer confirmed before ours (a lagging new owner) is waited for.
      if (this.behind(r, found, answer.at - answer.age)) throw new PeerUnavailable(`peer ${this.peer().endpoint} serves ${r} from before what this replica has`, "not-ready");
      out.set(r, found);
    }
    this.last = answer;
    return out;
  }

  fetchWorked(): void {}
}
