// `git-sync sync-now [--http-bind ADDR] [--secret-file FILE] [--pid N]`: ask the running
// instance to sync now.
//   1. With an endpoint and the push trigger's secret (flags, or the instance's --http-bind and
//      --http-sync-secret-file found by instance.ts): POST /sync with `Authorization: Bearer`.
//      The endpoint refuses unauthenticated requests, so without the secret there is no POST.
//   2. Otherwise, if the instance was started with --sync-on-signal, send that signal to PID 1
//      (or --pid). In a container PID 1 is git-sync's own init (src/pid1), which forwards it to
//      the syncing process.
// Exit: 0 requested, 1 the request failed, 2 no way to reach the instance.
import { resolveSignal } from "../config/index.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { readSigningKey } from "../lib/secrets.ts";
import { endpointURL, parseArgs, processIO, UsageError, type Env, type IO } from "./common.ts";
import { discoverInstance } from "./instance.ts";

export const SYNC_NOW_USAGE = `usage: git-sync sync-now [--http-bind ADDR] [--secret-file FILE] [--pid N]

Asks the git-sync instance in this container to sync now, without waiting for --period:
POST /sync on its endpoint with its --http-sync-secret-file as a bearer token, or else its
--sync-on-signal signal sent to PID 1 (or --pid). The flags override what is found from the
instance's command line and environment. Exit 2 when the instance has neither.
`;

async function post(bind: string, secretFile: string, io: IO): Promise<number> {
  const url = `${endpointURL(bind)}/sync`;
  let secret: string;
  try {
    secret = readSigningKey(secretFile, "sync secret file");
  } catch (e) {
    io.stderr(`git-sync sync-now: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const res = await createHttpClient({ timeoutMs: 5_000 }).raw(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}` },
      responseType: "text",
    });
    // 429: over the endpoint's request budget, but a sync is scheduled all the same (push.ts).
    if (res.status === 202 || res.status === 429) {
      io.stdout(`sync requested (POST ${url})\n`);
      return 0;
    }
    const said = typeof res._data === "string" ? res._data.trim() : "";
    io.stderr(`git-sync sync-now: POST ${url} answered ${res.status}${said ? `: ${said}` : ""}\n`);
  } catch (e) {
    io.stderr(`git-sync sync-now: POST ${url} failed: ${(e as Error).message}\n`);
  }
  return 1;
}

export async function runSyncNow(args: string[], env: Env, io: IO = processIO): Promise<number> {
  let opts: Record<string, string>;
  try {
    opts = parseArgs(args, ["http-bind", "secret-file", "pid"], ["help", "h"]);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`git-sync sync-now: ${e.message}\n${SYNC_NOW_USAGE}`);
    return 2;
  }
  if (opts.help || opts.h) {
    io.stdout(SYNC_NOW_USAGE);
    return 0;
  }

  const pid = Number(opts.pid ?? 1);
  if (!Number.isInteger(pid) || pid < 1) {
    io.stderr(`git-sync sync-now: invalid --pid ${opts.pid}\n`);
    return 2;
  }
  const inst = discoverInstance(env, pid);
  const bind = opts["http-bind"] ?? inst.httpBind;
  const secretFile = opts["secret-file"] ?? inst.httpSyncSecretFile;
  if (bind && secretFile) return await post(bind, secretFile, io);

  const raw = inst.syncOnSignal;
  if (!raw) {
    const why = bind ? "the instance's POST /sync is off (no --http-sync-secret-file)" : "the instance serves no endpoint (no --http-bind)";
    io.stderr(
      `git-sync sync-now: ${why} and it has no --sync-on-signal: start it with --http-bind and --http-sync-secret-file` +
        " (GITSYNC_HTTP_BIND, GITSYNC_HTTP_SYNC_SECRET_FILE) or with --sync-on-signal (GITSYNC_SYNC_ON_SIGNAL)\n",
    );
    return 2;
  }
  const signal = resolveSignal(raw);
  if (!signal) {
    io.stderr(`git-sync sync-now: GITSYNC_SYNC_ON_SIGNAL=${raw} is not a signal we can send\n`);
    return 2;
  }
  try {
    process.kill(pid, signal);
  } catch (e) {
    io.stderr(`git-sync sync-now: can't send ${signal} to PID ${pid}: ${(e as Error).message}\n`);
    return 1;
  }
  io.stdout(`sync requested (${signal} sent to PID ${pid})\n`);
  return 0;
}
