// Where the running instance is, for `status` and `sync-now` run through `kubectl exec`.
// An exec'd process inherits the container's environment but not the instance's command line,
// and v4 manifests configure git-sync through `args:`. So we read the instance's argv from
// /proc/<pid>/cmdline (PID 1 in a container: git-sync or its init, which has the same argv) and
// resolve it with this environment through the same code the instance used: flags, v3 and v4
// env names and their precedence all agree with what it is actually doing. When PID 1 is not
// git-sync (a Pod with shareProcessNamespace: PID 1 is the pause container), the instance is the
// oldest other process running this executable with a configuration git-sync would run.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { defaultLinkName, makeAbsPath, resolveConfig } from "../config/index.ts";
import { VERSION } from "../version.ts";
import type { Env } from "./common.ts";

export interface Instance {
  /** "" when the instance serves no endpoint (or none is known). */
  httpBind: string;
  root: string;
  /** As configured: relative to root, or absolute; "" when unknown. */
  link: string;
  /** Absolute, or "". */
  errorFile: string;
  /** A signal name or number, or "". */
  syncOnSignal: string;
  /** --http-sync-secret-file made absolute against the instance's cwd; "" when the push trigger is off. */
  httpSyncSecretFile: string;
}

/** The flags `pid` was started with, if it runs this same executable; null otherwise. */
function instanceFlags(pid: number): string[] | null {
  try {
    if (realpathSync(`/proc/${pid}/exe`) !== realpathSync(process.execPath)) return null;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv.slice(1);
  } catch {
    return null;
  }
}

/**
 * PID 1 when it runs git-sync, or when the environment alone configures it; otherwise the lowest
 * other pid running this executable whose command line resolves to a sync configuration (which
 * leaves out subcommands like this one and git's askpass/ssh calls into the binary); otherwise
 * `pid`, whatever it is.
 */
function instancePid(pid: number, env: Env, root: string): number {
  if (pid !== 1 || instanceFlags(1) !== null) return pid;
  // An environment that configures git-sync on its own (a v3 env Pod) needs no search; and
  // where several instances run (a laptop, CI), searching could find the wrong one.
  if (resolveConfig([], env, { cwd: "/", version: VERSION }).kind === "run") return pid;
  let pids: number[];
  try {
    pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  } catch {
    return pid;
  }
  for (const p of pids) {
    if (p === process.pid) continue;
    const flags = instanceFlags(p);
    if (flags === null) continue;
    const r = resolveConfig(flags, env, { cwd: cwdOf(p), version: VERSION });
    // With --root given, only the instance of that root: another one's link or error file would
    // be reported as this root's (two instances on a laptop, or tests running side by side).
    if (r.kind === "run" && (root === "" || sameDir(r.config.root, root))) return p;
  }
  return pid;
}

function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // Not ours to read: relative paths resolve against / as in a container.
    return "/";
  }
}

function sameDir(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/** compat.md 2.1: when both are set, the old GIT_SYNC_ name wins. */
function envValue(env: Env, name: string): string {
  return env[`GIT_SYNC_${name}`] || env[`GITSYNC_${name}`] || "";
}

/**
 * What is known of the instance; the subcommands' own flags override it. `givenRoot`: the --root the
 * operator gave ("" = none); an instance of another root lends nothing.
 */
export function discoverInstance(env: Env, requested: number, givenRoot = ""): Instance {
  const pid = instancePid(requested, env, givenRoot);
  const flags = instanceFlags(pid);
  const cwd = cwdOf(pid);
  const r = resolveConfig(flags ?? [], env, { cwd, version: VERSION });
  const abs = (p: string) => (p === "" ? "" : resolve(cwd, p));
  if (r.kind === "run" && givenRoot !== "" && !sameDir(r.config.root, givenRoot)) {
    return { httpBind: "", root: givenRoot, link: "", errorFile: "", syncOnSignal: "", httpSyncSecretFile: "" };
  }
  if (r.kind === "run") {
    const c = r.config;
    return { httpBind: c.httpBind, root: c.root, link: c.link, errorFile: c.errorFile, syncOnSignal: c.syncOnSignal, httpSyncSecretFile: abs(c.httpSyncSecretFile) };
  }
  // A configuration git-sync itself would refuse (no repo, say): take what the environment names.
  const root = envValue(env, "ROOT");
  const repo = envValue(env, "REPO");
  return {
    httpBind: envValue(env, "HTTP_BIND"),
    root,
    link: envValue(env, "LINK") || (repo ? defaultLinkName(repo) : ""),
    errorFile: makeAbsPath(envValue(env, "ERROR_FILE"), root),
    syncOnSignal: envValue(env, "SYNC_ON_SIGNAL"),
    // A v4-only name: there is no GIT_SYNC_ spelling to prefer.
    httpSyncSecretFile: abs(env.GITSYNC_HTTP_SYNC_SECRET_FILE ?? ""),
  };
}
