// Tokens a --peers follower authenticates to a peer's /git with, instead of the secret (issue 23).
// A follower never sends the --serve-git secret itself: whatever answers at the owner's address
// would learn it, then prove answers with it. It sends a Bearer token made from the secret's
// digest instead, good for TOKEN_WINDOW_MS either side of the time it names and for what it names:
//   - no objects: a poll (the ref list, or "nothing published yet"), never a pack;
//   - objects: a fetch whose every want is one of them (the objects the owner's proven answer named).
// So a token replayed by whoever saw it lists the refs, or fetches the commit its follower was
// fetching, for a few minutes, and never yields the secret.
import { sameSecret, signBody } from "../lib/secrets.ts";

/** How far a token's time may be from the mirror's clock (pods' clocks are kept by their nodes). */
export const TOKEN_WINDOW_MS = 5 * 60_000;

const PREFIX = "gitsync-peer";

/** What a valid token allows: a poll (no objects) or a fetch of these objects. */
export interface PeerScope {
  objects: string[];
}

/**
 * A token for `objects` (none: a poll) at `now`, for the peer at `to` (address:port: the token is
 * good there only, so a host at another address cannot use it elsewhere), signed with `key` (the
 * secret's SHA-256, hex).
 */
export function peerToken(key: string, objects: readonly string[], to: string, now = Date.now()): string {
  const list = objects.join(",");
  return `${PREFIX}.${now}.${list}.${signBody(key, `git-sync peer token\n${now}\n${to}\n${list}`).slice("sha256=".length)}`;
}

/** The scope of a valid token for the peer `to`; null for anything else (not a token, another key or peer, out of its window). */
export function checkPeerToken(key: string, token: string, to: string, now = Date.now()): PeerScope | null {
  const m = /^gitsync-peer\.(\d{1,15})\.((?:[0-9a-f]{40,64})(?:,[0-9a-f]{40,64}){0,63}|)\.([0-9a-f]{64})$/.exec(token);
  if (!m) return null;
  const at = Number(m[1]);
  if (Math.abs(now - at) > TOKEN_WINDOW_MS) return null;
  const list = m[2]!;
  if (!sameSecret(signBody(key, `git-sync peer token\n${at}\n${to}\n${list}`), `sha256=${m[3]}`)) return null;
  return { objects: list === "" ? [] : list.split(",") };
}
