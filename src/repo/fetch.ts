// Fetch exactly the ref we sync (compat.md 4.2 steps 4-5): by URL, not by `origin`, shallow by
// default, unshallowing when --depth goes to 0, and peeling annotated tags to their commit.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stderrIsTerminal } from "../lib/stdio.ts";
import { redactURL } from "../log/redact.ts";
import type { RepoContext } from "./context.ts";
import type { RemoteRef } from "./remote.ts";

/**
 * Returns the fetched commit. `polled` is what the poll just saw: when FETCH_HEAD holds that
 * object we already know the commit it peels to; otherwise (no poll, or the ref moved between
 * poll and fetch) git peels FETCH_HEAD, and the newer answer wins.
 */
export async function fetchRef(ctx: RepoContext, deadline: number, polled: RemoteRef | null = null): Promise<string> {
  const { config, git, root, repo, log } = ctx;
  log.v(2, "fetching", { ref: config.ref, repo: redactURL(repo) });
  // A person watching a long one-time sync on a terminal sees git's progress; logs and pipes
  // (every container) get none of it.
  const progress = config.oneTime && stderrIsTerminal();
  const args = ["fetch", repo, config.ref, "--verbose", progress ? "--progress" : "--no-progress", "--prune", "--no-auto-gc"];
  if (config.depth > 0) {
    args.push("--depth", String(config.depth));
  } else if (existsSync(join(root, ".git", "shallow"))) {
    // What `git rev-parse --is-shallow-repository` answers, read directly.
    args.push("--unshallow");
  }
  if (config.filter !== "") args.push("--filter", config.filter);
  await git.run(args, { cwd: root, deadline, env: ctx.remoteEnv(), teeStderr: progress });
  if (polled) {
    const fetched = readFetchHead(root);
    if (fetched === polled.oid) return polled.hash;
    log.v(2, "ref moved between poll and fetch", { polled: polled.oid, fetched });
  }
  return (await git.run(["rev-parse", "FETCH_HEAD^{}"], { cwd: root, deadline })).stdout.trim();
}

/** The object FETCH_HEAD names ("<oid>\t<flags>\t<description>"), or "" if unreadable. */
export function readFetchHead(root: string): string {
  try {
    return /^([0-9a-f]{40,64})\t/.exec(readFileSync(join(root, ".git", "FETCH_HEAD"), "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}
