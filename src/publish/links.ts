// The --also-link registry (issue 15): root/.git-sync-links lists the extra links this root
// published, one name per line, so a restart with a shorter list removes the links it dropped
// (their worktrees then go with the next cleanup, which keeps only linked hashes). Without
// --also-link and without the file, nothing is read or written: upstream's layout is unchanged.
import { lstatSync, readdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { isAbsolute, join, resolve, dirname, sep } from "node:path";
import type { AlsoLink, LinkMode } from "../config/types.ts";
import { readRegularFile, writeExclusive } from "../lib/no-follow.ts";
import { currentCopy, readCopyHash } from "./copy.ts";
import { isServedTree, readCurrent } from "./symlink.ts";
import type { Logger } from "../log/logger.ts";

export const LINKS_FILE = ".git-sync-links";

/** The link names root's registry lists; null when there is none (no --also-link ever ran there). */
export function registeredLinks(root: string): string[] | null {
  // Never through a symlink a neighbour planted, nor from a FIFO that would block the loop.
  return readRegularFile(join(root, LINKS_FILE))?.split("\n").filter((l) => l !== "") ?? null;
}

/** Remove the links an earlier run registered and this one no longer configures; record the current list. */
export function reconcileLinks(log: Logger, root: string, links: readonly AlsoLink[]): void {
  const file = join(root, LINKS_FILE);
  const before = registeredLinks(root);
  if (before === null && links.length === 0) return;
  const now = new Set(links.map((l) => l.name));
  for (const name of before ?? []) {
    if (now.has(name) || name.split("/").some((p) => p === "" || p.startsWith("."))) continue;
    const link = resolve(root, name);
    if (isOurLink(root, link)) {
      log.info("removing link no longer configured", { link });
      rmSync(link, { force: true });
    }
  }
  if (links.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const tmp = `${file}.tmp`;
  writeExclusive(tmp, links.map((l) => `${l.name}\n`).join(""));
  renameSync(tmp, file);
}

/** A symlink into root/.worktrees: what git-sync publishes, and the only thing it removes. */
function isOurLink(root: string, link: string): boolean {
  return linkTarget(root, link, [".worktrees"]) !== "";
}

/** Where the symlink `link` points when that is inside one of root's `dirs`; "" otherwise. */
function linkTarget(root: string, link: string, dirs: readonly string[]): string {
  try {
    if (!lstatSync(link).isSymbolicLink()) return "";
    const target = readlinkSync(link);
    const abs = isAbsolute(target) ? target : resolve(dirname(link), target);
    return dirs.some((d) => abs.startsWith(join(root, d) + sep)) ? abs : "";
  } catch {
    return "";
  }
}

/**
 * The links published at root's top level, by name: symlinks into root/.worktrees (or the repair
 * copy, repo/worktree.ts) and copy-mode directories holding their hash file. What `git-sync
 * status --root` finds when nothing tells it the link; a link nested deeper or outside root is not
 * found (the caller then asks for --link).
 */
export function publishedLinks(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((name) => name !== "tmp-link" && (linkTarget(root, join(root, name), [".worktrees", ".git-sync-repair"]) !== "" || readCopyHash(join(root, name)) !== ""))
    .sort();
}

/**
 * The hash `link` serves now, "" when it serves nothing: a symlink to a complete tree
 * (isServedTree), or a complete copy. Read by a starting process (what is served from before it
 * started) and by `git-sync status` from the root, so both report the same thing.
 */
export function servedHash(linkMode: LinkMode, root: string, link: string): string {
  if (linkMode === "copy") return currentCopy(root, link);
  try {
    const cur = readCurrent(link);
    return cur && isServedTree(cur.path) ? cur.hash : "";
  } catch {
    return ""; // not a symlink: nothing published there
  }
}

/**
 * What a root that fails its checks must keep (repo/root.ts, wired in run.ts): each link that resolves to a
 * complete tree (isServedTree), and that tree; a copy is complete when its hash file is written
 * and no journal names it (publish/copy.ts).
 */
export function servedPaths(linkMode: LinkMode, root: string, links: readonly string[]): string[] {
  const out: string[] = [];
  for (const link of links) {
    if (linkMode === "copy") {
      if (currentCopy(root, link) !== "") out.push(link);
      continue;
    }
    let cur;
    try {
      cur = readCurrent(link);
    } catch {
      continue; // not a link: nothing served there
    }
    if (cur && !cur.path.startsWith(join(root, ".git") + "/") && isServedTree(cur.path)) out.push(link, cur.path);
  }
  if (out.length > 0) out.push(join(root, LINKS_FILE));
  return out;
}
