// Shared by the `status` and `sync-now` subcommands. They run inside the git-sync container via
// `kubectl exec`, so they inherit the container's environment: the same GITSYNC_*/GIT_SYNC_*
// variables that configured the running instance tell us where its endpoint and root are.
import { parseBind } from "../lib/bind.ts";
import { writeStderr, writeStdout } from "../lib/stdio.ts";
import { redactURLsInText } from "../log/redact.ts";

export type Env = Record<string, string | undefined>;

export interface IO {
  stdout(s: string): void;
  stderr(s: string): void;
}

export const processIO: IO = {
  stdout: (s) => void writeStdout(s),
  stderr: (s) => void writeStderr(s),
};

/**
 * The IO a subcommand prints through, redacted as the instance's own output is: every URL loses
 * its user info and query (an older instance's /status or error file may hold one), and each
 * text `hide` maps is replaced by its shown form (a link named after the repo's credentials,
 * instance.ts `linkShown`; add to it once the instance is known).
 */
export function shownIO(io: IO, hide: Map<string, string> = new Map()): IO {
  const show = (s: string) => {
    let out = redactURLsInText(s);
    for (const [raw, shown] of hide) if (raw !== "" && raw !== shown) out = out.split(raw).join(shown);
    return out;
  };
  return { stdout: (s) => io.stdout(show(s)), stderr: (s) => io.stderr(show(s)) };
}

export class UsageError extends Error {}

/** After a bad flag to `git-sync <cmd>`: the error and where the usage is, not the usage itself (as git-sync's own flag errors). */
export function usageError(cmd: string, e: UsageError, io: IO): number {
  io.stderr(`git-sync ${cmd}: ${e.message}\nrun 'git-sync ${cmd} --help' for usage\n`);
  return 2;
}

/**
 * `--name value`, `--name=value` and bare booleans; nothing else is accepted, so a typo is an
 * error rather than a silently different report.
 */
export function parseArgs(args: string[], valued: readonly string[], bools: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--?([a-z-]+)(?:=(.*))?$/s.exec(a);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const name = m[1]!;
    if (bools.includes(name)) {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value`);
      out[name] = "true";
    } else if (valued.includes(name)) {
      const v = m[2] ?? args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      out[name] = v;
    } else {
      throw new UsageError(`unknown flag ${a}`);
    }
  }
  return out;
}

/**
 * The base URL to reach a local endpoint bound at `bind`: a wildcard host (":port", 0.0.0.0,
 * [::]) is reached over loopback.
 */
export function endpointURL(bind: string): string {
  const { host, port } = parseBind(bind);
  if (host === "" || host === "0.0.0.0" || host === "::") return `http://127.0.0.1:${port}`;
  return host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** --pid: a positive integer, or null when not given. */
export function parsePid(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const pid = Number(raw);
  if (!Number.isInteger(pid) || pid < 1) throw new UsageError(`invalid --pid ${raw}`);
  return pid;
}
