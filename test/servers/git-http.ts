// Git smart HTTP on 127.0.0.1: `git http-backend` (CGI) behind Bun.serve, with HTTP basic auth
// checked by a function the test can change at any time (password rotation), and optional TLS.
// Smart HTTP, not dumb: --depth needs the shallow capability of upload-pack.

export interface GitHTTPServer {
  /** e.g. "http://127.0.0.1:12345" (no trailing slash); repos are <url>/<path under projectRoot>. */
  url: string;
  port: number;
  /** Replace the user → password table (basic auth); an empty table means no auth at all. */
  users: Map<string, string>;
  /** Every request seen: method, path, the user that authenticated ("" if none), the status sent and what git asked. */
  requests: Array<{ method: string; path: string; user: string; status: number; kind: RequestKind }>;
  /** Non-zero: answer every request with this status (e.g. 503), after recording it and its user: the host is down. */
  unavailable: number;
  stop(): void;
}

export interface GitHTTPOptions {
  /** Directory holding bare repos (GIT_PROJECT_ROOT). */
  projectRoot: string;
  users?: Record<string, string>;
  /** PEM cert and key: serve https instead of http. */
  tls?: { cert: string; key: string };
  /** Bind to this hostname (default 127.0.0.1). */
  hostname?: string;
  /** Instead of the users table: decide per request (e.g. accept the current GitHub token). */
  check?: (user: string, pass: string) => boolean;
  /** Hold every response this long (keeps git's processes alive for the process-list scan). */
  delayMs?: number;
  /** False: ignore the Git-Protocol header, so http-backend answers protocol v0 only (an older server). */
  protocolV2?: boolean;
}

/**
 * What a request asked of upload-pack: the advertisement (GET info/refs), the ref listing of a
 * poll (v2 ls-refs), objects (v2 `command=fetch`, or a v0 `want`), or something else.
 */
export type RequestKind = "advertisement" | "ls-refs" | "fetch" | "other";

function requestKind(method: string, path: string, body: Uint8Array<ArrayBuffer>, encoding: string | null): RequestKind {
  if (method === "GET" && path.endsWith("/info/refs")) return "advertisement";
  if (method !== "POST" || !path.endsWith("/git-upload-pack")) return "other";
  let text: string;
  try {
    text = new TextDecoder().decode(encoding === "gzip" ? Bun.gunzipSync(body) : body);
  } catch {
    return "other";
  }
  if (text.includes("command=ls-refs")) return "ls-refs";
  if (text.includes("command=fetch") || /^[0-9a-f]{4}want /.test(text)) return "fetch";
  return "other";
}

function basicUser(header: string | null): { user: string; pass: string } | null {
  if (!header?.startsWith("Basic ")) return null;
  const text = Buffer.from(header.slice(6), "base64").toString("utf8");
  const i = text.indexOf(":");
  return i < 0 ? null : { user: text.slice(0, i), pass: text.slice(i + 1) };
}

export function startGitHTTP(opts: GitHTTPOptions): GitHTTPServer {
  const users = new Map(Object.entries(opts.users ?? {}));
  const requests: GitHTTPServer["requests"] = [];
  let unavailable = 0;
  const server = Bun.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: 0,
    ...(opts.tls ? { tls: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      // A POST's kind is known once its body is read (after authentication).
      const entry = { method: req.method, path: url.pathname, user: "", status: 0, kind: requestKind(req.method, url.pathname, new Uint8Array(), null) };
      requests.push(entry);
      if (opts.delayMs) await Bun.sleep(opts.delayMs);
      if (users.size > 0 || opts.check) {
        const cred = basicUser(req.headers.get("authorization"));
        const ok = cred !== null && (opts.check ? opts.check(cred.user, cred.pass) : users.get(cred.user) === cred.pass);
        if (!cred || !ok) {
          entry.status = 401;
          return new Response("unauthorized\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="git"' } });
        }
        entry.user = cred.user;
      }
      const body = new Uint8Array(await req.arrayBuffer());
      entry.kind = requestKind(req.method, url.pathname, body, req.headers.get("content-encoding"));
      if (unavailable !== 0) {
        entry.status = unavailable;
        return new Response("unavailable\n", { status: unavailable });
      }
      const cgi = await runHttpBackend(req, body, { projectRoot: opts.projectRoot, user: entry.user, protocolV2: opts.protocolV2 });
      entry.status = cgi.status;
      return new Response(cgi.body, { status: cgi.status, headers: cgi.headers });
    },
  });
  const scheme = opts.tls ? "https" : "http";
  return {
    url: `${scheme}://${opts.hostname ?? "127.0.0.1"}:${server.port}`,
    port: server.port!,
    users,
    requests,
    get unavailable() {
      return unavailable;
    },
    set unavailable(status: number) {
      unavailable = status;
    },
    stop: () => void server.stop(true),
  };
}

/** A `git http-backend` answer: the CGI's status, headers and body. */
export interface BackendAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array<ArrayBuffer>;
}

/**
 * The CGI environment `git http-backend` needs for one request: smart HTTP for every repo under
 * `projectRoot`, the Git-Protocol header (unless `protocolV2` is false: a v0-only server), and the
 * body's Content-Encoding (null: the body was decoded already).
 */
export function cgiEnv(req: Request, bodyLength: number, o: { projectRoot: string; user?: string; protocolV2?: boolean; contentEncoding?: string | null }): Record<string, string> {
  const url = new URL(req.url);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    GIT_PROJECT_ROOT: o.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ""),
    REQUEST_METHOD: req.method,
    CONTENT_TYPE: req.headers.get("content-type") ?? "",
    CONTENT_LENGTH: String(bodyLength),
    REMOTE_USER: o.user ?? "",
    REMOTE_ADDR: "127.0.0.1",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
  };
  const proto = req.headers.get("git-protocol");
  if (proto && o.protocolV2 !== false) env.GIT_PROTOCOL = proto;
  const enc = o.contentEncoding === undefined ? req.headers.get("content-encoding") : o.contentEncoding;
  if (enc) env.HTTP_CONTENT_ENCODING = enc;
  return env;
}

/** A CGI answer's header block (before the blank line): its Status and the other headers. */
export function parseCgiHead(head: Uint8Array): { status: number; headers: Headers } {
  const headers = new Headers();
  let status = 200;
  for (const line of new TextDecoder().decode(head).split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
    else headers.append(k, v);
  }
  return { status, headers };
}

/**
 * Runs `git http-backend` (CGI) for one request whose body was read already: the environment
 * smart HTTP needs, the Git-Protocol header (unless `protocolV2` is false: a v0-only server),
 * then the CGI output split into status, headers and body (500 when it is not CGI output).
 */
export async function runHttpBackend(
  req: Request,
  body: Uint8Array,
  o: { projectRoot: string; user?: string; protocolV2?: boolean; /** null: the body was decoded already. */ contentEncoding?: string | null },
): Promise<BackendAnswer> {
  const env = cgiEnv(req, body.length, o);
  const proc = Bun.spawn(["git", "http-backend"], { env, stdin: body, stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  const bytes = new Uint8Array(out);
  // CGI response: headers, a blank line (LF LF or CRLF CRLF, whichever comes first), the body.
  const crlf = bytes.findIndex((_, i) => bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10);
  const lf = bytes.findIndex((_, i) => bytes[i] === 10 && bytes[i + 1] === 10);
  const [end, sep] = crlf >= 0 && (lf < 0 || crlf < lf) ? [crlf, 4] : [lf, 2];
  if (end < 0) return { status: 500, headers: new Headers(), body: new TextEncoder().encode("bad CGI output\n") };
  const { status, headers } = parseCgiHead(bytes.slice(0, end));
  return { status, headers, body: bytes.slice(end + sep) };
}

/**
 * In front of a smart-HTTP server at `target`: every request under /old/ is redirected there
 * (302), as some hosts do. git follows it; git-sync's in-process poll does not.
 */
export function startRedirectProxy(target: string): { url: string; stop(): void } {
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname.startsWith("/old/")) return Response.redirect(`${target}${url.pathname.slice(4)}${url.search}`, 302);
      return new Response("not found\n", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${proxy.port}/old`, stop: () => void proxy.stop(true) };
}
