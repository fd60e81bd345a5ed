// Small files a poll reads every period (ref files, root's and a worktree's HEAD, a gitfile, a
// repo's config): read again only when a stat says they changed. git replaces such files by
// renaming a lock file over them, which gives them a new inode; an edit in place changes their
// size or times. A stat is one system call where a read is four (open, two reads, close).
import { readFileSync, statSync } from "node:fs";

const cache = new Map<string, { stamp: string; text: string }>();
/** Plenty for the candidates of a few refs; past it the cache starts over. */
const MAX_FILES = 256;

/** The file's text; undefined when there is no regular file at `path`. Other read errors throw. */
export function readSmallFile(path: string): string | undefined {
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
  if (hit?.stamp === stamp) return hit.text;
  const text = readFileSync(path, "utf8");
  if (cache.size >= MAX_FILES) cache.clear();
  cache.set(path, { stamp, text });
  return text;
}
