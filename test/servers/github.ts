// A GitHub-API-shaped installation token endpoint:
//   POST /app/installations/<id>/access_tokens  (Authorization: Bearer <RS256 JWT>)
// It verifies the JWT signature with the app's public key and the claims (iss, iat, exp), then
// answers 201 {"token", "expires_at"}. Each call mints a new token.
import { generateKeyPairSync } from "node:crypto";

export interface GitHubServer {
  /** Base URL with a trailing slash, like https://api.github.com/. */
  url: string;
  /** Tokens handed out so far (the last one is current). */
  tokens: string[];
  /** Why the last rejected request was rejected. */
  lastError: string;
  /** Lifetime of new tokens. */
  ttlMs: number;
  stop(): void;
}

/** A fresh RSA key pair: PKCS#1 and PKCS#8 PEMs of the private key, SPKI PEM of the public key. */
export function makeAppKey(): { pkcs1: string; pkcs8: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    pkcs1: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    pkcs8: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

async function importPublic(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return crypto.subtle.importKey("spki", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
}

export async function startGitHubServer(opts: { publicKey: string; issuer: string; installationID: number; ttlMs?: number }): Promise<GitHubServer> {
  const key = await importPublic(opts.publicKey);
  const state: GitHubServer = { url: "", tokens: [], lastError: "", ttlMs: opts.ttlMs ?? 3_600_000, stop: () => {} };
  const reject = (why: string, status = 401) => {
    state.lastError = why;
    return new Response(JSON.stringify({ message: why }), { status });
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "POST" || path !== `/app/installations/${opts.installationID}/access_tokens`) return reject(`unexpected ${req.method} ${path}`, 404);
      if (req.headers.get("accept") !== "application/vnd.github+json") return reject("bad Accept header", 415);
      const auth = req.headers.get("authorization") ?? "";
      const jwt = auth.startsWith("Bearer ") ? auth.slice(7) : "";
      const [h, c, s] = jwt.split(".");
      if (!h || !c || !s) return reject("no JWT");
      const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, Buffer.from(s, "base64url"), new TextEncoder().encode(`${h}.${c}`));
      if (!ok) return reject("bad JWT signature");
      const header = JSON.parse(Buffer.from(h, "base64url").toString()) as { alg?: string; typ?: string };
      const claims = JSON.parse(Buffer.from(c, "base64url").toString()) as { iss?: string; iat?: number; exp?: number };
      const now = Date.now() / 1000;
      if (header.alg !== "RS256" || header.typ !== "JWT") return reject("bad JWT header");
      if (claims.iss !== opts.issuer) return reject(`bad iss ${claims.iss}`);
      if (!claims.iat || !claims.exp || claims.iat > now + 60 || claims.exp < now || claims.exp - claims.iat > 600) return reject("bad iat/exp");
      const token = `ghs_${crypto.randomUUID().replace(/-/g, "")}`;
      state.tokens.push(token);
      return new Response(JSON.stringify({ token, expires_at: new Date(Date.now() + state.ttlMs).toISOString() }), {
        status: 201,
        headers: { "Content-Type": "application/json" },
      });
    },
  });
  state.url = `http://127.0.0.1:${server.port}/`;
  state.stop = () => void server.stop(true);
  return state;
}
