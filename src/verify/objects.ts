// Splitting a commit or tag object into the signed payload and its signature, byte for byte as
// git does (gpg-interface.c parse_signed_buffer, commit.c parse_buffer_signed_by_header), so a
// verdict here is the verdict `git verify-commit` / `git verify-tag` would give.
//
// Objects are handled as latin1 strings: one char per byte, so nothing is lost to UTF-8
// decoding and `bytes()` gives back exactly what git hashed.

export interface SignedObject {
  /** What the signature covers. */
  payload: Uint8Array;
  /** The armored signature, "" when the object is unsigned. */
  signature: string;
  /** Committer (commit) or tagger (tag) time in seconds, what git hands ssh-keygen as -Overify-time; null if absent. */
  timestamp: number | null;
}

export function bytes(latin1: string): Uint8Array {
  return Uint8Array.from(latin1, (c) => c.charCodeAt(0));
}

export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** gpg-interface.c sigcheck formats: the first line of a signature names its kind. */
const SIGNATURE_STARTS = ["-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----", "-----BEGIN SIGNED MESSAGE-----", "-----BEGIN SSH SIGNATURE-----"];

export type SignatureFormat = "openpgp" | "x509" | "ssh" | "";

export function signatureFormat(sig: string): SignatureFormat {
  if (sig.startsWith("-----BEGIN PGP SIGNATURE-----") || sig.startsWith("-----BEGIN PGP MESSAGE-----")) return "openpgp";
  if (sig.startsWith("-----BEGIN SIGNED MESSAGE-----")) return "x509";
  if (sig.startsWith("-----BEGIN SSH SIGNATURE-----")) return "ssh";
  return "";
}

/** The seconds of a `committer`/`tagger` header line ("name <email> 1700000000 +0000"), as git's parse_payload_metadata. */
function headerTime(header: string, name: string): number | null {
  for (const line of header.split("\n")) {
    if (line === "") break;
    if (!line.startsWith(name + " ")) continue;
    const m = /> (\d+) [+-]\d{4}$/.exec(line);
    return m ? Number(m[1]) : null;
  }
  return null;
}

/**
 * A commit: the signature is the `gpgsig` header (`gpgsig-sha256` in a SHA-256 repo) with its
 * continuation lines (their leading space dropped); the payload is the object without them.
 */
export function splitCommit(object: string, sha256 = false): SignedObject {
  const header = sha256 ? "gpgsig-sha256 " : "gpgsig ";
  let payload = "";
  let signature = "";
  let inSig = false;
  let pos = 0;
  while (pos < object.length) {
    let next = object.indexOf("\n", pos);
    next = next < 0 ? object.length : next + 1;
    // The header ends at the first empty line; the message is payload, whatever it says.
    if (object[pos] === "\n") next = object.length;
    const line = object.slice(pos, next);
    if (inSig && line.startsWith(" ")) {
      signature += line.slice(1);
    } else if (line.startsWith(header)) {
      signature += line.slice(header.length);
      inSig = true;
    } else {
      inSig = false;
      payload += line;
    }
    pos = next;
  }
  return { payload: bytes(payload), signature, timestamp: headerTime(object, "committer") };
}

/** A tag: the signature is the last block that starts a line with a known signature marker. */
export function splitTag(object: string): SignedObject {
  let match = object.length;
  let pos = 0;
  while (pos < object.length) {
    if (SIGNATURE_STARTS.some((s) => object.startsWith(s, pos))) match = pos;
    const eol = object.indexOf("\n", pos);
    pos = eol < 0 ? object.length : eol + 1;
  }
  return { payload: bytes(object.slice(0, match)), signature: object.slice(match), timestamp: headerTime(object, "tagger") };
}

/** The `object <hash>` a tag points to. */
export function tagTarget(object: string): string {
  return /^object ([0-9a-f]{40,64})\n/.exec(object)?.[1] ?? "";
}

export interface BatchObject {
  oid: string;
  type: string;
  /** latin1: one char per byte. */
  content: string;
}

/**
 * `git cat-file --batch` output, one entry per line asked, in order: "<oid> <type> <size>\n<content>\n"
 * for an object, null for "<name> missing" (and for a name that does not peel as asked).
 */
export function readBatch(out: string): Array<BatchObject | null> {
  const objects: Array<BatchObject | null> = [];
  let pos = 0;
  while (pos < out.length) {
    const eol = out.indexOf("\n", pos);
    if (eol < 0) break;
    const head = out.slice(pos, eol).split(" ");
    pos = eol + 1;
    if (head.length !== 3) {
      objects.push(null);
      continue;
    }
    const [oid, type, size] = head as [string, string, string];
    const n = Number(size);
    objects.push({ oid, type, content: out.slice(pos, pos + n) });
    pos += n + 1;
  }
  return objects;
}
