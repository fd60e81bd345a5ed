// HMAC-SHA256 request signatures, shared by the webhook (which signs what it sends) and
// POST /sync (which checks what a forge sends). The format is GitHub's: "sha256=<hex>".
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { errorText, registerSecret } from "../log/logger.ts";

export function signBody(secret: string, body: string | Uint8Array): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/** Constant-time comparison, so a caller cannot find a valid signature byte by byte. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A secret file, read at each use so a rotated Secret needs no restart. `echo secret > file` and
 * Kubernetes secrets created from literals end with a newline the other side's copy lacks.
 * `what` names the file in errors, which never include its content.
 */
export function readSecretFile(path: string, what: string): string {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`can't read ${what}: ${errorText(e)}`, { cause: e });
  }
  const secret = raw.replace(/\r?\n$/, "");
  if (secret === "") throw new Error(`${what} ${path} is empty`);
  registerSecret(secret);
  return secret;
}
