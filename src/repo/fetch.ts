// Fetch exactly the ref we sync (compat.md 4.2 steps 4-5): by URL, not by `origin`, shallow by
// default, unshallowing when --depth goes to 0, and peeling annotated tags to their commit.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stderrIsTerminal } from "../lib/stdio.ts";
import { redactURL } from "../log/redact.ts";
import type { RepoContext } from "./context.ts";
import type { RemoteRef } from "./remote.ts";

/**
 * Returns the fetched commit. `ref` is what to fetch: --ref, or the tag a `semver:` poll chose.
 * `polled` is what the poll just saw: when FETCH_HEAD holds that object we already know the commit it peels to; otherwise (no poll, or the ref moved between
 * poll and fetch) git peels FETCH_HEAD, and the newer answer wins.
 */
export async function fetchRef(ctx: RepoContext, deadline: number, polled: RemoteRef | null = null, ref = ctx.config.ref): Promise<string> {
  const { git, root, repo, log } = ctx;
  log.v(2, "fetching", { ref, repo: redactURL(repo) });
  await runFetch(ctx, deadline, [ref]);
  if (polled) {
    const fetched = readFetchHead(root);
    if (fetched === polled.oid) return polled.hash;
    log.v(2, "ref moved between poll and fetch", { polled: polled.oid, fetched });
  }
  return (await git.run(["rev-parse", "FETCH_HEAD^{}"], { cwd: root, deadline })).stdout.trim();
}

/** A fetched ref: the object it names (a commit, or an annotated tag) and the commit it peels to. */
export interface FetchedRef {
  oid: string;
  hash: string;
}

/**
 * Several refs in one `git fetch` (--also-link, issue 15): git writes one FETCH_HEAD line per
 * ref, in the order asked, so each ref's object is read off its line. Returns each ref's commit;
 * objects the poll saw are peeled by its answer, the rest by one `git rev-parse`.
 */
export async function fetchRefs(ctx: RepoContext, deadline: number, refs: readonly string[], polled: ReadonlyMap<string, RemoteRef | null>): Promise<Map<string, FetchedRef>> {
  const { git, root, repo, log } = ctx;
  const asked = [...new Set(refs)];
  log.v(2, "fetching", { refs: asked, repo: redactURL(repo) });
  await runFetch(ctx, deadline, asked);
  const oids = readFetchHeadLines(root);
  if (oids.length !== asked.length) throw new Error(`git fetch wrote ${oids.length} FETCH_HEAD lines for ${asked.length} refs`);
  const out = new Map<string, FetchedRef>();
  const unpeeled: number[] = [];
  asked.forEach((ref, i) => {
    const p = polled.get(ref);
    if (p && p.oid === oids[i]) out.set(ref, { oid: p.oid, hash: p.hash });
    else unpeeled.push(i);
  });
  if (unpeeled.length > 0) {
    const r = await git.run(["rev-parse", ...unpeeled.map((i) => `${oids[i]}^{}`)], { cwd: root, deadline });
    const peeled = r.stdout.trim().split("\n");
    unpeeled.forEach((i, k) => out.set(asked[i]!, { oid: oids[i]!, hash: peeled[k]!.trim() }));
  }
  return out;
}

/** compat.md 4.2 steps 4-5 for `refs`: by URL, shallow unless --depth 0 (then unshallowing once). */
async function runFetch(ctx: RepoContext, deadline: number, refs: readonly string[]): Promise<void> {
  const { config, git, root, repo } = ctx;
  // A person watching a long one-time sync on a terminal sees git's progress; logs and pipes
  // (every container) get none of it.
  const progress = config.oneTime && stderrIsTerminal();
  const args = ["fetch", repo, ...refs, "--verbose", progress ? "--progress" : "--no-progress", "--prune", "--no-auto-gc"];
  if (config.depth > 0) {
    args.push("--depth", String(config.depth));
  } else if (existsSync(join(root, ".git", "shallow"))) {
    // What `git rev-parse --is-shallow-repository` answers, read directly.
    args.push("--unshallow");
  }
  if (config.filter !== "") args.push("--filter", config.filter);
  await git.run(args, { cwd: root, deadline, env: ctx.remoteEnv(), teeStderr: progress });
}

/** Every object FETCH_HEAD names, in order. */
function readFetchHeadLines(root: string): string[] {
  try {
    return readFileSync(join(root, ".git", "FETCH_HEAD"), "utf8")
      .split("\n")
      .map((l) => /^([0-9a-f]{40,64})\t/.exec(l)?.[1] ?? "")
      .filter((oid) => oid !== "");
  } catch {
    return [];
  }
}

/** The object FETCH_HEAD names ("<oid>\t<flags>\t<description>"), or "" if unreadable. */
export function readFetchHead(root: string): string {
  try {
    return /^([0-9a-f]{40,64})\t/.exec(readFileSync(join(root, ".git", "FETCH_HEAD"), "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}
