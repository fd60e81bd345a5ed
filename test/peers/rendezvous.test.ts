// Who owns a repo among the replicas (src/peers/rendezvous.ts): rendezvous hashing, checked for
// the properties a fleet relies on. Every replica that sees the same DNS answer must pick the same
// owner whatever order the answer came in; a replica leaving moves ownership only when it was the
// owner, a replica joining only to itself; over many repos ownership spreads; and the ranking is
// one total order, so two replicas can never follow each other.
import { describe, expect, it } from "bun:test";
import { keyDigest, ownershipKey, rank, weight } from "../../src/peers/rendezvous.ts";

const addresses = (n: number, base = "10.0.0.") => Array.from({ length: n }, (_, i) => `${base}${i + 1}`);
const KEYS = Array.from({ length: 2000 }, (_, i) => ownershipKey(`https://git.example.com/org/repo-${i}.git`, ["main"]));

/** A deterministic shuffle (a linear congruential generator), so a failure reproduces. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("ownershipKey and keyDigest", () => {
  it("the key is the repo, then every ref, one a line", () => {
    expect(ownershipKey("https://h/r.git", ["main", "v1"])).toBe("https://h/r.git\nmain\nv1");
  });

  it.each<[string, [string, string[]], [string, string[]]]>([
    ["another repo", ["https://h/r.git", ["main"]], ["https://h/other.git", ["main"]]],
    ["another ref", ["https://h/r.git", ["main"]], ["https://h/r.git", ["dev"]]],
    ["one more ref", ["https://h/r.git", ["main"]], ["https://h/r.git", ["main", "dev"]]],
    ["the refs in another order", ["https://h/r.git", ["main", "dev"]], ["https://h/r.git", ["dev", "main"]]],
  ])("%s: another digest", (_name, [repoA, refsA], [repoB, refsB]) => {
    expect(keyDigest(ownershipKey(repoB, refsB))).not.toBe(keyDigest(ownershipKey(repoA, refsA)));
  });

  it("the digest is 16 hex digits, the same every time", () => {
    const d = keyDigest(KEYS[0]!);
    expect(d).toMatch(/^[0-9a-f]{16}$/);
    expect(keyDigest(KEYS[0]!)).toBe(d);
  });
});

describe("rank", () => {
  it("the weight is the first 8 bytes of SHA-256(key \\n address), big-endian", () => {
    const digest = new Bun.CryptoHasher("sha256").update("k\n10.0.0.1").digest();
    expect(weight("k", "10.0.0.1")).toBe(digest.readBigUInt64BE(0));
  });

  it("replicas that got the same answer in any order agree on the whole order", () => {
    const answer = addresses(12);
    for (const key of KEYS.slice(0, 200)) {
      const seen = new Set([0, 1, 2, 3].map((seed) => rank(key, shuffled(answer, seed + key.length)).join()));
      expect(seen.size).toBe(1);
    }
  });

  it("duplicates in the answer count once", () => {
    expect(rank(KEYS[0]!, ["10.0.0.1", "10.0.0.2", "10.0.0.1"]).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("is sorted by weight, highest first: a total order every subset keeps", () => {
    const all = addresses(10);
    for (const key of KEYS.slice(0, 100)) {
      const order = rank(key, all);
      const weights = order.map((a) => weight(key, a));
      for (let i = 1; i < weights.length; i++) expect(weights[i - 1]! >= weights[i]!).toBe(true);
      // Any subset ranks in the order of the whole: whoever a replica follows ranks above it in
      // every answer that holds both, so no two replicas follow each other.
      const subset = shuffled(all, key.length).slice(0, 5);
      expect(rank(key, subset)).toEqual(order.filter((a) => subset.includes(a)));
    }
  });

  it("removing a replica that does not own moves no ownership", () => {
    const all = addresses(10);
    for (const key of KEYS.slice(0, 300)) {
      const [owner, ...rest] = rank(key, all);
      for (const gone of rest) expect(rank(key, all.filter((a) => a !== gone))[0]).toBe(owner!);
    }
  });

  it("removing the owner hands ownership to the one ranked second", () => {
    const all = addresses(10);
    for (const key of KEYS.slice(0, 300)) {
      const [owner, second] = rank(key, all);
      expect(rank(key, all.filter((a) => a !== owner))[0]).toBe(second!);
    }
  });

  it("adding a replica moves ownership only to the new one", () => {
    const all = addresses(10);
    let moved = 0;
    for (const key of KEYS) {
      const before = rank(key, all)[0];
      const after = rank(key, [...all, "10.0.0.99"])[0];
      if (after !== before) {
        expect(after).toBe("10.0.0.99");
        moved++;
      }
    }
    // About 1/11 of the keys: the new replica takes its share, no more.
    expect(moved).toBeGreaterThan(2000 / 11 / 2);
    expect(moved).toBeLessThan((2000 / 11) * 2);
  });

  it("over 2000 repos, each of 10 replicas owns between 100 and 300", () => {
    for (const [name, all] of [
      ["IPv4", addresses(10)],
      ["consecutive loopback", addresses(10, "127.0.0.")],
      ["IPv6", addresses(10, "fd00::")],
    ] as const) {
      const owned = new Map<string, number>(all.map((a) => [a, 0]));
      for (const key of KEYS) {
        const owner = rank(key, all)[0]!;
        owned.set(owner, owned.get(owner)! + 1);
      }
      for (const [a, n] of owned) expect([name, a, n >= 100 && n <= 300]).toEqual([name, a, true]);
    }
  });

  it("the answer alone decides: one replica and an empty answer", () => {
    expect(rank(KEYS[0]!, ["10.0.0.1"])).toEqual(["10.0.0.1"]);
    expect(rank(KEYS[0]!, [])).toEqual([]);
  });
});
