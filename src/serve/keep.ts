// The mirror's keep refs: one ref in root/.git per object /git may hand out, so that no `git gc`
// (git-sync runs it with gc.pruneExpire=now) prunes a commit that is served, was served a moment
// ago, or is being packed for a client right now. They live in a git namespace,
// refs/namespaces/git-sync/refs/keep/<oid>: upload-pack runs with GIT_NAMESPACE=git-sync, so
// these are the only refs it counts as its own when it checks a want, and nothing else in root
// (its branch, worktree HEADs) is. They are never advertised: the advertisement is written from
// the links (protocol.ts). Reading them is two file reads; changing them is one `git update-ref`.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Git } from "../git/runner.ts";
import { readSmallFile } from "../lib/small-files.ts";

export const NAMESPACE = "git-sync";
export const KEEP_PREFIX = `refs/namespaces/${NAMESPACE}/refs/keep/`;

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The objects kept now: loose ref files and packed-refs lines under KEEP_PREFIX (`git gc` packs refs). */
export function readKept(gitDir: string): Set<string> {
  const kept = new Set<string>();
  try {
    for (const name of readdirSync(join(gitDir, KEEP_PREFIX))) if (OID.test(name)) kept.add(name);
  } catch {
    // none loose
  }
  // Read again only when a stat says it changed: this runs after every poll.
  const packed = readSmallFile(join(gitDir, "packed-refs")) ?? "";
  for (const line of packed.split("\n")) {
    const sp = line.indexOf(" ");
    if (sp > 0 && line.startsWith(KEEP_PREFIX, sp + 1)) {
      const oid = line.slice(sp + 1 + KEEP_PREFIX.length);
      if (OID.test(oid)) kept.add(oid);
    }
  }
  return kept;
}

/** One transaction: add and delete keep refs (git takes its own locks, so a concurrent gc is safe). */
export async function changeKept(git: Git, root: string, add: readonly string[], remove: readonly string[], deadline: number): Promise<void> {
  const stdin = [...add.map((o) => `update ${KEEP_PREFIX}${o} ${o}\n`), ...remove.map((o) => `delete ${KEEP_PREFIX}${o}\n`)].join("");
  if (stdin === "") return;
  await git.run(["update-ref", "--no-deref", "--stdin"], { cwd: root, deadline, stdin });
}

/**
 * The objects among `oids` that root/.git holds (one `git cat-file --batch-check`). A served
 * link whose objects are gone (a rebuilt root, a link another process left) must not fail the
 * transaction for every other ref: it is left out of the keep refs and the advertisement.
 */
export async function present(git: Git, root: string, oids: readonly string[], deadline: number): Promise<Set<string>> {
  if (oids.length === 0) return new Set();
  const { stdout } = await git.run(["cat-file", "--batch-check=%(objectname)"], { cwd: root, deadline, stdin: oids.join("\n") + "\n" });
  return new Set(stdout.split("\n").filter((l) => OID.test(l)));
}
