// Listing the refs of a repository on this machine (a path or file:// --repo) by reading its
// files, as `git ls-remote` would list them through upload-pack: the poll of a local repo starts
// no process. Git's own rules are kept: the directory git's local transport would open (path,
// path/.git and the .git suffixes, a gitfile), loose refs over packed-refs, symbolic refs
// followed. Anything else (reftable, a linked worktree's git dir, a relative path, a tag whose
// object we can't read cheaply) answers null, and the caller asks `git ls-remote` instead.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { readParsed, readSmallFile } from "../lib/small-files.ts";
import { readGitfile } from "./context.ts";
import type { RefListing } from "./remote.ts";

const OID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** The local path git would read for --repo, or "" when --repo is not a local absolute path. */
export function localRepoPath(repo: string): string {
  if (repo.startsWith("file://")) {
    const rest = repo.slice("file://".length);
    // file://host/path is not a local path; file:///path is.
    if (!rest.startsWith("/")) return "";
    try {
      return decodeURIComponent(rest);
    } catch {
      return "";
    }
  }
  return isAbsolute(repo) ? repo : "";
}

/**
 * git's own test for a local path (connect.c url_is_local_not_ssh): not `scheme://...`, and no
 * colon before the first slash, which would make it scp-like `host:path` (or `helper::address`).
 */
function isLocalPath(repo: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repo)) return false;
  const colon = repo.indexOf(":");
  const slash = repo.indexOf("/");
  return colon < 0 || (slash >= 0 && slash < colon);
}

/**
 * A relative local path --repo (`src`, `../mirror.git`) made absolute at startup against the
 * directory git-sync was started in, like --root, when that is the only place it names anything.
 * Upstream hands it to git as it is, and git, which runs in root, reads it from there on every
 * attempt: that reading is kept whenever it could matter (the path exists from root, or exists
 * nowhere yet and may appear later), so a manifest relying on it keeps working. URLs, scp-like
 * addresses and absolute paths come back unchanged.
 */
export function absoluteLocalRepo(repo: string, cwd: string, root: string): string {
  if (repo === "" || isAbsolute(repo) || !isLocalPath(repo)) return repo;
  const fromCwd = resolve(cwd, repo);
  return existsSync(fromCwd) && !existsSync(resolve(root, repo)) ? fromCwd : repo;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** git's is_git_directory: HEAD, objects/ and refs/ (enough to tell; git checks a little more). */
function isGitDir(dir: string): boolean {
  return isFile(join(dir, "HEAD")) && existsSync(join(dir, "objects")) && existsSync(join(dir, "refs"));
}

/** setup.c enter_repo (non-strict): the suffixes git tries, in its order, and gitfiles. */
export function gitDirFor(path: string): string {
  for (const suffix of ["/.git", "", ".git/.git", ".git"]) {
    const p = path + suffix;
    if (isFile(p)) {
      const dir = readGitfile(p);
      if (dir !== null && isGitDir(dir)) return dir;
    } else if (isGitDir(p)) {
      return p;
    }
  }
  return "";
}

/** Why we can't read this git dir's refs ourselves, or "" when we can. */
function unsupported(gitDir: string): string {
  if (existsSync(join(gitDir, "commondir"))) return "a linked worktree's git dir";
  // No config: defaults, files backend.
  const config = readSmallFile(join(gitDir, "config")) ?? "";
  if (/^\s*refstorage\s*=/im.test(config)) return "a ref storage other than files";
  return "";
}

interface Packed {
  refs: Map<string, { oid: string; peeled?: string }>;
  /** "fully-peeled": every ref that is not a tag carries no ^ line, so none means "not a tag". */
  fullyPeeled: boolean;
}

/** packed-refs, parsed once per version of the file (a stat per poll, not a parse). */
function readPacked(gitDir: string): Packed {
  return readParsed(join(gitDir, "packed-refs"), parsePacked) ?? { refs: new Map(), fullyPeeled: false };
}

function parsePacked(text: string): Packed {
  const packed: Packed = { refs: new Map(), fullyPeeled: false };
  let last: { oid: string; peeled?: string } | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      packed.fullyPeeled = / fully-peeled( |$)/.test(line);
    } else if (line.startsWith("^")) {
      if (last) last.peeled = line.slice(1);
    } else {
      const sp = line.indexOf(" ");
      if (sp < 0) continue;
      last = { oid: line.slice(0, sp) };
      packed.refs.set(line.slice(sp + 1), last);
    }
  }
  return packed;
}

/** A loose object's type and, for a tag, the object it points to; null if not loose. */
function looseObject(gitDir: string, oid: string): { type: string; target?: string } | null {
  let data: Buffer;
  try {
    // Loose objects are zlib streams (windowBits 15: with the zlib header).
    data = Buffer.from(Bun.inflateSync(readFileSync(join(gitDir, "objects", oid.slice(0, 2), oid.slice(2))), { windowBits: 15 }));
  } catch {
    return null;
  }
  const nul = data.indexOf(0);
  const type = data.subarray(0, nul).toString("latin1").split(" ")[0]!;
  if (type !== "tag") return { type };
  // The first header line, as git's parse_tag reads it (git fetch does not fsck what it stores).
  const target = /^object ([0-9a-f]{40}(?:[0-9a-f]{24})?)\n/.exec(data.subarray(nul + 1, nul + 200).toString("latin1"))?.[1];
  return { type, target };
}

class NotHere extends Error {}

/**
 * The refs among `names` that exist in the repo at `path`, resolved and peeled as ls-remote
 * shows them (HEAD's symref target included); null when git should be asked instead. An array
 * among `names` is one ref's candidates, best first: only the first that exists is listed (the
 * one git would pick), and the rest are not read.
 */
export function listLocalRefs(path: string, names: ReadonlyArray<string | readonly string[]>): { listing: RefListing } | { why: string } {
  const gitDir = gitDirFor(path);
  if (gitDir === "") return { why: "not a git repository we can read" };
  const why = unsupported(gitDir);
  if (why !== "") return { why };
  const packed = readPacked(gitDir);

  /** Follow symbolic refs to an object id and the final ref name; null when the ref does not exist. */
  const resolveRef = (name: string, depth = 0): { oid: string; target: string; loose: boolean } | null => {
    if (depth > 5) throw new NotHere("symbolic refs nested too deep");
    // Ref names never contain "..": a name that does would read outside the git dir.
    if (name.includes("..") || name.startsWith("/")) return null;
    // Most candidates of a short name do not exist, and the one that does rarely changes: a
    // stat each, and a read only when the file changed (several per ref and poll with --also-link).
    const text = readSmallFile(join(gitDir, name))?.trim();
    if (text !== undefined) {
      if (text.startsWith("ref: ")) return resolveRef(text.slice(5).trim(), depth + 1);
      if (!OID.test(text)) throw new NotHere(`unreadable ref ${name}`);
      return { oid: text, target: name, loose: true };
    }
    const p = packed.refs.get(name);
    return p ? { oid: p.oid, target: name, loose: false } : null;
  };

  /** The commit a ref's object peels to, as ls-remote's ^{} line would show it. */
  const peel = (name: string, oid: string, loose: boolean): string | undefined => {
    // git refuses to point a branch at anything but a commit.
    if (name === "HEAD" || name.startsWith("refs/heads/") || name.startsWith("refs/remotes/")) return undefined;
    if (!loose) {
      const p = packed.refs.get(name)!;
      if (p.peeled !== undefined) return p.peeled;
      if (packed.fullyPeeled) return undefined;
    }
    const obj = looseObject(gitDir, oid);
    if (!obj) throw new NotHere(`can't tell what ${name} points to`);
    if (obj.type !== "tag") return undefined;
    // A tag of a tag: peel on, or let git do it.
    const inner = obj.target ? looseObject(gitDir, obj.target) : null;
    if (!inner || inner.type === "tag") throw new NotHere(`can't peel ${name}`);
    return obj.target;
  };

  const listing: RefListing = { refs: new Map(), symrefs: new Map() };
  try {
    for (const item of names) {
      for (const name of typeof item === "string" ? [item] : item) {
        const r = resolveRef(name);
        if (!r) continue;
        if (r.target !== name) listing.symrefs.set(name, r.target);
        const peeled = peel(r.target, r.oid, r.loose);
        listing.refs.set(name, peeled === undefined ? { oid: r.oid } : { oid: r.oid, peeled });
        break;
      }
    }
  } catch (e) {
    return { why: (e as Error).message };
  }
  return { listing };
}

/**
 * The names of the tags directly under refs/tags/ (loose files and packed-refs), for
 * `--ref=semver:` (a version tag has no "/" in its name, so nested tag dirs are not read).
 * What they point to is read afterwards, by listLocalRefs, for the one tag chosen.
 */
export function listLocalTagNames(path: string): { names: string[] } | { why: string } {
  const gitDir = gitDirFor(path);
  if (gitDir === "") return { why: "not a git repository we can read" };
  const why = unsupported(gitDir);
  if (why !== "") return { why };
  const names = new Set<string>();
  for (const name of readPacked(gitDir).refs.keys()) if (name.startsWith("refs/tags/")) names.add(name);
  try {
    for (const e of readdirSync(join(gitDir, "refs", "tags"), { withFileTypes: true })) {
      // A ref being written is "<name>.lock" beside it; the name itself is still the old value.
      if (e.isFile() && !e.name.endsWith(".lock")) names.add(`refs/tags/${e.name}`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return { why: (e as Error).message };
  }
  return { names: [...names] };
}
