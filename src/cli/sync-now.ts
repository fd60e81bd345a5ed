// `git-sync sync-now [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N] [--secret-file FILE]`:
// ask the running instance to sync now. It is selected as `status` selects it (instance.ts: only
// our own user's processes, so the secret we read is never handed to another user's), then:
//   1. With an endpoint and the push trigger's secret (flags, or the instance's --http-bind and
//      --http-sync-secret-file): POST /sync with `Authorization: Bearer`. The endpoint refuses
//      unauthenticated requests, so without the secret there is no POST.
//   2. Otherwise, if the instance was started with --sync-on-signal, send that signal to the
//      instance's own process. Never to PID 1 unless that is the instance (on a host PID 1 is
//      systemd, in a Pod with shareProcessNamespace the pause container).
// Exit: 0 requested, 1 the request failed, 2 no way to reach the instance (or which one is unclear).
import { resolveSignal } from "../config/index.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { readSigningKey } from "../lib/secrets.ts";
import { endpointURL, parseArgs, parsePid, processIO, shownIO, usageError, UsageError, type Env, type IO } from "./common.ts";
import { selectInstance, type Instance } from "./instance.ts";

export const SYNC_NOW_USAGE = `usage: git-sync sync-now [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N] [--secret-file FILE]

Asks a running git-sync to sync now, without waiting for --period: POST /sync on its endpoint
with its --http-sync-secret-file as a bearer token, or else its --sync-on-signal signal sent to
its process. The instance is chosen as \`git-sync status\` chooses it, among those running as
you: the one --root, --link or --http-bind belongs to, or --pid; with none given, PID 1 in a
container, else the one the environment names, else the only one (several: they are listed,
exit 2). --http-bind and --secret-file override what is found. Exit 2 when the instance has
neither way in, or --pid names another user's process.
`;

/** "pid N, root R" when the instance was found running. */
const who = (inst: Instance) => (inst.pid === null ? "" : `; pid ${inst.pid}, root ${inst.root}`);

async function post(bind: string, secretFile: string, inst: Instance, io: IO): Promise<number> {
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
      io.stdout(`sync requested (POST ${url}${who(inst)})\n`);
      return 0;
    }
    const said = typeof res._data === "string" ? res._data.trim() : "";
    io.stderr(`git-sync sync-now: POST ${url} answered ${res.status}${said ? `: ${said}` : ""}\n`);
  } catch (e) {
    io.stderr(`git-sync sync-now: POST ${url} failed: ${(e as Error).message}\n`);
  }
  return 1;
}

export async function runSyncNow(args: string[], env: Env, rawIO: IO = processIO): Promise<number> {
  const io = shownIO(rawIO);
  let opts: Record<string, string>;
  let pid: number | null;
  try {
    opts = parseArgs(args, ["root", "link", "http-bind", "secret-file", "pid"], ["help", "h"]);
    pid = parsePid(opts.pid);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError("sync-now", e, io);
  }
  if (opts.help || opts.h) {
    io.stdout(SYNC_NOW_USAGE);
    return 0;
  }

  const inst = selectInstance("sync-now", env, { pid, root: opts.root ?? "", link: opts.link ?? "", httpBind: opts["http-bind"] ?? "" }, io);
  if (inst === null) return 2;
  const bind = opts["http-bind"] ?? inst.httpBind;
  const secretFile = opts["secret-file"] ?? inst.httpSyncSecretFile;
  if (bind && secretFile) return await post(bind, secretFile, inst, io);

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
  if (inst.pid === null) {
    io.stderr(`git-sync sync-now: no running git-sync found${inst.root ? ` for root ${inst.root}` : ""} to send ${signal} to; give its --pid\n`);
    return 2;
  }
  try {
    process.kill(inst.pid, signal);
  } catch (e) {
    io.stderr(`git-sync sync-now: can't send ${signal} to PID ${inst.pid}: ${(e as Error).message}\n`);
    return 1;
  }
  io.stdout(`sync requested (${signal} sent to PID ${inst.pid}${inst.root ? `; root ${inst.root}` : ""})\n`);
  return 0;
}
