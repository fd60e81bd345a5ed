// Files a poll reads every period (ref files, packed-refs, root's and a worktree's HEAD, a
// gitfile, a repo's config): read and parsed again only when a stat says they changed. git
// replaces such files by renaming a lock file over them, which gives them a new inode; an edit in
// place changes their size or times. A stat is one system call where a read is four (open, two
// reads, close), and a packed-refs with thousands of tags is parsed once per version.
import { readFileSync, statSync } from "node:fs";

const cache = new Map<string, { stamp: string; value: unknown }>();
/** Plenty for the candidates of a few refs; past it the cache starts over. */
const MAX_FILES = 256;

/**
 * `parse` of the file's text, from the cache while the file is unchanged; undefined when there
 * is no regular file at `path`. Each path must always be parsed the same way. Other errors throw.
 */
export function readParsed<T>(path: string, parse: (text: string) => T): T | undefined {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    // A path below a file (refs/heads/a/b where refs/heads/a is a branch): no such file either.
    if ((e as NodeJS.ErrnoException).code !== "ENOTDIR") throw e;
  }
  if (!st?.isFile()) {
    cache.delete(path);
    return undefined;
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const hit = cache.get(path);
  if (hit?.stamp === stamp) return hit.value as T;
  const value = parse(readFileSync(path, "utf8"));
  if (cache.size >= MAX_FILES) cache.clear();
  cache.set(path, { stamp, value });
  return value;
}

/** The file's text (readParsed without a parse). */
export function readSmallFile(path: string): string | undefined {
  return readParsed(path, (text) => text);
}
