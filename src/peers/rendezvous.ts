// Who owns a repo and its refs among the replicas: rendezvous (highest random weight) hashing.
// Every replica that sees the same DNS answer computes the same owner without talking to the
// others, and a replica joining or leaving moves ownership only where that replica wins or was
// the winner. A replica's weight depends only on the key and its address, so the order is one
// total order: a follower always follows a replica that ranks above it, and no two replicas can
// follow each other.

/** What is owned: the repo (no userinfo) and every ref this process syncs. */
export function ownershipKey(repo: string, refs: readonly string[]): string {
  return [repo, ...refs].join("\n");
}

/** The key's short digest, sent with answers so a replica of another repo is not followed. */
export function keyDigest(key: string): string {
  return new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 16);
}

/** The replica's weight for `key`: the first 8 bytes of SHA-256(key, address). */
export function weight(key: string, address: string): bigint {
  const digest = new Bun.CryptoHasher("sha256").update(`${key}\n${address}`).digest();
  return digest.readBigUInt64BE(0);
}

/** `addresses` from the highest weight to the lowest (ties, never seen in practice, by address). */
export function rank(key: string, addresses: Iterable<string>): string[] {
  const scored = [...new Set(addresses)].map((a) => ({ a, w: weight(key, a) }));
  scored.sort((x, y) => (x.w === y.w ? (x.a < y.a ? -1 : 1) : x.w > y.w ? -1 : 1));
  return scored.map((s) => s.a);
}
