// The HTTP endpoint (behaviour.md 7), only when --http-bind is set.
//
// Upstream's routes:
//   /                 catch-all, any method: 503 "repo is not ready\n" until the first successful
//                     attempt of this process, then 200 forever (the liveness/readiness probe).
//   /metrics          with --http-metrics; otherwise the catch-all answers it.
//   /debug/pprof/...  with --http-pprof; otherwise the catch-all answers it.
// Ours, carved out of the catch-all (so a probe pointed at them by mistake no longer gets
// upstream's answer; nobody points a probe at these names by accident, and `/` is unchanged):
//   /readyz           like `/`, and also unready after --readiness-max-failures consecutive
//                     failures or when the last success is older than --readiness-max-age.
//   /status           JSON for people and `git-sync status` (src/http/status.ts).
//   /git/...          with --serve-git: the synced repository over git's smart HTTP, read-only
//                     (src/serve/, docs/serve.md).
//   POST /sync        the push trigger (push.ts, docs/push.md): a forge's push webhook, a CI job
//                     or `git-sync sync-now` asks for a sync without waiting for --period. Off
//                     (403) without --http-sync-secret-file: it never syncs on a request that
//                     does not prove it knows that secret.
import { parseBind } from "../lib/bind.ts";
import type { Server } from "bun";
import type { Config } from "../config/types.ts";
import { redactArgv } from "../config/index.ts";
import { scrub } from "../log/logger.ts";
import type { SyncState } from "../state/sync-state.ts";
import type { Logger } from "../log/logger.ts";
import { childArgv } from "../pid1/index.ts";
import { renderMetrics } from "../state/metrics.ts";
import { registerScrapeMetrics } from "./process-metrics.ts";
import { createPushTrigger } from "./push.ts";
import { readiness } from "./readiness.ts";
import { statusDocument } from "./status.ts";

export type HttpConfig = Pick<
  Config,
  "httpBind" | "httpMetrics" | "httpPprof" | "httpSyncSecretFile" | "httpSyncMinInterval" | "readinessMaxFailures" | "readinessMaxAge" | "repo" | "ref" | "root" | "link"
>;

export interface HttpDeps {
  state: SyncState;
  log: Logger;
  /** Wake the sync loop now (one slot: several requests before it wakes count as one). */
  requestSync: () => void;
  /** --serve-git: answers every request under /git (src/serve/mirror.ts). */
  gitMirror?: (req: Request, remote: string) => Promise<Response>;
  /** --peers (issue 23): answers POST /sync when it is a peer's nudge; null for any other request. */
  peerNudge?: (req: Request, remote: string) => Promise<Response> | null;
}

export interface HttpServer {
  port: number;
  stop(): void;
}

const TEXT = "text/plain; charset=utf-8";
const PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";
const PPROF = "/debug/pprof/";
const PPROF_INDEX = `git-sync (Bun) profiles; Go's profile, symbol and trace have no Bun equivalent here.

cmdline   the command line, arguments separated by NUL bytes
heap      JSON memory statistics: process.memoryUsage() and bun:jsc heapStats()
`;

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": TEXT, ...headers } });
}

async function heapReport(): Promise<Response> {
  const report: Record<string, unknown> = { memoryUsage: process.memoryUsage() };
  try {
    const jsc = await import("bun:jsc");
    report.heapStats = jsc.heapStats();
  } catch {
    // Not running on Bun's JSC; memoryUsage alone is still useful.
  }
  return Response.json(report);
}

function listen(host: string, port: number, fetch: (req: Request) => Response | Promise<Response>): Server<undefined> {
  // reusePort must be spelled out: with `development: false` Bun 1.4 binds with SO_REUSEPORT,
  // and a second instance on a busy port would silently share it instead of failing.
  // maxRequestBodySize stays Bun's (128 MiB): Bun streams bodies and drops what no handler reads,
  // and push.ts refuses a body over its own limit itself, so that the refusal is counted and logged.
  const serve = (hostname: string) => Bun.serve({ hostname, port, fetch, development: false, reusePort: false });
  if (host !== "") return serve(host);
  // ":port" is every interface: dual-stack "::" like Go, "0.0.0.0" where IPv6 is disabled.
  try {
    return serve("::");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw e;
    return serve("0.0.0.0");
  }
}

/** Starts listening before returning; a bind failure throws (the caller exits 1). */
export function startHttpServer(config: HttpConfig, deps: HttpDeps): HttpServer {
  const { host, port } = parseBind(config.httpBind);
  const { state } = deps;
  const push = createPushTrigger(config, deps);

  const handle = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (config.httpMetrics && path === "/metrics") {
      return new Response(renderMetrics(), { headers: { "Content-Type": PROMETHEUS } });
    }
    if (config.httpPprof && (path === "/debug/pprof" || path.startsWith(PPROF))) {
      // Go's ServeMux redirects a subtree root without its slash.
      if (path === "/debug/pprof") return new Response(null, { status: 301, headers: { Location: PPROF } });
      const name = path.slice(PPROF.length);
      if (name === "") return text(200, PPROF_INDEX);
      // Shown as the startup log shows the flags: no password, credential or URL user info.
      if (name === "cmdline") return text(200, redactArgv(childArgv()).map(scrub).join("\0"));
      if (name === "heap") return await heapReport();
      return text(404, "404 page not found\n");
    }
    if (path === "/readyz") {
      const r = readiness(config, state);
      return r.ready ? new Response(null, { status: 200 }) : text(503, r.reason + "\n");
    }
    if (path === "/status") {
      return Response.json(statusDocument(config, state), { headers: { "Cache-Control": "no-store" } });
    }
    if (path === "/sync") {
      const remote = server.requestIP(req)?.address ?? "";
      return await (deps.peerNudge?.(req, remote) ?? push.handle(req, remote));
    }
    if (deps.gitMirror && (path === "/git" || path.startsWith("/git/"))) return await deps.gitMirror(req, server.requestIP(req)?.address ?? "");
    return state.ready ? new Response(null, { status: 200 }) : text(503, "repo is not ready\n");
  };

  const server = listen(host, port, handle);
  const unregister = config.httpMetrics ? registerScrapeMetrics(state) : () => {};

  const reasons = ["liveness"];
  if (config.httpMetrics) reasons.push("metrics");
  if (config.httpPprof) reasons.push("pprof");
  if (deps.gitMirror) reasons.push("git mirror at /git");
  deps.log.info("serving HTTP", { endpoint: config.httpBind, reasons });

  return {
    port: server.port ?? port,
    stop() {
      unregister();
      push.stop();
      void server.stop(true);
    },
  };
}
