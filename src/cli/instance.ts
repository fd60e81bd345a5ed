// Which running git-sync `status` and `sync-now` talk to. An exec'd process inherits the
// container's environment but not the instance's command line, and v4 manifests configure
// git-sync through `args:`. So the candidates are the processes running this executable (also
// one replaced in place since it started: an upgrade) as our own user, whose command line
// (/proc/<pid>/cmdline), resolved with their own environment (/proc/<pid>/environ, or ours when
// that is not readable) and working directory through the same code the instance used, is a sync
// configuration; that leaves out subcommands like this one and git's askpass/ssh calls into the
// binary (their environment says so, src/auth/internal.ts). Another user's instance is never one:
// its command line names files (its secret, its error file) we would read with our rights and
// hand to it; --pid naming one is refused. PID 1 gets no exception: `kubectl exec` runs as the
// container's user, the instance's. Among them:
//   1. --pid names one outright;
//   2. --root, --link, --http-bind select the one they belong to (each given one must match);
//   3. with none given: PID 1 when it is git-sync (a container; its init runs the same argv), or
//      the one of the root (else the endpoint) the environment names (a v3 env Pod, also with
//      shareProcessNamespace where PID 1 is the pause container), or the only candidate there is.
// Several left and nothing to tell them apart: the caller lists them and asks; it never guesses.
// Among several, those in our own mount namespace (our container of a Pod) come first.
// No candidate at all: nothing runs; the flags say where the root is, and the environment's
// instance (its endpoint, secret and signal) counts only when it is the one every flag names.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { internalRole } from "../auth/internal.ts";
import { defaultLinkName, makeAbsPath, readEnv, resolveConfig, shownLink, type Config, type OptionValues } from "../config/index.ts";
import { parseBind } from "../lib/bind.ts";
import { VERSION } from "../version.ts";
import type { Env, IO } from "./common.ts";

export interface Instance {
  /** The syncing process; null when no running process was found (the facts come from the environment). */
  pid: number | null;
  /** "" when the instance serves no endpoint (or none is known). */
  httpBind: string;
  root: string;
  /** Absolute, or "" when unknown. */
  link: string;
  /** `link` as the instance shows it (config/shown.ts): a link named after a repo URL's credentials shows none. */
  linkShown: string;
  /** --also-link paths, absolute. */
  alsoLinks: string[];
  /** Absolute, or "". */
  errorFile: string;
  /** A signal name or number, or "". */
  syncOnSignal: string;
  /** --http-sync-secret-file made absolute against the instance's cwd; "" when the push trigger is off. */
  httpSyncSecretFile: string;
}

/** What the operator gave to pick an instance; "" = not given. */
export interface Selector {
  pid: number | null;
  root: string;
  link: string;
  httpBind: string;
}

/** A process of this executable left out because another user runs it. */
export interface NotYours {
  pid: number;
  uid: number;
}

export type Found =
  /** `leftOut`: instances of other users that would have been chosen; none of ours was. */
  | { kind: "one"; instance: Instance; leftOut: NotYours[] }
  | { kind: "ambiguous"; why: string; candidates: Instance[] }
  /** --pid names another user's process. */
  | { kind: "not-yours"; pid: number; uid: number };

interface Candidate {
  instance: Instance & { pid: number };
  /** The uid it runs as (runsAs). */
  uid: number;
  ppid: number;
  /** The command line without argv[0]: an init and its child share it. */
  flags: string;
  mountNs: string;
  /** The pid of the init (src/pid1) this process runs under, or 0. */
  init: number;
}

/**
 * The path of the executable `pid` runs. A file replaced since the process started (an upgrade
 * renames the new binary over the old) reads "<path> (deleted)": the process still runs what was
 * installed at that path.
 */
function exePath(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
}

let ownExe: string | undefined;

/** The flags `pid` was started with, if it runs this same executable; null otherwise. */
function instanceFlags(pid: number): string[] | null {
  try {
    ownExe ??= exePath(process.pid);
    if (exePath(pid) !== ownExe) return null;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv.slice(1);
  } catch {
    return null;
  }
}

function procLink(pid: number, what: string): string {
  try {
    return readlinkSync(`/proc/${pid}/${what}`);
  } catch {
    return "";
  }
}

/** The environment `pid` started with; null when it is not ours to read. */
function environOf(pid: number): Env | null {
  try {
    const env: Env = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const i = kv.indexOf("=");
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return env;
  } catch {
    return null;
  }
}

const ownUid = (): number => process.geteuid?.() ?? -1;

/**
 * The uid `pid` runs as, seen from `me`: the first of its real, effective, saved and filesystem
 * uids (/proc/<pid>/status) that is not `me`, else `me`. null when it is gone.
 */
function runsAs(pid: number, me: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? (m.slice(1).map(Number).find((u) => u !== me) ?? me) : null;
  } catch {
    return null;
  }
}

function ppidOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the parenthesised command name: state, then ppid.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

function fromConfig(pid: number | null, c: Config, cwd: string): Instance {
  return {
    pid,
    httpBind: c.httpBind,
    root: c.root,
    link: makeAbsPath(c.link, c.root),
    linkShown: shownLink(makeAbsPath(c.link, c.root), c.repo),
    alsoLinks: c.alsoLinks.map((l) => l.link),
    errorFile: c.errorFile,
    syncOnSignal: c.syncOnSignal,
    httpSyncSecretFile: c.httpSyncSecretFile === "" ? "" : resolve(cwd, c.httpSyncSecretFile),
  };
}

/**
 * `pid` as a candidate: it runs this executable with a configuration git-sync would run, as
 * itself (not as git's askpass or ssh helper). Another user's process is one too, with its uid:
 * the caller leaves it out, and says so.
 */
function candidate(pid: number, env: Env, me: number): Candidate | null {
  const flags = instanceFlags(pid);
  if (flags === null) return null;
  const uid = runsAs(pid, me);
  if (uid === null) return null;
  const own = environOf(pid) ?? env;
  if (internalRole(flags, own) !== null) return null;
  // Not ours to read: relative paths resolve against / as in a container.
  const cwd = procLink(pid, "cwd") || "/";
  const r = resolveConfig(flags, own, { cwd, version: VERSION });
  if (r.kind !== "run") return null;
  return { instance: { ...fromConfig(pid, r.config, cwd), pid }, uid, ppid: ppidOf(pid), flags: flags.join("\0"), mountNs: procLink(pid, "ns/mnt"), init: 0 };
}

/**
 * Every running instance but this process, whoever runs it. An init (PID 1 in a container,
 * src/pid1) and the child it runs with the same command line are one instance: the child, which
 * syncs and serves.
 */
function candidates(env: Env, me: number): Candidate[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
  const all = pids.filter((p) => p !== process.pid).flatMap((p) => candidate(p, env, me) ?? []);
  const isInit = (c: Candidate) => all.some((child) => child.ppid === c.instance.pid && child.flags === c.flags);
  for (const c of all) if (all.some((p) => p.instance.pid === c.ppid && p.flags === c.flags)) c.init = c.ppid;
  return all.filter((c) => !isInit(c));
}

function realDir(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** A link path compared by its directory's real path: the link itself is a symlink. */
const linkKey = (p: string) => resolve(realDir(dirname(p)), basename(p));

function sameBind(a: string, b: string): boolean {
  try {
    const x = parseBind(a);
    const y = parseBind(b);
    const wild = (h: string) => h === "" || h === "0.0.0.0" || h === "::";
    return x.port === y.port && (x.host === y.host || wild(x.host) || wild(y.host));
  } catch {
    return a === b;
  }
}

type Key = "root" | "link" | "httpBind";

/** Whether `inst` is what selector field `key` names. A relative --link is relative to the root (given, or the instance's). */
function matches(inst: Instance, sel: Selector, key: Key): boolean {
  switch (key) {
    case "root":
      return inst.root !== "" && realDir(inst.root) === realDir(sel.root);
    case "link": {
      const want = linkKey(isAbsolute(sel.link) ? sel.link : makeAbsPath(sel.link, sel.root || inst.root));
      return [inst.link, ...inst.alsoLinks].some((l) => l !== "" && linkKey(l) === want);
    }
    case "httpBind":
      return inst.httpBind !== "" && sameBind(inst.httpBind, sel.httpBind);
  }
}

const FLAG: Record<Key, string> = { root: "--root", link: "--link", httpBind: "--http-bind" };

const NONE: Instance = { pid: null, httpBind: "", root: "", link: "", linkShown: "", alsoLinks: [], errorFile: "", syncOnSignal: "", httpSyncSecretFile: "" };

/** What the environment alone says (a v3 env Pod, or the flags' defaults); the instance need not run. */
function fromEnv(env: Env): Instance {
  // kubectl exec starts in the container's working directory, the instance's.
  const cwd = process.cwd();
  const r = resolveConfig([], env, { cwd, version: VERSION });
  if (r.kind === "run") return fromConfig(null, r.config, cwd);
  // A configuration git-sync itself would refuse (no repo, say): take what the environment
  // names, read as git-sync reads it (old and new names, config/parse.ts).
  let v: OptionValues;
  try {
    v = readEnv(env).values;
  } catch {
    return NONE; // a value git-sync can't parse: it would not start
  }
  const root = v.root === "" ? "" : resolve(cwd, v.root);
  const named = v.link || (v.repo ? defaultLinkName(v.repo) : "");
  const link = root === "" && !isAbsolute(named) ? "" : makeAbsPath(named, root);
  return {
    pid: null,
    httpBind: v["http-bind"],
    root,
    link,
    linkShown: shownLink(link, v.repo),
    alsoLinks: [],
    errorFile: makeAbsPath(v["error-file"], root),
    syncOnSignal: v["sync-on-signal"],
    httpSyncSecretFile: v["http-sync-secret-file"] === "" ? "" : resolve(cwd, v["http-sync-secret-file"]),
  };
}

/** Among several, those in our own mount namespace (our container); all of them when none is. */
function ours(cs: Candidate[]): Candidate[] {
  const mine = procLink(process.pid, "ns/mnt");
  const own = cs.filter((c) => c.mountNs !== "" && c.mountNs === mine);
  return own.length > 0 ? own : cs;
}

function pick(cs: Candidate[], why: string, otherwise: () => Found): Found {
  const left = cs.length > 1 ? ours(cs) : cs;
  if (left.length === 1) return { kind: "one", instance: left[0]!.instance, leftOut: [] };
  if (left.length > 1) return { kind: "ambiguous", why, candidates: left.map((c) => c.instance) };
  return otherwise();
}

/** The instance `sel` (or, without one, the environment) selects; see the top of this file. */
export function findInstance(env: Env, sel: Selector): Found {
  const me = ownUid();
  if (sel.pid !== null) {
    const c = candidate(sel.pid, env, me);
    const uid = c?.uid ?? runsAs(sel.pid, me);
    if (uid !== null && uid !== me) return { kind: "not-yours", pid: sel.pid, uid };
    // Trusted as given, even when it is not this executable (an init of another build, a test).
    return { kind: "one", instance: c ? c.instance : { ...fromEnv(env), pid: sel.pid }, leftOut: [] };
  }
  const everyone = candidates(env, me);
  const all = everyone.filter((c) => c.uid === me);
  // None of ours: the instance is not running, and `theirs` are the other users' that would have been.
  const none = (instance: Instance, theirs: (c: Candidate) => boolean): Found => ({
    kind: "one",
    instance,
    leftOut: everyone.filter((c) => c.uid !== me && theirs(c)).map((c) => ({ pid: c.instance.pid, uid: c.uid })),
  });
  const given = (["root", "link", "httpBind"] as const).filter((k) => sel[k] !== "");
  if (given.length > 0) {
    const shown = given.map((k) => `${FLAG[k]}=${sel[k]}`).join(" ");
    const named = (inst: Instance) => given.every((k) => matches(inst, sel, k));
    return pick(all.filter((c) => named(c.instance)), `several running git-syncs match ${shown}`, () => {
      // Each flag names a running instance, but not the same one: say so rather than mix them.
      const partial = all.filter((c) => given.some((k) => matches(c.instance, sel, k)));
      if (partial.length > 0) return { kind: "ambiguous", why: `${shown} do not name one running git-sync`, candidates: partial.map((c) => c.instance) };
      // Nothing running for them: the environment's instance when it is the one they name,
      // else the flags alone (with no endpoint, secret or signal of another instance's).
      const e = fromEnv(env);
      const link = sel.link === "" || (sel.root === "" && !isAbsolute(sel.link)) ? "" : makeAbsPath(sel.link, sel.root);
      return none(named(e) ? e : { ...NONE, root: sel.root, link, linkShown: link }, (c) => named(c.instance));
    });
  }
  // In a container whose PID 1 is git-sync (or its init), that is the instance.
  const isPid1 = (c: Candidate) => c.instance.pid === 1 || c.init === 1;
  const pid1 = all.find(isPid1);
  if (pid1) return { kind: "one", instance: pid1.instance, leftOut: [] };
  // The environment names the instance (a v3 env Pod): the running one of its root (or endpoint).
  const e = fromEnv(env);
  const by: Key | null = e.root !== "" ? "root" : e.httpBind !== "" ? "httpBind" : null;
  if (by !== null) {
    const envSel: Selector = { pid: null, root: e.root, link: "", httpBind: e.httpBind };
    const named = (c: Candidate) => matches(c.instance, envSel, by);
    return pick(all.filter(named), `several running git-syncs match the environment's ${FLAG[by]}`, () => none(e, (c) => named(c) || isPid1(c)));
  }
  return pick(all, `${all.length} git-syncs are running here`, () => none(e, () => true));
}

/** One line per candidate, for the "say which" message. */
export function listInstances(cs: Instance[]): string {
  return cs.map((c) => `  pid ${c.pid}  root ${c.root}  link ${c.linkShown || "(none)"}  http-bind ${c.httpBind || "(none)"}\n`).join("");
}

/**
 * findInstance for a subcommand: the instance, or null after telling the operator which ones
 * could be meant and how to say which, or that the one named is another user's (the caller exits 2).
 */
export function selectInstance(cmd: string, env: Env, sel: Selector, io: IO): Instance | null {
  const found = findInstance(env, sel);
  const notYou = (p: NotYours) => `pid ${p.pid} runs as uid ${p.uid}, not as you (uid ${ownUid()})`;
  switch (found.kind) {
    case "one":
      for (const p of found.leftOut) io.stderr(`git-sync ${cmd}: ${notYou(p)}, so it was left out: run git-sync ${cmd} as that user to ask it\n`);
      return found.instance;
    case "not-yours":
      io.stderr(`git-sync ${cmd}: ${notYou(found)}: run git-sync ${cmd} as that user\n`);
      return null;
    case "ambiguous":
      io.stderr(`git-sync ${cmd}: ${found.why}; say which with --root, --link, --http-bind or --pid:\n${listInstances(found.candidates)}`);
      return null;
  }
}
