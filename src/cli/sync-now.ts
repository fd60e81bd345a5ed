// `git-sync sync-now [--http-bind ADDR] [--pid N]`: ask the running instance to sync now.
//   1. With an endpoint (flag, or the instance's --http-bind found by instance.ts): POST /sync.
//   2. Otherwise, if the instance was started with --sync-on-signal, send that signal to PID 1
//      (or --pid). In a container PID 1 is git-sync's own init (src/pid1), which forwards it to
//      the syncing process.
// Exit: 0 requested, 1 the request failed, 2 no way to reach the instance.
import { resolveSignal } from "../config/index.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { endpointURL, parseArgs, processIO, UsageError, type Env, type IO } from "./common.ts";
import { discoverInstance } from "./instance.ts";

export const SYNC_NOW_USAGE = `usage: git-sync sync-now [--http-bind ADDR] [--pid N]

Asks the git-sync instance in this container to sync now, without waiting for --period:
POST /sync on its endpoint, or else its --sync-on-signal signal sent to PID 1 (or --pid).
`;

export async function runSyncNow(args: string[], env: Env, io: IO = processIO): Promise<number> {
  let opts: Record<string, string>;
  try {
    opts = parseArgs(args, ["http-bind", "pid"], ["help", "h"]);
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
  if (bind) {
    const url = `${endpointURL(bind)}/sync`;
    try {
      const res = await createHttpClient({ timeoutMs: 5_000 }).raw(url, { method: "POST", responseType: "text" });
      if (res.status === 202) {
        io.stdout(`sync requested (POST ${url})\n`);
        return 0;
      }
      io.stderr(`git-sync sync-now: POST ${url} answered ${res.status}\n`);
    } catch (e) {
      io.stderr(`git-sync sync-now: POST ${url} failed: ${(e as Error).message}\n`);
    }
    return 1;
  }

  const raw = inst.syncOnSignal;
  if (!raw) {
    io.stderr("git-sync sync-now: no --http-bind and the instance has no --sync-on-signal (GITSYNC_HTTP_BIND / GITSYNC_SYNC_ON_SIGNAL unset)\n");
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
