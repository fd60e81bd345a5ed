// What the repo, publish and cleanup steps need to know, built once at startup by the loop
// and passed down (dependencies point one way: loop -> repo -> git runner).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Config } from "../config/types.ts";
import type { Git } from "../git/runner.ts";
import type { Logger } from "../log/logger.ts";
import type { RootLock } from "./lock.ts";

export interface RepoContext {
  config: Config;
  git: Git;
  log: Logger;
  /** The resolved (realpath) root; used for every comparison and path. */
  root: string;
  /** The repo URL with any userinfo removed (behaviour.md 3 step 5). */
  repo: string;
  /** Absolute link path. */
  link: string;
  /** Extra environment for git commands that reach the remote (credentials, ssh). */
  remoteEnv: () => Record<string, string>;
  /** The root lock (lock.ts); absent in tests that drive a module directly. */
  lock?: RootLock;
  /**
   * What is being served: every link and the complete tree it resolves to (absolute paths).
   * A root that fails its checks is rebuilt around these instead of wiped (root.ts).
   */
  served?: () => string[];
  /**
   * Where a fetch of `refs` goes instead of `repo` for now (--peers: the owner's /git, with the
   * environment that authenticates to it for those objects); null or absent = `repo` with
   * remoteEnv(). `repo` stays origin's URL.
   */
  fetchSource?: (refs: readonly string[]) => FetchSource | null;
}

/** Where a fetch goes instead of the repo (RepoContext.fetchSource). */
export interface FetchSource {
  url: string;
  env: Record<string, string>;
  /** After a failed fetch: resolves true (after any pause) to run the same fetch again. */
  again?: (e: unknown) => Promise<boolean>;
  /** The fetch's own deadline, before the attempt's (a peer must leave time for the host). */
  deadline?: number;
  /**
   * What a failed fetch throws instead of git's error: a SourceFailed (fetch.ts) when it is the
   * source's fault, which must not become a refusal of the commit the host may serve well.
   */
  failed?: (e: unknown) => unknown;
}

/**
 * The directory a gitfile (a worktree's `.git` file: "gitdir: <path>") points to, resolved
 * against the file's own directory; null when the file says nothing of the kind. Throws if it
 * can't be read.
 */
export function readGitfile(file: string): string | null {
  return parseGitfile(file, readFileSync(file, "utf8"));
}

/** readGitfile for text already read (a poll reads it through lib/small-files.ts). */
export function parseGitfile(file: string, text: string): string | null {
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(text);
  return m ? resolve(dirname(file), m[1]!) : null;
}

/** A `git config --list` entry: [key, value]. */
export type GitConfigEntry = [string, string];

export function worktreePath(ctx: RepoContext, hash: string): string {
  return `${ctx.root}/.worktrees/${hash}`;
}
