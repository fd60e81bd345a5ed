// Bare repos for the servers to serve: `git init --bare -b main` (so HEAD names a born branch)
// filled by a push from a scratch work tree.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { commit, git, makeRepo } from "../helpers/index.ts";

/** Creates <root>/<name> (bare) with one commit holding `file`; returns the bare repo's path and HEAD. */
export function makeBareRepo(root: string, name: string, file = "file", content = `${name}\n`): { path: string; head: string } {
  const bare = join(root, name);
  mkdirSync(bare, { recursive: true });
  git(bare, "init", "-q", "--bare", "-b", "main");
  const work = join(root, `.${name.replace(/\//g, "_")}.work`);
  mkdirSync(work, { recursive: true });
  makeRepo(work);
  const head = commit(work, file, content);
  git(work, "push", "-q", bare, "main");
  return { path: bare, head };
}

/** Another commit on main of a bare repo made by makeBareRepo; returns the new HEAD. */
export function pushCommit(root: string, name: string, file = "file", content = `${Date.now()}\n`): string {
  const work = join(root, `.${name.replace(/\//g, "_")}.work`);
  const head = commit(work, file, content);
  git(work, "push", "-q", join(root, name), "main");
  return head;
}
