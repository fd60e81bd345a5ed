// OpenPGP signatures checked in-process with OpenPGP.js (the image has no gpg). The library is
// imported on first use, so a git-sync without --trusted-keys-file never loads it. It is not even
// part of the main module: OpenPGP.js is 420 KB of a 590 KB bundle, and every start (`--version`
// included) paid about 3 ms to load its bytecode. scripts/build.ts embeds openpgp-lib.ts as a
// module of its own, and the specifier below is a variable so that the bundler leaves it out.
//
// Verdicts follow what `git verify-commit` makes of gpg's status lines (gpg-interface.c): only
// GOODSIG passes; a key that is expired now (EXPKEYSIG) or revoked (REVKEYSIG) fails, although
// the signature itself is good; a key not in the keyring (NO_PUBKEY) fails.
import type { Key } from "openpgp";

type OpenPGP = typeof import("openpgp");
let lib: Promise<OpenPGP> | null = null;
// Run from source, this resolves from src/verify/openpgp.ts. In the executable a dynamic import
// resolves from the main module (/$bunfs/root/git-sync), and the embedded entry keeps its path
// below src/. (import.meta.dir would not tell: the bundler writes in the source path.)
const LIB = Bun.main.startsWith("/$bunfs/") ? "./verify/openpgp-lib.ts" : "./openpgp-lib.ts";
const load = () => (lib ??= import(LIB) as Promise<OpenPGP>);

export type PGPVerdict =
  | { result: "good"; fingerprint: string; signer: string }
  | { result: "bad-signature" | "unknown-key" | "key-expired"; fingerprint: string; reason: string };

export class TrustedKeysError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/** Every armored public key block in the file (several may be concatenated, as `gpg --export --armor a b` writes one). */
export async function parseTrustedKeys(text: string): Promise<Key[]> {
  const { readKeys } = await load();
  const keys: Key[] = [];
  let pos = text.indexOf(BEGIN);
  if (pos < 0) throw new TrustedKeysError(1, `no "${BEGIN}" found: the file must hold ASCII-armored OpenPGP public keys`);
  while (pos >= 0) {
    const end = text.indexOf(BEGIN, pos + BEGIN.length);
    const block = text.slice(pos, end < 0 ? undefined : end);
    const line = text.slice(0, pos).split("\n").length;
    try {
      const read = await readKeys({ armoredKeys: block });
      for (const k of read) if (k.isPrivate()) throw new Error("holds a private key; give public keys only");
      keys.push(...read);
    } catch (e) {
      throw new TrustedKeysError(line, `can't read the key block: ${(e as Error).message}`);
    }
    pos = end;
  }
  return keys;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

export async function verifyPGP(payload: Uint8Array, armored: string, keys: readonly Key[]): Promise<PGPVerdict> {
  const openpgp = await load();
  let signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: armored });
  } catch (e) {
    return { result: "bad-signature", fingerprint: "", reason: `can't read the OpenPGP signature: ${(e as Error).message}` };
  }
  const packet = signature.packets[0];
  const ids = signature.getSigningKeyIDs();
  const fp = packet?.issuerFingerprint ? hex(packet.issuerFingerprint) : (ids[0]?.toHex().toUpperCase() ?? "");
  const key = keys.find((k) => ids.some((id) => k.getKeys(id).length > 0));
  if (!key) return { result: "unknown-key", fingerprint: fp, reason: `key ${fp || "(no issuer)"} is not in the trusted keys` };
  const keyFp = key.getFingerprint().toUpperCase();
  try {
    const message = await openpgp.createMessage({ binary: payload });
    const r = await openpgp.verify({ message, signature, verificationKeys: [key], format: "binary" });
    await r.signatures[0]!.verified;
  } catch (e) {
    const msg = (e as Error).message;
    if (/expired/i.test(msg)) return { result: "key-expired", fingerprint: keyFp, reason: `key ${keyFp} had expired when it signed: ${msg}` };
    return { result: "bad-signature", fingerprint: keyFp, reason: `the signature by key ${keyFp} does not verify: ${msg}` };
  }
  // Good at signing time; gpg (and so git) also wants the key usable now.
  const id = ids.find((i) => key.getKeys(i).length > 0);
  try {
    await key.getSigningKey(id, new Date());
  } catch (e) {
    const msg = (e as Error).message;
    const expired = /expired/i.test(msg);
    return { result: expired ? "key-expired" : "bad-signature", fingerprint: keyFp, reason: `key ${keyFp} ${expired ? "has expired" : "can't sign now"}: ${msg}` };
  }
  return { result: "good", fingerprint: keyFp, signer: key.getUserIDs()[0] ?? keyFp };
}
