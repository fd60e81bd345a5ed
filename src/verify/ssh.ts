// SSH signatures (SSHSIG, https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.sshsig)
// checked in-process against an allowed_signers file (ssh-keygen(1) "ALLOWED SIGNERS"), as git
// does with `ssh-keygen -Y find-principals` + `-Y verify -n git -Overify-time=<committer time>`.
// The image has no ssh-keygen; node:crypto verifies ed25519, ECDSA and RSA (rsa-sha2-*) itself.
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";

export interface AllowedSigner {
  line: number;
  principals: string;
  /** The public key's wire blob (what the signature embeds). */
  blob: Uint8Array;
  namespaces: string | null;
  /** Seconds since the epoch; null = unbounded. */
  validAfter: number | null;
  validBefore: number | null;
}

/** A line we cannot use, with where it is: the startup error names the file and line. */
export class AllowedSignersError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const SUPPORTED = new Set(["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"]);

function isKeyType(token: string): boolean {
  return /^(?:ssh-|ecdsa-|sk-|x509v3-|rsa-)/.test(token);
}

/** One whitespace-separated token, double quotes protecting spaces (misc.c strdelimw). */
function takeToken(s: string, pos: number): [string, number] {
  let i = pos;
  let quoted = false;
  while (i < s.length && (quoted || (s[i] !== " " && s[i] !== "\t"))) {
    if (s[i] === '"') quoted = !quoted;
    i++;
  }
  if (quoted) throw new Error("unterminated quote");
  return [s.slice(pos, i), i];
}

function skipSpace(s: string, pos: number): number {
  while (pos < s.length && (s[pos] === " " || s[pos] === "\t")) pos++;
  return pos;
}

/**
 * misc.c parse_absolute_time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time unless it ends
 * in Z (git hands ssh-keygen the committer time in local time too, so both sides agree).
 */
export function parseSSHTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?([Zz])?$/.exec(text);
  if (!m) throw new Error(`invalid time "${text}" (want YYYYMMDD[HHMM[SS]][Z])`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", z] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = z ? Date.UTC(...parts) : new Date(...parts).getTime();
  if (Number.isNaN(ms)) throw new Error(`invalid time "${text}"`);
  return Math.floor(ms / 1000);
}

/** sshsig.c sshsigopt_parse: cert-authority, namespaces, valid-after, valid-before; anything else is refused. */
function parseOptions(text: string, signer: AllowedSigner): void {
  let pos = 0;
  while (pos < text.length) {
    const m = /^([A-Za-z-]+)(?:="((?:[^"\\]|\\.)*)")?(?:,|$)/.exec(text.slice(pos));
    if (!m) throw new Error(`can't parse options "${text.slice(pos)}"`);
    const [all, name, value] = m as unknown as [string, string, string | undefined];
    pos += all.length;
    const lower = name.toLowerCase();
    if (lower === "cert-authority") throw new Error("cert-authority is not supported (only plain public keys)");
    if (lower !== "namespaces" && lower !== "valid-after" && lower !== "valid-before") throw new Error(`unsupported option ${name}`);
    if (value === undefined) throw new Error(`option ${name} needs a quoted value`);
    if (lower === "namespaces") signer.namespaces = value;
    else if (lower === "valid-after") signer.validAfter = parseSSHTime(value);
    else signer.validBefore = parseSSHTime(value);
  }
}

/** The allowed_signers file: `principals [options] keytype base64 [comment]` per line; # comments. */
export function parseAllowedSigners(text: string): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    let pos = skipSpace(raw, 0);
    if (pos === raw.length || raw[pos] === "#") continue;
    try {
      let principals: string;
      [principals, pos] = takeToken(raw, pos);
      pos = skipSpace(raw, pos);
      const signer: AllowedSigner = { line: i + 1, principals: principals.replace(/"/g, ""), blob: new Uint8Array(), namespaces: null, validAfter: null, validBefore: null };
      let token: string;
      [token, pos] = takeToken(raw, pos);
      if (token === "") throw new Error("no public key");
      if (!isKeyType(token)) {
        parseOptions(token, signer);
        pos = skipSpace(raw, pos);
        [token, pos] = takeToken(raw, pos);
        if (token === "") throw new Error("no public key after the options");
      }
      if (!SUPPORTED.has(token)) throw new Error(isKeyType(token) ? `unsupported key type ${token}` : `expected a key type, found "${token}"`);
      pos = skipSpace(raw, pos);
      let b64: string;
      [b64, pos] = takeToken(raw, pos);
      if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) throw new Error("the public key is not base64");
      signer.blob = Uint8Array.from(Buffer.from(b64, "base64"));
      const parsed = publicKey(signer.blob);
      if (parsed.type !== token) throw new Error(`key type ${token} does not match the key (${parsed.type})`);
      out.push(signer);
    } catch (e) {
      throw new AllowedSignersError(i + 1, (e as Error).message);
    }
  }
  return out;
}

/** SSH wire format reader (RFC 4251 strings and uint32s). */
class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  u32(): number {
    if (this.pos + 4 > this.b.length) throw new Error("truncated");
    const v = ((this.b[this.pos]! << 24) | (this.b[this.pos + 1]! << 16) | (this.b[this.pos + 2]! << 8) | this.b[this.pos + 3]!) >>> 0;
    this.pos += 4;
    return v;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    if (this.pos + n > this.b.length) throw new Error("truncated");
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  string(): string {
    return Buffer.from(this.bytes()).toString("latin1");
  }
  raw(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new Error("truncated");
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  done(): boolean {
    return this.pos === this.b.length;
  }
}

function sshString(b: Uint8Array | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "latin1") : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
/** An mpint without its sign byte. */
const unsigned = (b: Uint8Array) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

const CURVES: Record<string, { crv: string; size: number; hash: string }> = {
  nistp256: { crv: "P-256", size: 32, hash: "sha256" },
  nistp384: { crv: "P-384", size: 48, hash: "sha384" },
  nistp521: { crv: "P-521", size: 66, hash: "sha512" },
};

interface SSHPublicKey {
  type: string;
  key: KeyObject;
  /** For ECDSA: the curve's point size and hash. */
  curve?: { size: number; hash: string };
}

/** A KeyObject from the wire blob, through JWK (node:crypto reads no SSH formats). */
export function publicKey(blob: Uint8Array): SSHPublicKey {
  const r = new Reader(blob);
  const type = r.string();
  if (type === "ssh-ed25519") {
    const x = r.bytes();
    if (x.length !== 32) throw new Error("bad ed25519 key");
    return { type, key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(x) }, format: "jwk" }) };
  }
  if (type.startsWith("ecdsa-sha2-")) {
    const name = r.string();
    const curve = CURVES[name];
    if (!curve || type !== `ecdsa-sha2-${name}`) throw new Error(`bad ${type} key`);
    const q = r.bytes();
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4) throw new Error(`bad ${type} point`);
    const x = b64url(q.subarray(1, 1 + curve.size));
    const y = b64url(q.subarray(1 + curve.size));
    return { type, key: createPublicKey({ key: { kty: "EC", crv: curve.crv, x, y }, format: "jwk" }), curve };
  }
  if (type === "ssh-rsa") {
    const e = unsigned(r.bytes());
    const n = unsigned(r.bytes());
    return { type, key: createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e) }, format: "jwk" }) };
  }
  throw new Error(`unsupported key type ${type}`);
}

/** `ssh-keygen -l` style: SHA256:<unpadded base64 of the blob's SHA-256>. */
export function fingerprint(blob: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

export type SSHVerdict =
  | { result: "good"; fingerprint: string; principal: string }
  | { result: "bad-signature" | "unknown-key" | "wrong-namespace" | "outside-validity"; fingerprint: string; reason: string };

/** The armored SSHSIG block -> its binary blob. */
function unarmor(armored: string): Uint8Array {
  const m = /-----BEGIN SSH SIGNATURE-----\r?\n([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (!m) throw new Error("no SSH SIGNATURE block");
  return Uint8Array.from(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

/** RFC 4251 mpint pair (r, s) -> IEEE P1363 r||s of the curve's size. */
function ecdsaSig(sig: Uint8Array, size: number): Buffer {
  const r = new Reader(sig);
  const parts = [unsigned(r.bytes()), unsigned(r.bytes())];
  if (parts.some((p) => p.length > size)) throw new Error("bad ECDSA signature");
  return Buffer.concat(parts.map((p) => Buffer.concat([Buffer.alloc(size - p.length), p])));
}

function matchPattern(s: string, pattern: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(s);
}

/** match.c match_pattern_list: comma-separated globs, `!` negates and wins. */
export function matchPatternList(s: string, list: string): boolean {
  let found = false;
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(s, pattern)) {
      if (negated) return false;
      found = true;
    }
  }
  return found;
}

/**
 * Verify an SSHSIG over `payload` for namespace "git", then look the key up in `signers` as
 * ssh-keygen does at `time` (seconds; git's -Overify-time, or now without one).
 */
export function verifySSH(payload: Uint8Array, armored: string, signers: readonly AllowedSigner[], time: number): SSHVerdict {
  let fp = "";
  try {
    const r = new Reader(unarmor(armored));
    if (Buffer.from(r.raw(6)).toString("latin1") !== "SSHSIG") throw new Error("not an SSHSIG blob");
    if (r.u32() !== 1) throw new Error("unsupported SSHSIG version");
    const blob = r.bytes();
    fp = fingerprint(blob);
    const namespace = r.string();
    const reserved = r.bytes();
    const hashAlg = r.string();
    const sigBlob = r.bytes();
    if (!r.done()) throw new Error("trailing data after the signature");
    if (hashAlg !== "sha256" && hashAlg !== "sha512") throw new Error(`unsupported hash ${hashAlg}`);
    const key = publicKey(blob);
    const sr = new Reader(sigBlob);
    const sigType = sr.string();
    const sig = sr.bytes();
    const digest = createHash(hashAlg).update(payload).digest();
    const signed = Buffer.concat([Buffer.from("SSHSIG"), sshString(namespace), sshString(reserved), sshString(hashAlg), sshString(digest)]);
    let ok: boolean;
    if (key.type === "ssh-ed25519") {
      if (sigType !== "ssh-ed25519") throw new Error(`signature type ${sigType} for an ed25519 key`);
      ok = cryptoVerify(null, signed, key.key, sig);
    } else if (key.curve) {
      if (sigType !== key.type) throw new Error(`signature type ${sigType} for an ${key.type} key`);
      ok = cryptoVerify(key.curve.hash, signed, { key: key.key, dsaEncoding: "ieee-p1363" }, ecdsaSig(sig, key.curve.size));
    } else {
      // sshsig.c refuses SHA-1 ("ssh-rsa") signatures for RSA keys.
      const hash = sigType === "rsa-sha2-256" ? "sha256" : sigType === "rsa-sha2-512" ? "sha512" : "";
      if (hash === "") throw new Error(`RSA signature made with unsupported algorithm ${sigType}`);
      ok = cryptoVerify(hash, signed, key.key, sig);
    }
    if (!ok) return { result: "bad-signature", fingerprint: fp, reason: "the signature does not match the signed data" };
    if (namespace !== "git") return { result: "wrong-namespace", fingerprint: fp, reason: `signed for namespace "${namespace}", not "git"` };
    const lines = signers.filter((s) => Buffer.from(s.blob).equals(Buffer.from(blob)));
    if (lines.length === 0) return { result: "unknown-key", fingerprint: fp, reason: `key ${fp} is not in the allowed signers` };
    const inNamespace = lines.filter((s) => s.namespaces === null || matchPatternList("git", s.namespaces));
    if (inNamespace.length === 0) return { result: "wrong-namespace", fingerprint: fp, reason: `key ${fp} is not allowed to sign namespace "git" (line ${lines[0]!.line})` };
    const valid = inNamespace.find((s) => (s.validAfter === null || time >= s.validAfter) && (s.validBefore === null || time <= s.validBefore));
    if (!valid) {
      const when = new Date(time * 1000).toISOString();
      return { result: "outside-validity", fingerprint: fp, reason: `key ${fp} is not valid at the signature's time ${when} (line ${inNamespace[0]!.line})` };
    }
    return { result: "good", fingerprint: fp, principal: valid.principals };
  } catch (e) {
    return { result: "bad-signature", fingerprint: fp, reason: `can't read the SSH signature: ${(e as Error).message}` };
  }
}
