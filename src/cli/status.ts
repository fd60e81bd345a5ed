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
import { publishedLinks, registeredLinks, servedHash } from "../publish/links.ts";
import { HASH_FILE } from "../publish/copy.ts";
import { endpointURL, parseArgs, parsePid, processIO, shownIO, usageError, UsageError, type Env, type IO } from "./common.ts";
import { selectInstance, type Instance } from "./instance.ts";

export const STATUS_USAGE = `usage: git-sync status [--json] [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N] [--error-file PATH]

Reports what a running git-sync is doing. It is found among the processes running this
executable as you (/proc; other users' are left out): the one --root, --link or --http-bind
belongs to, or --pid; with none given, PID 1 in a container, else the one the GITSYNC_* /
GIT_SYNC_* environment names, else the only one. Several and nothing to tell them apart: they
are listed, exit 2. Its endpoint, link and error file come from its own command line, resolved
as it resolved them; these flags override. None running: the root the flags (else the
environment) name is read; the environment's endpoint and error file are used only when its
instance is the one the flags name.
  --json         print the instance's /status document (or the root facts) as JSON
  --root         the instance of this root; with none running, read this root's link and error file
  --link         the instance serving this link (relative to the root); the link to read
  --http-bind    the instance at this endpoint; live state needs one (":port" is reached on 127.0.0.1);
                 --http-bind= reads the root only
  --pid          the instance's process (yours: another user's exits 2)
Exit: 0 healthy, 1 not ready or failing, 2 nothing could be read (or which instance is unclear).
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
    ["hash", hashText(doc)],
    ["root", doc.root],
    ["link", doc.link],
    ["ready", doc.healthy ? "yes" : `no (${doc.reason || "repo is not ready"})`],
    ["last success", lastSuccessText(doc, now)],
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
    rows.push([`link ${l.name}`, `${l.ref} -> ${hashText(l)}; ${health}; last success ${lastSuccessText(l, now)}`]);
    hookRows(l.hooks, `${l.name} `);
  }
  // Older instances send no serve field.
  if (doc.serve) rows.push(...serveRows(doc.serve, now));
  if (doc.peers) rows.push(...peersRows(doc.peers));
  rows.push(["instance", `pid ${doc.pid}, ${doc.syncCount} syncs, up ${formatGoDuration(Math.round(doc.uptimeSeconds) * 1000)}, ${doc.version}`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${(k + ":").padEnd(width)}${v}\n`).join("");
}

/**
 * --serve-git: how the mirror is doing, then what it serves.
 *   git mirror:       /git (secret), 1 of 4 packs running, 153 requests (150 ok, 3 unauthorized), 12.3 MiB sent
 *   git mirror refs:  HEAD, refs/heads/main -> 5f0c...; since 2m0s ago (2024-05-01T10:00:00.000Z)
 */
function serveRows(s: NonNullable<StatusDocument["serve"]>, now: number): Array<[string, string]> {
  const counts = Object.entries(s.requests).filter(([, n]) => n > 0);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  // ok first, then the rest by how often they happened.
  counts.sort(([a, x], [b, y]) => (a === "ok" ? -1 : b === "ok" ? 1 : y - x || (a < b ? -1 : 1)));
  const results = counts.length > 0 ? ` (${counts.map(([r, n]) => `${n} ${r.replaceAll("_", " ")}`).join(", ")})` : "";
  const mirror = `/git (${s.auth === "anonymous" ? "anonymous" : "secret"}), ${s.inFlight} of ${s.maxPacks} packs running, ${total} request${total === 1 ? "" : "s"}${results}, ${byteText(s.bytesSent)} sent`;
  // Refs that name one object share a line: HEAD and the branch it points at.
  const byOid = new Map<string, string[]>();
  for (const r of s.refs) byOid.set(r.oid, [...(byOid.get(r.oid) ?? []), r.name]);
  const refs = byOid.size === 0 ? "nothing published yet (/git answers 503)" : `${[...byOid].map(([oid, names]) => `${names.join(", ")} -> ${oid}`).join("; ")}; since ${ago(s.changedAt, now)}`;
  return [
    ["git mirror", mirror],
    ["git mirror refs", refs],
  ];
}

/**
 * --peers: this replica's role, whom it follows, and what it asked where.
 *   peers:          follower of 10.0.0.12:8080 (this replica 10.0.0.11:8080), last synced from the peer
 *   peers seen:     peers.ns.svc (3): 10.0.0.11:8080, 10.0.0.12:8080, 10.0.0.13:8080; passed over: none
 *   peers requests: 2 to the git host, 340 to peers; nudges 0 sent, 12 received; 0 refused
 */
function peersRows(p: NonNullable<StatusDocument["peers"]>): Array<[string, string]> {
  const self = p.self === "" ? "address unknown" : p.self;
  const role = p.role === "owner" ? `owner: asks the git host (this replica ${self})` : `follower of ${p.owner} (this replica ${self})`;
  const source = p.source === "" ? "" : `, last synced from ${p.source === "host" ? "the git host" : "the peer"}`;
  const dns = p.resolveError !== "" ? `; DNS fails: ${p.resolveError}` : "";
  return [
    ["peers", `${role}${source}`],
    ["peers seen", `${p.name} (${p.peers.length}): ${p.peers.join(", ") || "none"}; passed over: ${p.down.join(", ") || "none"}${dns}`],
    ["peers requests", `${p.hostRequests} to the git host, ${p.peerRequests} to peers; nudges ${p.nudgesSent} sent, ${p.nudgesReceived} received; ${p.refused} refused`],
  ];
}

/** "812 B", "4.0 KiB", "12.3 MiB". */
function byteText(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (n < 1024) return `${n} B`;
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** "none since this start" rather than "never" while a restarted instance serves an earlier tree. */
function lastSuccessText(d: Pick<StatusDocument, "hashFromBeforeStart" | "lastSuccess">, now: number): string {
  return d.hashFromBeforeStart && d.lastSuccess === null ? "none since this start" : ago(d.lastSuccess, now);
}

/** A restarted instance serves the earlier process's tree until its first success: say so. */
function hashText(d: Pick<StatusDocument, "hash" | "hashFromBeforeStart" | "consecutiveFailures" | "lastError">): string {
  if (!d.hash) return "(none yet)";
  if (!d.hashFromBeforeStart) return d.hash;
  const since = d.consecutiveFailures > 0 || d.lastError ? "no successful sync since" : "first sync pending";
  return `${d.hash} (served from before this start; ${since})`;
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
  return (registeredLinks(root) ?? []).map((name) => ({ name, hash: servedHash("symlink", root, resolve(root, name)) }));
}

/** What the on-disk contract (behaviour.md 1, 4.8) tells without asking the process. */
export function readRoot(root: string, link: string, errorFile: string): RootFacts {
  lstatSync(root); // throws when there is no root: nothing to report
  // The same reading a starting instance makes of what is served (publish/links.ts), so the two agree.
  const copy = isDir(link);
  const hash = servedHash(copy ? "copy" : "symlink", root, link);
  const published = hash === "" ? null : lstatSync(copy ? join(link, HASH_FILE) : link).mtime.toISOString();
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
  return { root, link, hash, published, errorFile, error, links: readLinks(root) };
}

/**
 * The link of a root nothing names it for: the one published at its top level that is not an
 * --also-link of the registry. Throws (listing them) when there are several, or none.
 */
export function rootLink(root: string): string {
  const extra = new Set(registeredLinks(root) ?? []);
  const names = publishedLinks(root).filter((n) => !extra.has(n));
  if (names.length === 1) return join(root, names[0]!);
  if (names.length === 0) throw new Error(`no link found at its top level (nothing published yet, or the link is elsewhere); say where with --link`);
  throw new Error(`it holds ${names.length} links (${names.join(", ")}); say which with --link`);
}

function formatRoot(f: RootFacts, inst: string, now: number): string {
  let out = `root:       ${f.root}\nlink:       ${f.link}\nhash:       ${f.hash || "(nothing served yet)"}\npublished:  ${ago(f.published, now)}\n`;
  for (const l of f.links) out += `link ${l.name}: ${l.hash || "(nothing served yet)"}\n`;
  if (f.errorFile) out += `last error: ${f.error || "(none: the last attempt succeeded)"}\n`;
  return out + `instance:   ${inst}\n`;
}

export async function runStatus(args: string[], env: Env, rawIO: IO = processIO): Promise<number> {
  const hide = new Map<string, string>();
  const io = shownIO(rawIO, hide);
  let opts: Record<string, string>;
  let pid: number | null;
  try {
    opts = parseArgs(args, ["http-bind", "root", "link", "error-file", "pid"], ["json", "help", "h"]);
    pid = parsePid(opts.pid);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError("status", e, io);
  }
  if (opts.help || opts.h) {
    io.stdout(STATUS_USAGE);
    return 0;
  }
  const json = opts.json === "true";
  const now = Date.now();
  const inst = selectInstance("status", env, { pid, root: opts.root ?? "", link: opts.link ?? "", httpBind: opts["http-bind"] ?? "" }, io);
  if (inst === null) return 2;
  hide.set(inst.link, inst.linkShown);
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
    io.stderr(`git-sync status: ${endpointError || "no running git-sync found, and no --root or --http-bind (nor GITSYNC_ROOT / GITSYNC_HTTP_BIND in the environment)"}\n`);
    return 2;
  }
  const errorFile = opts["error-file"] !== undefined ? makeAbsPath(opts["error-file"], root) : inst.errorFile;
  let facts: RootFacts;
  try {
    lstatSync(root); // no root: nothing to report
    const link = opts.link !== undefined ? makeAbsPath(opts.link, root) : inst.link || rootLink(root);
    facts = readRoot(root, link, errorFile);
  } catch (e) {
    io.stderr(`git-sync status: ${endpointError ? endpointError + "; " : ""}can't read root ${root}: ${(e as Error).message}\n`);
    return 2;
  }
  const who = instanceText(inst);
  if (json) {
    io.stdout(JSON.stringify({ ...facts, pid: inst.pid, endpointError }, null, 2) + "\n");
  } else {
    io.stdout(formatRoot(facts, who, now));
    io.stdout(endpointError ? `note:       ${endpointError}\n` : `note:       read from the root only; live state (failures, hooks, readiness) needs --http-bind\n`);
  }
  return facts.hash !== "" && facts.links.every((l) => l.hash !== "") && facts.error === "" && endpointError === "" ? 0 : 1;
}

/** Which process the root belongs to, as far as we know. */
function instanceText(inst: Instance): string {
  if (inst.pid === null) return "none found running";
  return `pid ${inst.pid}${inst.httpBind ? "" : " (serves no endpoint)"}`;
}
