// How peers prove to each other that they hold the --serve-git secret (issue 23). Every HMAC
// below is keyed with the secret's SHA-256 in hex (what lib/secrets.ts SecretFile gives), the
// digest the mirror compares credentials with; the secret itself never travels between peers.
//   - A follower's requests to a peer's /git carry a token made with it (serve/peer-token.ts):
//     for that peer's address, a few minutes, a poll or the objects of one fetch.
//   - The owner's in-process answers (its ref list, or "nothing published yet") carry a proof: an
//     HMAC over the follower's fresh nonce, the address the follower asked, the HTTP status, the
//     owner's freshness and the body. A host on the network that answers in the owner's place
//     cannot make one, nor pass off one another replica made, so a follower only ever follows an
//     answer the secret's holder at that address gave; it then fetches the object it named.
//   - Nudges (POST /sync) are signed over their body, which names the peer and the time.
import { sameSecret, signBody } from "../lib/secrets.ts";

/** A follower's random challenge for the owner's answer (hex). */
export const NONCE_HEADER = "GitSync-Peer-Nonce";
/** Milliseconds since the answering replica's content was last confirmed against the git host. */
export const AGE_HEADER = "GitSync-Peer-Age";
/** The ownership key's digest (rendezvous.ts): a replica of another repo or ref set is not an owner. */
export const KEY_HEADER = "GitSync-Peer-Key";
/** "sha256=<hex>" of answerProof. */
export const PROOF_HEADER = "GitSync-Peer-Proof";
/** "sha256=<hex>" of a nudge's body. */
export const SIGNATURE_HEADER = "GitSync-Peer-Signature-256";

const hex = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

/** The instance id a replica answers with: a follower that hears its own knows it asked itself. */
export const INSTANCE_HEADER = "GitSync-Peer-Instance";

/**
 * What an answer's proof is bound to besides the body: the follower's nonce, the peer it asked
 * (address:port, as the follower dialled it and as the peer knows itself) and the HTTP status. A
 * host at another address that relays the question to a real replica gets a proof for that
 * replica's address, which the follower refuses; a 200 cannot pass for a 503 or back.
 */
export function challenge(nonce: string, endpoint: string, status: number): string {
  return `${nonce}\n${endpoint}\n${status}`;
}

/** The proof an owner attaches to an answer to `nonce` (a challenge()); `key` is the secret's digest. */
export function answerProof(key: string, nonce: string, age: string, keyDigest: string, body: string | Uint8Array): string {
  return signBody(key, `git-sync peer answer\n${nonce}\n${age}\n${keyDigest}\n${hex(body)}\n`);
}

/** Whether `proof` is the proof of this answer (constant time). */
export function answerProven(key: string, nonce: string, age: string, keyDigest: string, body: string | Uint8Array, proof: string): boolean {
  return sameSecret(answerProof(key, nonce, age, keyDigest, body), proof);
}

/** The nudge's signature header value. */
export function signNudge(key: string, body: string | Uint8Array): string {
  return signBody(key, body);
}

/** Whether a nudge's signature is right (constant time); false without one. */
export function nudgeSigned(key: string, body: Uint8Array, header: string | null): boolean {
  return header !== null && sameSecret(signBody(key, body), header);
}

/** A fresh nonce: 128 random bits, hex. */
export function newNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
}

/** A nonce as a follower sends it; anything else gets no proof. */
export const NONCE = /^[0-9a-f]{32}$/;
