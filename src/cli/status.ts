// `git-sync status [--json] [--http-bind ADDR] [--root DIR]`, for
//   kubectl exec <pod> -c git-sync -- /git-sync status
// The image has no shell and no curl, so this is how an operator asks a running instance what
// it is doing. With an endpoint (flag or the container's GITSYNC_HTTP_BIND) it reads /status;
// without one it reads what the root shows (the link, the error file), which is less: the live
// state (failures, hooks, readiness) exists only in the running process.
//
// Exit codes: 0 healthy, 1 the instance reports not ready or errors, 2 nothing could be read.
import { lstatSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeAbsPath } from "../config/index.ts";
import type { StatusDocument } from "../http/status.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { formatGoDuration } from "../lib/go.ts";
import { semverRange } from "../lib/semver.ts";
import { redactURLsInText } from "../log/redact.ts";
import { registeredLinks } from "../publish/links.ts";
import { readCurrent } from "../publish/symlink.ts";
import { HASH_FILE, readCopyHash } from "../publish/copy.ts";
import { endpointURL, parseArgs, processIO, UsageError, type Env, type IO } from "./common.ts";
import { discoverInstance } from "./instance.ts";

export const STATUS_USAGE = `usage: git-sync status [--json] [--http-bind ADDR] [--root DIR] [--link PATH] [--error-file PATH] [--pid N]

Reports what the git-sync instance in this container is doing. Where it is (endpoint, root,
link) comes from the instance's own command line (/proc/<pid>/cmdline) and the GITSYNC_* /
GIT_SYNC_* environment, resolved as the instance resolved them; these flags override.
  --json         print the instance's /status document (or the root facts) as JSON
  --http-bind    the instance's endpoint; live state needs it (":port" is reached on 127.0.0.1)
  --root         read the link and error file from this root when there is no endpoint
  --pid          the instance's process (default 1, as in a container)
Exit: 0 healthy, 1 not ready or failing, 2 nothing could be read.
`;

const TIMEOUT_MS = 5_000;

function ago(iso: string | null, now: number): string {
  if (iso === null) return "never";
  const ms = Math.max(0, now - Date.parse(iso));
  return `${formatGoDuration(Math.round(ms / 1000) * 1000)} ago (${iso})`;
}

/** Healthy means /readyz would answer 200 and nothing is currently failing. */
export function isHealthy(doc: StatusDocument): boolean {
  const hooksOk = (hooks: StatusDocument["hooks"]) => Object.values(hooks).every((h) => h.consecutiveFailures === 0);
  return doc.healthy && doc.consecutiveFailures === 0 && hooksOk(doc.hooks) && (doc.links ?? []).every((l) => l.consecutiveFailures === 0 && hooksOk(l.hooks));
}

export function formatStatus(doc: StatusDocument, now = Date.now()): string {
  const rows: Array<[string, string]> = [
    ["repo", doc.repo],
    ["ref", doc.ref],
    // Which release a `semver:` range follows is the first thing to ask; older instances send no resolvedRef.
    ...(semverRange(doc.ref) !== null ? [["tag", doc.resolvedRef || "(none yet)"] as [string, string]] : []),
    ["hash", doc.hash || "(none yet)"],
    ["link", doc.link],
    ["ready", doc.healthy ? "yes" : `no (${doc.reason || "repo is not ready"})`],
    ["last success", ago(doc.lastSuccess, now)],
    ["last attempt", ago(doc.lastAttempt, now)],
    ["failures", `${doc.consecutiveFailures} consecutive`],
  ];
  if (doc.lastError) rows.push(["last error", doc.lastError]);
  // Older instances send no verify field.
  const v = doc.verify;
  if (v) {
    const who = v.result === "good" ? `signed by ${v.signer} (${v.fingerprint})` : `${v.reason}`;
    // Not every verdict is a signature's: the host's ref listing disagreed with the objects it
    // sent (host-lied), or the commit's tree was refused (bad-tree).
    const label = v.result === "host-lied" ? "ref check" : v.result === "bad-tree" ? "tree check" : "signature";
    rows.push([label, `${v.result}: ${v.object} ${v.oid}; ${who}; ${ago(v.time, now)}`]);
  }
  const hookRows = (hooks: StatusDocument["hooks"], prefix: string) => {
    for (const h of Object.values(hooks)) {
      const state = h.running ? "running" : h.consecutiveFailures > 0 ? `failing (${h.consecutiveFailures}x): ${h.lastError}` : h.lastRun ? "ok" : "not run yet";
      rows.push([`${prefix}hook ${h.name}`, `${state}; last run ${ago(h.lastRun, now)}${h.lastSuccessHash ? `; last good ${h.lastSuccessHash}` : ""}`]);
    }
  };
  hookRows(doc.hooks, "");
  // --also-link refs: one line each, then their hooks.
  for (const l of doc.links ?? []) {
    const health = l.consecutiveFailures > 0 ? `failing (${l.consecutiveFailures}x): ${l.lastError}` : l.ready ? "ok" : "not synced yet";
    rows.push([`link ${l.name}`, `${l.ref} -> ${l.hash || "(none yet)"}; ${health}; last success ${ago(l.lastSuccess, now)}`]);
    hookRows(l.hooks, `${l.name} `);
  }
  rows.push(["instance", `pid ${doc.pid}, ${doc.syncCount} syncs, up ${formatGoDuration(Math.round(doc.uptimeSeconds) * 1000)}, ${doc.version}`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${(k + ":").padEnd(width)}${v}\n`).join("");
}

async function fetchStatus(base: string): Promise<StatusDocument> {
  const client = createHttpClient({ timeoutMs: TIMEOUT_MS });
  const res = await client.raw<StatusDocument>(`${base}/status`, { responseType: "json" });
  if (res.status !== 200 || typeof res._data !== "object" || res._data === null) {
    throw new Error(`GET ${base}/status answered ${res.status}`);
  }
  return res._data;
}

function isDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface RootFacts {
  root: string;
  link: string;
  hash: string;
  /** RFC 3339 mtime of the link: when the current hash was published. */
  published: string | null;
  errorFile: string;
  /** The error file's content (the most recent outcome was an error), "" if absent. */
  error: string;
  /** --also-link: the links root/.git-sync-links registers, each with the hash it points at ("" = none yet). */
  links: Array<{ name: string; hash: string }>;
}

/** The extra links the root's registry names (publish/links.ts); none without --also-link. */
function readLinks(root: string): RootFacts["links"] {
  return (registeredLinks(root) ?? []).map((name) => ({ name, hash: readCurrent(resolve(root, name))?.hash ?? "" }));
}

/** What the on-disk contract (compat.md 1, 4.8) tells without asking the process. */
export function readRoot(root: string, link: string, errorFile: string): RootFacts {
  lstatSync(root); // throws when there is no root: nothing to report
  let current: { hash: string } | null;
  let published: string | null = null;
  if (isDir(link)) {
    // --link-mode=copy: the directory names its commit once complete.
    const hash = readCopyHash(link);
    current = hash === "" ? null : { hash };
    if (current) published = lstatSync(join(link, HASH_FILE)).mtime.toISOString();
  } else {
    current = readCurrent(link);
    if (current) published = lstatSync(link).mtime.toISOString();
  }
  let error = "";
  if (errorFile) {
    try {
      const raw = readFileSync(errorFile, "utf8");
      // Usually {"Msg","Err","Args"}; a fatal config error is plain text.
      try {
        const e = JSON.parse(raw) as { Msg?: string; Err?: string };
        error = [e.Msg, e.Err].filter(Boolean).join(": ") || raw;
      } catch {
        error = raw;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return { root, link, hash: current?.hash ?? "", published, errorFile, error, links: readLinks(root) };
}

function formatRoot(f: RootFacts, now: number): string {
  let out = `root:       ${f.root}\nlink:       ${f.link}\nhash:       ${f.hash || "(no link yet)"}\npublished:  ${ago(f.published, now)}\n`;
  for (const l of f.links) out += `link ${l.name}: ${l.hash || "(no link yet)"}\n`;
  if (f.errorFile) out += `last error: ${f.error || "(none: the last attempt succeeded)"}\n`;
  return out;
}

export async function runStatus(args: string[], env: Env, rawIO: IO = processIO): Promise<number> {
  // An older instance's /status or error file may hold a URL with user info: show none.
  const io: IO = { ...rawIO, stdout: (s) => rawIO.stdout(redactURLsInText(s)), stderr: (s) => rawIO.stderr(redactURLsInText(s)) };
  let opts: Record<string, string>;
  try {
    opts = parseArgs(args, ["http-bind", "root", "link", "error-file", "pid"], ["json", "help", "h"]);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`git-sync status: ${e.message}\n${STATUS_USAGE}`);
    return 2;
  }
  if (opts.help || opts.h) {
    io.stdout(STATUS_USAGE);
    return 0;
  }
  const json = opts.json === "true";
  const now = Date.now();
  const pid = Number(opts.pid ?? 1);
  if (!Number.isInteger(pid) || pid < 1) {
    io.stderr(`git-sync status: invalid --pid ${opts.pid}\n`);
    return 2;
  }
  const inst = discoverInstance(env, pid, opts.root ?? "");
  const bind = opts["http-bind"] ?? inst.httpBind;
  let endpointError = "";
  if (bind) {
    try {
      const doc = await fetchStatus(endpointURL(bind));
      io.stdout(json ? JSON.stringify(doc, null, 2) + "\n" : formatStatus(doc, now));
      return isHealthy(doc) ? 0 : 1;
    } catch (e) {
      endpointError = `can't read the endpoint at ${bind}: ${(e as Error).message}`;
    }
  }

  const root = opts.root ?? inst.root;
  if (!root) {
    io.stderr(`git-sync status: ${endpointError || "no --http-bind and no --root (nor GITSYNC_HTTP_BIND / GITSYNC_ROOT in the environment)"}\n`);
    return 2;
  }
  const link = makeAbsPath(opts.link ?? inst.link, root);
  const errorFile = opts["error-file"] !== undefined ? makeAbsPath(opts["error-file"], root) : inst.errorFile;
  let facts: RootFacts;
  try {
    if (!link) throw new Error("no --link and no GITSYNC_LINK or GITSYNC_REPO to derive it from");
    facts = readRoot(root, link, errorFile);
  } catch (e) {
    io.stderr(`git-sync status: ${endpointError ? endpointError + "; " : ""}can't read root ${root}: ${(e as Error).message}\n`);
    return 2;
  }
  if (json) {
    io.stdout(JSON.stringify({ ...facts, endpointError }, null, 2) + "\n");
  } else {
    io.stdout(formatRoot(facts, now));
    io.stdout(endpointError ? `note:       ${endpointError}\n` : `note:       read from the root only; live state (failures, hooks, readiness) needs --http-bind\n`);
  }
  return facts.hash !== "" && facts.links.every((l) => l.hash !== "") && facts.error === "" && endpointError === "" ? 0 : 1;
}
