// Fetch exactly the ref we sync (behaviour.md 4.2 steps 4-5): by URL, not by `origin`, shallow by
// default, unshallowing when --depth goes to 0. What was fetched is read off FETCH_HEAD and peeled
// here, from the objects the fetch wrote: the poll's answer decides whether to fetch, never which
// commit is published (a host can advertise anything; loop/sync.ts compares the two).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GitError, interrupted } from "../git/runner.ts";
import { TreeRefused } from "../lib/refused.ts";
import { stderrIsPersonsTerminal } from "../lib/stdio.ts";
import { redactURL } from "../log/redact.ts";
import type { FetchSource, RepoContext } from "./context.ts";

/**
 * A fetch that failed through its source's fault (RepoContext.fetchSource: a --peers peer), not
 * its content's: never a refusal of the commit, and for every ref of a fetch at once.
 */
export class SourceFailed extends Error {}

/** A fetched ref: the object it names (a commit, or an annotated tag) and the commit it peels to, both read from root's objects. */
export interface FetchedRef {
  oid: string;
  hash: string;
  /** The full name git's FETCH_HEAD gives the ref ("refs/heads/main"); "" for HEAD or a hash. */
  name?: string;
}

/** Fetches `ref` (--ref, or the tag a `semver:` poll chose) and returns what FETCH_HEAD names. */
export async function fetchRef(ctx: RepoContext, deadline: number, ref = ctx.config.ref): Promise<FetchedRef> {
  const { root } = ctx;
  await runFetch(ctx, deadline, [ref]);
  const oid = readFetchHead(root);
  if (oid === "") throw new Error(`git fetch of ${ref} wrote no FETCH_HEAD`);
  const [hash] = await peelFetched(ctx, deadline, [oid]);
  return { oid, hash: hash!, name: fetchedNames(root)[0] ?? "" };
}

/**
 * Several refs in one `git fetch` (--also-link, issue 15): git writes one FETCH_HEAD line per
 * ref, in the order asked, so each ref's object is read off its line.
 */
export async function fetchRefs(ctx: RepoContext, deadline: number, refs: readonly string[]): Promise<Map<string, FetchedRef>> {
  const { root } = ctx;
  const asked = [...new Set(refs)];
  await runFetch(ctx, deadline, asked);
  const oids = readFetchHeadLines(root);
  if (oids.length !== asked.length) throw new Error(`git fetch wrote ${oids.length} FETCH_HEAD lines for ${asked.length} refs`);
  const hashes = await peelFetched(ctx, deadline, oids);
  const names = fetchedNames(root);
  return new Map(asked.map((ref, i) => [ref, { oid: oids[i]!, hash: hashes[i]!, name: names[i] ?? "" }]));
}

/**
 * The commit each fetched object peels to, through any chain of tags, by one `git rev-parse`:
 * git's own reading of the objects it just stored (with fetch.fsckObjects, even a small fetch
 * stays a pack), never the poll's word for it.
 */
async function peelFetched(ctx: RepoContext, deadline: number, oids: readonly string[]): Promise<string[]> {
  const asked = [...new Set(oids)];
  let peeled: string[];
  try {
    peeled = (await ctx.git.run(["rev-parse", ...asked.map((oid) => `${oid}^{commit}`)], { cwd: ctx.root, deadline })).stdout.trim().split("\n");
  } catch (e) {
    if (!(e instanceof GitError) || interrupted(e)) throw e;
    throw new Error(`the fetched object ${asked.join(", ")} is not a commit or a tag of one`, { cause: e });
  }
  return oids.map((oid) => peeled[asked.indexOf(oid)]!.trim());
}

/** behaviour.md 4.2 steps 4-5 for `refs`: by URL, shallow unless --depth 0 (then unshallowing once). */
async function runFetch(ctx: RepoContext, deadline: number, refs: readonly string[]): Promise<void> {
  const { config, git, root } = ctx;
  // The repo, or for now a peer's mirror (RepoContext.fetchSource).
  const source: FetchSource = ctx.fetchSource?.(refs) ?? { url: ctx.repo, env: ctx.remoteEnv() };
  ctx.log.v(2, "fetching", { ...(refs.length === 1 ? { ref: refs[0] } : { refs }), repo: redactURL(source.url) });
  // A person watching a long one-time sync on a terminal sees git's progress; logs and pipes
  // (every container) get none of it.
  const progress = config.oneTime && stderrIsPersonsTerminal();
  const args = ["fetch", source.url, ...refs, "--verbose", progress ? "--progress" : "--no-progress", "--prune", "--no-auto-gc"];
  if (config.depth > 0) {
    args.push("--depth", String(config.depth));
  } else if (existsSync(join(root, ".git", "shallow"))) {
    // What `git rev-parse --is-shallow-repository` answers, read directly.
    args.push("--unshallow");
  }
  if (config.filter !== "") args.push("--filter", config.filter);
  const { again, failed } = source;
  const until = Math.min(deadline, source.deadline ?? deadline);
  try {
    for (;;) {
      try {
        await git.run(args, { cwd: root, deadline: until, env: source.env, teeStderr: progress });
        break;
      } catch (e) {
        if (!(await again?.(e))) throw e;
      }
    }
  } catch (e) {
    if (failed) throw failed(e);
    // fetch.fsckObjects refused an object ("error: object <oid>: duplicateEntries: ...", then
    // "fatal: fsck error in packed object"): the content, not the transport, failed.
    if (e instanceof GitError && /fsck error/.test(e.stderr)) {
      const why = /^error: (object [0-9a-f]+: .*)$/m.exec(e.stderr)?.[1] ?? "git's object checks failed";
      throw new TreeRefused(`git's fsck refused the fetched objects: ${why}`, { cause: e });
    }
    throw e;
  }
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

/**
 * The full ref name of each FETCH_HEAD line, from git's description of it: "branch 'main' of
 * <url>", "tag 'v1' of <url>", "'refs/pull/1/head' of <url>"; "" for HEAD or a hash. What the
 * fetch itself learnt: the first attempt over http fetches without a poll (the git mirror then
 * still advertises the branch under its name, src/serve/).
 */
export function fetchedNames(root: string): string[] {
  let text = "";
  try {
    text = readFileSync(join(root, ".git", "FETCH_HEAD"), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => /^[0-9a-f]{40,64}\t/.test(l))
    .map((l) => {
      const m = /^[0-9a-f]+\t[^\t]*\t(?:(branch|tag) )?'([^']+)' of /.exec(l);
      if (!m) return "";
      if (m[1] === "branch") return `refs/heads/${m[2]}`;
      if (m[1] === "tag") return `refs/tags/${m[2]}`;
      return m[2]!.startsWith("refs/") ? m[2]! : "";
    });
}

/** The object FETCH_HEAD names ("<oid>\t<flags>\t<description>"), or "" if unreadable. */
export function readFetchHead(root: string): string {
  try {
    return /^([0-9a-f]{40,64})\t/.exec(readFileSync(join(root, ".git", "FETCH_HEAD"), "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}
