// How peers prove they hold the --serve-git secret (src/peers/proof.ts): an owner's answer proves
// itself over the follower's nonce, its age, its ownership key and its body, so any change to one
// of them, or a proof made with another secret, fails; a nudge's signature covers its body.
import { describe, expect, it } from "bun:test";
import { answerProof, answerProven, newNonce, NONCE, nudgeSigned, signNudge } from "../../src/peers/proof.ts";

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const KEY = sha256("the fleet's secret");
const NONCE_A = "0123456789abcdef0123456789abcdef";
const AGE = "1234";
const DIGEST = "00112233aabbccdd";
const BODY = "003fa1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5 refs/heads/main\n0000";
const enc = new TextEncoder();

describe("answerProof", () => {
  const proof = answerProof(KEY, NONCE_A, AGE, DIGEST, BODY);

  it("is sha256=<64 hex>, and the same answer proves itself (string or bytes body)", () => {
    expect(proof).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(answerProven(KEY, NONCE_A, AGE, DIGEST, BODY, proof)).toBe(true);
    expect(answerProven(KEY, NONCE_A, AGE, DIGEST, enc.encode(BODY), proof)).toBe(true);
  });

  it.each<[string, [string, string, string, string, string]]>([
    ["another nonce (an answer replayed to another question)", [KEY, "f".repeat(32), AGE, DIGEST, BODY]],
    ["another age", [KEY, NONCE_A, "1235", DIGEST, BODY]],
    ["the age without ;starting", [KEY, NONCE_A, `${AGE};starting`, DIGEST, BODY]],
    ["another ownership key", [KEY, NONCE_A, AGE, "00112233aabbccde", BODY]],
    ["another body (another commit)", [KEY, NONCE_A, AGE, DIGEST, BODY.replace("a1b2", "a1b3")]],
    ["one byte more in the body", [KEY, NONCE_A, AGE, DIGEST, BODY + "\n"]],
    ["another secret", [sha256("a guess"), NONCE_A, AGE, DIGEST, BODY]],
    ["the secret's digest of the empty string", [sha256(""), NONCE_A, AGE, DIGEST, BODY]],
    // The fields are separated: moving a character from one to the next is another answer.
    ["a digit moved from the age to the key", [KEY, NONCE_A, "123", `4${DIGEST}`, BODY]],
  ])("%s: not proven", (_name, [key, nonce, age, digest, body]) => {
    expect(answerProven(key, nonce, age, digest, body, proof)).toBe(false);
  });

  it.each<[string, string]>([
    ["empty", ""],
    ["without sha256=", proof.slice("sha256=".length)],
    ["upper case", proof.toUpperCase()],
    ["one digit off", proof.slice(0, -1) + (proof.endsWith("0") ? "1" : "0")],
    ["truncated", proof.slice(0, -2)],
    ["with a trailing newline", proof + "\n"],
  ])("a proof header %s: not proven", (_name, given) => {
    expect(answerProven(KEY, NONCE_A, AGE, DIGEST, BODY, given)).toBe(false);
  });
});

describe("nudges", () => {
  const body = enc.encode(JSON.stringify({ event: "git-sync-peer", from: "10.0.0.1:8080", hash: "a".repeat(40) }));
  const signature = signNudge(KEY, body);

  it("a signed nudge is signed", () => {
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(nudgeSigned(KEY, body, signature)).toBe(true);
  });

  it.each<[string, string | null]>([
    ["missing", null],
    ["empty", ""],
    ["garbled", "sha256=not-hex"],
    ["bare hex", signature.slice("sha256=".length)],
    ["made with another secret", signNudge(sha256("a guess"), body)],
    ["made with the secret itself rather than its digest", signNudge("the fleet's secret", body)],
    ["for another body", signNudge(KEY, enc.encode("{}"))],
    ["twice", signature + signature],
  ])("a signature header %s: not signed", (_name, header) => {
    expect(nudgeSigned(KEY, body, header)).toBe(false);
  });

  it("another body under a good signature: not signed", () => {
    const other = enc.encode(JSON.stringify({ event: "git-sync-peer", from: "10.0.0.1:8080", hash: "b".repeat(40) }));
    expect(nudgeSigned(KEY, other, signature)).toBe(false);
  });
});

describe("newNonce", () => {
  it("is 128 random bits in hex, as NONCE accepts, and never the same twice", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => newNonce()));
    expect(seen.size).toBe(1000);
    for (const n of seen) expect(NONCE.test(n)).toBe(true);
  });

  it.each(["", "0123", "0123456789ABCDEF0123456789ABCDEF", `${NONCE_A}0`, `${NONCE_A}\n`, "g".repeat(32)])("NONCE refuses %j", (n) => {
    expect(NONCE.test(n)).toBe(false);
  });
});
