// GitHub App installation tokens (behaviour.md 6.4): a JWT signed RS256 with WebCrypto, exchanged
// at <base>/app/installations/<id>/access_tokens for a token used as the repo's password.
import { readFileSync } from "node:fs";
import { readBounded } from "../lib/bounded-body.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { goQuote } from "../lib/go.ts";
import { redactURLsInText } from "../log/redact.ts";

/** A failure that upstream turns into exit 1 on the spot, not a failed attempt. */
export class FatalAuthError extends Error {}

export interface GitHubAppConfig {
  baseURL: string;
  privateKey: string;
  privateKeyFile: string;
  applicationID: number;
  clientID: string;
  installationID: number;
}

export interface InstallationToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export function githubAppEnabled(c: GitHubAppConfig): boolean {
  return (c.privateKey !== "" || c.privateKeyFile !== "") && c.installationID !== 0 && (c.applicationID !== 0 || c.clientID !== "");
}

/** The key file is re-read at each refresh; an unreadable file is fatal (exit 1), as upstream. */
export function readPrivateKey(c: GitHubAppConfig): string {
  if (c.privateKeyFile === "") return c.privateKey;
  try {
    return readFileSync(c.privateKeyFile, "utf8");
  } catch (e) {
    throw new FatalAuthError("can't read private key file", { cause: e });
  }
}

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return Buffer.from(bytes).toString("base64url");
}

// DER length octets: short form below 128, else 0x80|n followed by n big-endian bytes.
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n >>= 8;
  }
  return [0x80 | out.length, ...out];
}

function der(tag: number, body: Uint8Array): Uint8Array {
  return new Uint8Array([tag, ...derLength(body.length), ...body]);
}

/**
 * WebCrypto imports only PKCS#8, while GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY") keys:
 * wrap it as PrivateKeyInfo { version 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING pkcs1 }.
 */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = new Uint8Array([0x02, 0x01, 0x00]);
  // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
  const algorithm = new Uint8Array([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  const key = der(0x04, pkcs1);
  const body = new Uint8Array(version.length + algorithm.length + key.length);
  body.set(version, 0);
  body.set(algorithm, version.length);
  body.set(key, version.length + algorithm.length);
  return der(0x30, body);
}

export async function importRSAPrivateKey(pem: string): Promise<CryptoKey> {
  const m = /-----BEGIN (RSA )?PRIVATE KEY-----([\s\S]*?)-----END \1?PRIVATE KEY-----/.exec(pem);
  if (!m) throw new Error("can't parse private key: no RSA PEM block (PKCS#1 or PKCS#8) found");
  const raw = new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64"));
  const pkcs8 = m[1] ? pkcs1ToPkcs8(raw) : raw;
  try {
    return await crypto.subtle.importKey("pkcs8", pkcs8 as Uint8Array<ArrayBuffer>, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  } catch (e) {
    throw new Error(`can't parse private key: ${(e as Error).message}`, { cause: e });
  }
}

/** RS256 JWT: iss = client-id if set, else the application id; iat = now; exp = now + 10 min. */
export async function signAppJWT(key: CryptoKey, iss: string, nowSec = Math.floor(Date.now() / 1000)): Promise<string> {
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const claims = b64url(JSON.stringify({ iss, exp: nowSec + 600, iat: nowSec }));
  const input = `${header}.${claims}`;
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

/** The token, its expiry and permissions fit in a few KiB; a list of repositories in some more. */
export const MAX_TOKEN_ANSWER = 1 << 20;

/** url.JoinPath semantics for the one path we need: exactly one "/" between base and the rest. */
export function tokenURL(baseURL: string, installationID: number): string {
  return `${baseURL.replace(/\/+$/, "")}/app/installations/${installationID}/access_tokens`;
}

/** `onSecret` gets each secret handled here (the key as read, each line of its body, the JWT) for the log's scrubber. */
export async function fetchInstallationToken(c: GitHubAppConfig, deadline: number, onSecret: (secret: string) => void): Promise<InstallationToken> {
  const pem = readPrivateKey(c);
  for (const s of [pem, ...pem.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"))]) onSecret(s.trim());
  const key = await importRSAPrivateKey(pem);
  const jwt = await signAppJWT(key, c.clientID !== "" ? c.clientID : String(c.applicationID));
  onSecret(jwt);
  // The sync deadline bounds the call, as upstream's request context does.
  const client = createHttpClient({ timeoutMs: Math.max(1, deadline - Date.now()) });
  let res;
  try {
    res = await client.raw(tokenURL(c.baseURL, c.installationID), {
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}`, Accept: "application/vnd.github+json" },
      responseType: "stream",
    });
  } catch (e) {
    throw new Error(`can't request GitHub app installation token: ${redactURLsInText((e as Error).message)}`, { cause: e });
  }
  let body: string;
  try {
    body = new TextDecoder().decode(await readBounded(res, { maxBytes: MAX_TOKEN_ANSWER, deadline, what: "the token endpoint's answer" }));
  } catch (e) {
    throw new Error(`can't read GitHub app installation token response: ${(e as Error).message}`, { cause: e });
  }
  if (res.status !== 201) throw new Error(`GitHub app installation endpoint returned status ${res.status}, body: ${goQuote(body)}`);
  let parsed: { token?: unknown; expires_at?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch (e) {
    throw new Error(`can't parse GitHub app installation token response: ${(e as Error).message}`, { cause: e });
  }
  const expiresAt = typeof parsed.expires_at === "string" ? Date.parse(parsed.expires_at) : NaN;
  if (typeof parsed.token !== "string" || parsed.token === "" || Number.isNaN(expiresAt)) {
    throw new Error("can't parse GitHub app installation token response: missing token or expires_at");
  }
  return { token: parsed.token, expiresAt };
}
