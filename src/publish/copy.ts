// `--link-mode=copy` (ours): --link is a real directory kept equal to the published commit's
// tree, for consumers that cannot follow a symlink (kaniko's COPY, subPath mounts, some build
// tools). There is no worktree: blobs are read straight from root/.git with one
// `git cat-file --batch`, and an update writes only what `git diff-tree` says changed.
//
// What a reader can rely on: every file is replaced by rename(2), so it is the old or the new
// version, never a torn one; the directory as a whole is NOT atomic (during an update it mixes
// old and new files). `.git-sync-hash` holds the commit the directory equals; it is removed
// before an update touches anything and written last, so "the file exists and holds a hash"
// means "the tree is complete".
//
// Crashes: before the hash file goes, a journal (root/.git-sync-copy) records the link and the
// target. A directory whose hash file is missing while the journal names it was being updated
// by git-sync; the next update compares every path with the tree (ls-tree, then size and blob
// hash of what is on disk) and rewrites what differs, so it converges from any crash point.
// A non-empty directory with neither is not ours, and is left alone with an error.
//
// A commit decides every name written here (issue 20), so before anything changes the tree is
// checked as git checks one it would check out (no `..`, no `.git` look-alike, no name listed
// twice or as both a file and a directory), and names copy mode writes itself are refused. While
// writing, each parent is checked with lstat(2) at the time of the write (never a remembered
// answer), temporary files are created with O_EXCL and renamed into place, so nothing is ever
// written through a symlink, whatever the tree holds.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync, type Stats } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Git } from "../git/runner.ts";
import { readRegularFile, realDir, refuseSymlinkOnPath, writeExclusive } from "../lib/no-follow.ts";
import type { Logger } from "../log/logger.ts";
import { TreeRefused } from "../lib/refused.ts";

/** In the link directory: the hash of the commit the directory equals, written last. */
export const HASH_FILE = ".git-sync-hash";
/** In root: the copy in progress ({"link","hash"}), written before the hash file is removed. */
export const JOURNAL = ".git-sync-copy";
/** In each directory copy mode writes a file to (and in root): the file before its rename. */
const TMP_PREFIX = ".git-sync-tmp.";

const HASH = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The hash the copy at `link` is complete for, or "" (missing, unreadable, or an update is under way). */
export function readCopyHash(link: string): string {
  const h = readRegularFile(join(link, HASH_FILE), 4096)?.trim() ?? "";
  return HASH.test(h) ? h : "";
}

/** The link the journal in root says was being updated, or "" when there is none. */
export function readJournal(root: string): string {
  try {
    const j = JSON.parse(readRegularFile(join(root, JOURNAL), 1 << 16) ?? "") as { link?: unknown };
    return typeof j.link === "string" ? j.link : "";
  } catch {
    return "";
  }
}

/** The copy's state as the poll checks it: the hash it is complete for, "" while an update is under way. */
export function currentCopy(root: string, link: string): string {
  return readJournal(root) === link ? "" : readCopyHash(link);
}

/** Write `data` to `path` by a temp file beside it and a rename (atomic for readers, never followed). */
function writeAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `${TMP_PREFIX}${process.pid}`);
  writeExclusive(tmp, data, { sync: true });
  renameSync(tmp, path);
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Startup check of the link path: nothing there, an empty directory, or a copy of ours are fine;
 * a symlink into root/.worktrees (the symlink mode's link) is replaced. Anything else is
 * somebody's data, and the error says so.
 */
export function claimCopyDir(root: string, link: string, log: Logger): void {
  const st = lstatOrNull(link);
  if (st === null) return;
  if (st.isSymbolicLink()) {
    const target = resolve(dirname(link), readlinkSync(link));
    if (target.startsWith(join(root, ".worktrees") + "/")) {
      log.info("replacing the symlink mode's link with a copy", { link, target });
      unlinkSync(link);
      return;
    }
    throw new Error(`--link ${link} is a symlink to ${target}, not a git-sync copy; remove it or choose another --link`);
  }
  if (!st.isDirectory()) throw new Error(`--link ${link} exists and is not a directory; remove it or choose another --link`);
  if (readdirSync(link).length === 0 || readJournal(root) === link || readCopyHash(link) !== "") return;
  throw new Error(`--link ${link} is a non-empty directory without ${HASH_FILE}, not a git-sync copy; empty it or choose another --link`);
}

interface Entry {
  mode: string;
  oid: string;
}

/** Code points HFS+ ignores in a name, so `.g\u200cit` is `.git` there (git's is_hfs_dotgit). */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * A name some filesystem takes for `.git`: any case, HFS+ ignorables, NTFS trailing dots and
 * spaces, a stream (`:`), a backslash (NTFS's separator), the 8.3 name `git~1`.
 */
function looksLikeDotGit(name: string): boolean {
  return name.split("\\").some((part) => /^(?:\.git|git~1)[. ]*(?::.*)?$/.test(part.replace(HFS_IGNORED, "").toLowerCase()));
}

/** Why git would refuse to check out path `p` (its verify_path), or "". */
function unsafePath(p: string): string {
  for (const c of p.split("/")) {
    if (c === "" || c === "." || c === "..") return `path ${JSON.stringify(p)} has a ${JSON.stringify(c)} component`;
    if (looksLikeDotGit(c)) return `path ${JSON.stringify(p)} has a component a filesystem takes for .git (${JSON.stringify(c)})`;
  }
  return "";
}

/** Why `p` is a name copy mode writes itself (the hash file, its temporary files), or "". */
function reservedPath(p: string): string {
  if (p === HASH_FILE || p.startsWith(HASH_FILE + "/")) return `path ${JSON.stringify(p)}: ${HASH_FILE} is the file git-sync writes in a copy`;
  const c = p.split("/").find((c) => c.startsWith(TMP_PREFIX));
  if (c !== undefined) return `path ${JSON.stringify(p)}: ${TMP_PREFIX}* are git-sync's temporary files in a copy`;
  return "";
}

/**
 * Why copy mode refuses to write these tree entries, or "": a path git would refuse, a reserved
 * name, a path listed twice, or one that is a file (or symlink, or submodule) and a directory at
 * once, which is how a crafted tree would make a later entry be written through a symlink.
 */
function treeProblem(entries: ReadonlyArray<readonly [string, Entry]>): string {
  const seen = new Set<string>();
  const files = new Set<string>();
  for (const [p, e] of entries) {
    const why = unsafePath(p) || reservedPath(p);
    if (why !== "") return why;
    if (seen.has(p)) return `the tree lists ${JSON.stringify(p)} twice`;
    seen.add(p);
    if (e.mode !== "040000") files.add(p);
  }
  for (const p of seen) {
    for (let d = dirname(p); d !== "."; d = dirname(d)) {
      if (files.has(d)) return `${JSON.stringify(d)} is both a file and a directory in the tree`;
    }
  }
  return "";
}

/** `git ls-tree -r -z --full-tree`: "<mode> <type> <oid>\t<path>\0", duplicates kept (treeProblem finds them). */
function parseLsTree(out: string): Array<[string, Entry]> {
  const tree: Array<[string, Entry]> = [];
  for (const rec of out.split("\0")) {
    if (rec === "") continue;
    const tab = rec.indexOf("\t");
    const [mode, , oid] = rec.slice(0, tab).split(" ");
    tree.push([rec.slice(tab + 1), { mode: mode!, oid: oid! }]);
  }
  return tree;
}

/** `git diff-tree -r -z --raw`: ":<old mode> <new mode> <old oid> <new oid> <status>\0<path>\0". */
function parseDiffTree(out: string): { deleted: string[]; changed: Array<[string, Entry]> } {
  const deleted: string[] = [];
  const changed: Array<[string, Entry]> = [];
  const f = out.split("\0");
  for (let i = 0; i + 1 < f.length; i += 2) {
    const head = f[i]!;
    if (!head.startsWith(":")) break;
    const [, newMode, , newOid, status] = head.slice(1).split(" ");
    const path = f[i + 1]!;
    if (status === "D") deleted.push(path);
    else changed.push([path, { mode: newMode!, oid: newOid! }]);
  }
  return { deleted, changed };
}

/** git's blob id of `data`, in the repo's hash (by the length of an id it gave us). */
function blobId(data: Uint8Array, like: string): string {
  const h = new Bun.CryptoHasher(like.length === 64 ? "sha256" : "sha1");
  h.update(`blob ${data.length}\0`);
  h.update(data);
  return h.digest("hex");
}

/** Whether what is at `abs` already is `e` (type, exec bit, content). */
function matches(abs: string, st: Stats, e: Entry): boolean {
  if (e.mode === "160000") return st.isDirectory();
  if (e.mode === "120000") return st.isSymbolicLink() && blobId(Buffer.from(readlinkSync(abs, { encoding: "buffer" })), e.oid) === e.oid;
  if (!st.isFile() || ((st.mode & 0o100) !== 0) !== (e.mode === "100755")) return false;
  return blobId(readFileSync(abs), e.oid) === e.oid;
}

/** Reads `git cat-file --batch` output as it streams: "<oid> <type> <size>\n<data>\n" per object. */
class BatchReader {
  private chunks: Uint8Array[] = [];
  private total = 0;
  private need: { oid: string; size: number } | null = null;

  constructor(private readonly onBlob: (oid: string, data: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
    for (;;) {
      if (this.need === null) {
        const all = this.flat();
        const nl = all.indexOf(10);
        if (nl < 0) return;
        const header = Buffer.from(all.subarray(0, nl)).toString("latin1").split(" ");
        if (header[1] === "missing" || header.length < 3) throw new Error(`git cat-file: object ${header[0]} ${header.slice(1).join(" ")}`);
        this.need = { oid: header[0]!, size: Number(header[2]) };
        this.keep(all.subarray(nl + 1));
      }
      if (this.total < this.need.size + 1) return;
      const all = this.flat();
      const { oid, size } = this.need;
      this.need = null;
      this.keep(all.subarray(size + 1));
      this.onBlob(oid, all.subarray(0, size));
    }
  }

  private flat(): Uint8Array {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? new Uint8Array(0);
  }

  private keep(rest: Uint8Array): void {
    this.chunks = [rest];
    this.total = rest.length;
  }
}

export interface CopyOptions {
  git: Git;
  log: Logger;
  root: string;
  link: string;
  /** The commit the directory equals now ("" or unknown: compare everything). */
  from: string;
  to: string;
  deadline: number;
  /** Tell about submodules (gitlinks), which a copy publishes as empty directories. */
  submodules: boolean;
}

export interface CopyResult {
  /** "incremental" (diff-tree from `from`) or "full" (ls-tree and a compare of every path). */
  mode: "incremental" | "full";
  written: number;
  removed: number;
}

/** Make the directory `to` equal to commit `to`'s tree (see the top of this file). */
export async function publishCopy(o: CopyOptions): Promise<CopyResult> {
  const { git, log, root, link, to, deadline } = o;
  const run = (args: string[]) => git.run(args, { cwd: root, deadline });
  refuseSymlinkOnPath(dirname(link), "the copy in");
  const st = lstatOrNull(link);
  if (st !== null && !st.isDirectory()) throw new Error(`--link ${link} is no longer a directory (${st.isSymbolicLink() ? "a symlink" : "another file"} is there): not copying into it`);

  // Everything is listed and checked before the journal is written and the hash file removed:
  // a refused commit leaves the last complete copy as it was.
  let mode: CopyResult["mode"] = "full";
  let deleted: string[] = [];
  let listed: Array<[string, Entry]> = [];
  if (o.from !== "" && o.from !== to) {
    try {
      ({ deleted, changed: listed } = parseDiffTree((await run(["diff-tree", "-r", "-z", "--raw", "--no-renames", "--no-commit-id", o.from, to])).stdout));
      mode = "incremental";
    } catch (e) {
      // The old commit's objects may be gone (a fresh object store): compare with the tree instead.
      log.v(1, "can't diff against the copied commit; comparing the whole tree", { from: o.from, error: (e as Error).message });
    }
  }
  if (mode === "full") listed = parseLsTree((await run(["ls-tree", "-r", "-z", "--full-tree", to])).stdout);
  // The full compare checks the whole tree; an update checks what it writes (git's own fsck on
  // fetch has checked every new tree object whole, see README "Copy mode").
  const problem = treeProblem(listed) || deleted.map(unsafePath).find((w) => w !== "") || "";
  if (problem !== "") throw new TreeRefused(`refusing to copy ${to}: ${problem}`);
  let changed = new Map(listed);
  if (mode === "full") ({ deleted, changed } = compareTree(link, changed));

  writeAtomic(join(root, JOURNAL), JSON.stringify({ link, hash: to }) + "\n");
  // recursive: a directory of that name (left by a version that copied one) must not block us for good.
  rmSync(join(link, HASH_FILE), { recursive: true, force: true });
  mkdirSync(link, { recursive: true, mode: 0o775 });

  // Deletions first: a directory that becomes a file (or the reverse) must be out of the way.
  // Parents they leave empty are removed after the writes, so a rename (delete a/x, add a/y)
  // does not take the directory away in between.
  let removed = 0;
  for (const p of deleted) {
    if (p === HASH_FILE || !parentsAreDirs(link, p)) continue;
    rmSync(join(link, p), { recursive: true, force: true });
    removed++;
  }

  // Each blob once, however many paths share it; cat-file answers in the order asked.
  const byOid = new Map<string, string[]>();
  let gitlinks = 0;
  for (const [p, e] of changed) {
    if (e.mode === "160000") {
      makeParents(link, p);
      realDir(join(link, p));
      gitlinks++;
      continue;
    }
    const list = byOid.get(e.oid);
    if (list) list.push(p);
    else byOid.set(e.oid, [p]);
  }
  if (gitlinks > 0 && o.submodules) log.info("submodules are not copied: each is an empty directory in the copy", { count: gitlinks });

  let failure: unknown = null;
  const reader = new BatchReader((oid, data) => {
    for (const p of byOid.get(oid) ?? []) writeEntry(link, p, changed.get(p)!, data);
  });
  if (byOid.size > 0) {
    await git.run(["cat-file", "--batch"], {
      cwd: root,
      deadline,
      stdin: [...byOid.keys()].join("\n") + "\n",
      onStdout: (chunk) => {
        if (failure !== null) return; // keep draining so git can finish
        try {
          reader.push(chunk);
        } catch (e) {
          failure = e;
        }
      },
    });
  }
  if (failure !== null) throw failure;
  // Deepest first, so a chain of directories left empty goes entirely.
  for (const p of deleted.sort().reverse()) pruneEmptyParents(link, dirname(p));

  writeAtomic(join(link, HASH_FILE), to + "\n");
  rmSync(join(root, JOURNAL), { force: true });
  return { mode, written: changed.size, removed };
}

/**
 * The full compare: what on disk differs from `tree` (to write) and what is not in it (to
 * delete). Sizes are compared before any content is hashed.
 */
function compareTree(link: string, tree: Map<string, Entry>): { deleted: string[]; changed: Map<string, Entry> } {
  const deleted: string[] = [];
  const changed = new Map(tree);
  const treeDirs = new Set<string>();
  for (const p of tree.keys()) for (let d = dirname(p); d !== "."; d = dirname(d)) treeDirs.add(d);
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(link, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const p = rel === "" ? name : `${rel}/${name}`;
      if (p === HASH_FILE) continue;
      const abs = join(link, p);
      const st = lstatSync(abs);
      const e = tree.get(p);
      if (e) {
        if (matches(abs, st, e)) changed.delete(p);
        // A directory where a file goes must go first (a gitlink is a directory we keep).
        else if (st.isDirectory() && e.mode !== "160000") deleted.push(p);
      } else if (st.isDirectory() && treeDirs.has(p)) walk(p);
      else deleted.push(p);
    }
  };
  walk("");
  return { deleted, changed };
}

/** Whether every parent of `rel` is a real directory now (lstat): a delete never goes through a symlink. */
function parentsAreDirs(link: string, rel: string): boolean {
  let abs = link;
  for (const c of rel.split("/").slice(0, -1)) {
    abs = join(abs, c);
    if (!lstatOrNull(abs)?.isDirectory()) return false;
  }
  return true;
}

/**
 * Make every parent of `rel` a real directory, each checked with lstat now: what an earlier write
 * of this update put there (a symlink where a directory was) is seen, never a remembered answer.
 * A file or symlink in the way (a type change) is removed, never followed.
 */
function makeParents(link: string, rel: string): string {
  let abs = link;
  for (const c of rel.split("/").slice(0, -1)) {
    abs = join(abs, c);
    realDir(abs);
  }
  return abs;
}

function writeEntry(link: string, p: string, e: Entry, data: Uint8Array): void {
  const parent = makeParents(link, p);
  const abs = join(link, p);
  const tmp = join(parent, `${TMP_PREFIX}${process.pid}`);
  if (e.mode === "120000") {
    rmSync(tmp, { recursive: true, force: true });
    symlinkSync(Buffer.from(data).toString(), tmp); // EEXIST rather than follow anything there
  } else {
    writeExclusive(tmp, data, { mode: e.mode === "100755" ? 0o755 : 0o644 });
  }
  try {
    renameSync(tmp, abs);
  } catch (err) {
    // A directory in the way (a submodule turned file): rename(2) can't replace it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(abs, { recursive: true, force: true });
    renameSync(tmp, abs);
  }
}

/** After a delete: remove the directories it left empty, up to (not including) the link. */
function pruneEmptyParents(link: string, rel: string): void {
  for (let d = rel; d !== "." && d !== ""; d = dirname(d)) {
    try {
      rmdirSync(join(link, d));
    } catch {
      return; // not empty (or already gone)
    }
  }
}

/** `--copy-drop-repo`: after a one-time copy, leave only the plain directory (no object store). */
export function dropObjectStore(root: string, link: string, log: Logger): void {
  for (const name of [".git", ".worktrees", JOURNAL]) {
    const p = join(root, name);
    // Never the copy itself, wherever --link points.
    if (relative(p, link) === "" || !relative(p, link).startsWith("..")) continue;
    log.v(1, "removing the object store", { path: p });
    rmSync(p, { recursive: true, force: true });
  }
}
