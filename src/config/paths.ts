// Paths as git-sync derives them from its options (behaviour.md 1.2): kept apart from the
// validation rules so that how values are shown (shown.ts) can name a link the same way.
import { isAbsolute, resolve } from "node:path";

/** Go's filepath.Abs + Clean: `resolve` also collapses `..`, `//` and trailing `/`. */
export function absPath(p: string, cwd: string): string {
  return resolve(cwd, p);
}

/** behaviour.md 1.2 makeAbsPath: "" stays "", absolute as given, relative joined to root and cleaned. */
export function makeAbsPath(p: string, root: string): string {
  if (p === "") return "";
  if (isAbsolute(p)) return p;
  return resolve(root, p);
}

/** behaviour.md 1.2: strip leading/trailing `/`, take the last `/` element; no `.git` stripping. */
export function defaultLinkName(repo: string): string {
  const parts = repo.replace(/^\/+|\/+$/g, "").split("/");
  return parts[parts.length - 1]!;
}
