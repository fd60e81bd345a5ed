// Secrets kept in files, and HMAC-SHA256 request signatures. The password file (auth), the
// webhook's signing key (hooks) and the POST /sync key (http) are all read here, at each use,
// so a rotated Kubernetes Secret needs no restart. The signature format is GitHub's: "sha256=<hex>".
import { readFileSync, statSync } from "node:fs";
import { registerSecret } from "../log/logger.ts";

/**
 * `echo secret > file` and Secrets created from literals end with a newline that is not part of
 * the secret; for a password it is the credential protocol's terminator (behaviour.md 6.1).
 */
export function stripOneNewline(s: string): string {
  if (s.endsWith("\r\n")) return s.slice(0, -2);
  if (s.endsWith("\n")) return s.slice(0, -1);
  return s;
}

/** The file's content less one trailing newline; registered with the logger so it is never printed. */
export function readSecretFile(path: string, what: string): string {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    // The error names the path only, never content.
    throw new Error(`can't read ${what} ${JSON.stringify(path)}: ${(e as Error).message}`, { cause: e });
  }
  const secret = stripOneNewline(raw);
  registerSecret(secret);
  return secret;
}

/** A key to sign or verify with: like readSecretFile, but an empty key signs nothing. */
export function readSigningKey(path: string, what: string): string {
  const key = readSecretFile(path, what);
  if (key === "") throw new Error(`${what} ${JSON.stringify(path)} is empty`);
  return key;
}

export function signBody(secret: string, body: string | Uint8Array): string {
  // Bun's native hasher rather than node:crypto, whose module graph costs ~6 ms at every start.
  // It throws an OpenSSL error that an earlier failed operation left on the thread's queue (a key
  // that did not parse: a rotated GitHub App key, a crafted signature's key), and that throw
  // drains the queue: one more try is the real answer, so /sync and webhooks are not refused.
  const hmac = () => "sha256=" + new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");
  try {
    return hmac();
  } catch {
    return hmac();
  }
}

/** Constant-time comparison, so a caller cannot find a valid signature byte by byte. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** The secret file, re-read when it changes (a rotated Kubernetes Secret swaps the file). */
export class SecretFile {
  private stamp = "";
  private digest = "";
  constructor(
    private readonly path: string,
    private readonly flag: string,
  ) {}

  /** The secret's SHA-256 (hex), or an Error when the file cannot give one. */
  current(): string | Error {
    try {
      let st;
      try {
        st = statSync(this.path);
      } catch (e) {
        throw new Error(`can't read ${this.flag} ${JSON.stringify(this.path)}: ${(e as Error).message}`, { cause: e });
      }
      // The ctime too: a writer that keeps the mtime (cp -p, touch -r) still changes it.
      const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (stamp !== this.stamp) {
        const secret = readSecretFile(this.path, this.flag);
        if (secret === "") return new Error(`${this.flag} ${JSON.stringify(this.path)} is empty`);
        this.digest = sha256(secret);
        // It signs and proves as the secret does between --peers replicas: never shown either.
        registerSecret(this.digest);
        // As git does with racily clean files: a file changed within the last second may change
        // again within the same timestamp tick (coarse on many kernels), so it is read again.
        this.stamp = Date.now() - st.ctimeMs < 1000 ? "" : stamp;
      }
      return this.digest;
    } catch (e) {
      this.stamp = "";
      return e as Error;
    }
  }

}

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
