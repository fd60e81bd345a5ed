// Shared by the adversary tests that craft trees: objects written straight into the upstream
// repo (hash-object --literally writes a tree git itself would never make), a canary outside
// every directory git-sync owns, and what a link serves compared with `git archive`.
import { expect } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archive, git, gitEnv, head, readOr, snapshot, waitFor, type Running, type Scenario } from "../helpers/index.ts";

export type LinkMode = "symlink" | "copy";

/** git with stdin, returning trimmed stdout. */
export function gitStdin(repo: string, stdin: string | Uint8Array, ...args: string[]): string {
  const p = Bun.spawnSync(["git", ...args], { cwd: repo, env: gitEnv(), stdin: typeof stdin === "string" ? Buffer.from(stdin) : stdin, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

export function blob(repo: string, data: string): string {
  return gitStdin(repo, data, "hash-object", "-w", "--stdin");
}

/** A tree object with exactly these entries, in this order (duplicates and bad names included). */
export function rawTree(repo: string, entries: ReadonlyArray<readonly [mode: string, name: string, oid: string]>): string {
  const parts = entries.flatMap(([mode, name, oid]) => [Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")]);
  return gitStdin(repo, Buffer.concat(parts), "hash-object", "-t", "tree", "--literally", "-w", "--stdin");
}

/** A tree spec: a file's content, `{ link }` for a symlink, or a nested spec for a directory. */
export type Spec = { [name: string]: string | { link: string } | Spec };

/** A well-formed tree from a spec (entries in git's order). */
export function tree(repo: string, spec: Spec): string {
  const entries: Array<[string, string, string]> = Object.entries(spec).map(([name, v]) => {
    if (typeof v === "string") return ["100644", name, blob(repo, v)];
    if (typeof v.link === "string") return ["120000", name, blob(repo, v.link)];
    return ["40000", name, tree(repo, v as Spec)];
  });
  const key = (e: [string, string, string]) => (e[0] === "40000" ? `${e[1]}/` : e[1]);
  entries.sort((a, b) => Buffer.compare(Buffer.from(key(a)), Buffer.from(key(b))));
  return rawTree(repo, entries);
}

/** A commit of `treeOid` on main whose parent is `parent` (a reset, when it is not main's tip). */
export function commitTree(repo: string, treeOid: string, parent = head(repo), msg = "crafted"): string {
  const c = git(repo, "commit-tree", treeOid, "-p", parent, "-m", msg);
  git(repo, "update-ref", "refs/heads/main", c);
  return c;
}

/** A file and a directory outside root and every link, that nothing may change. */
export class Canary {
  readonly dir: string;
  readonly file: string;
  private static readonly WHEN = new Date("2001-02-03T04:05:06Z");
  constructor(parent: string) {
    this.dir = join(parent, "outside");
    mkdirSync(this.dir, { recursive: true });
    this.file = join(this.dir, "y");
    writeFileSync(this.file, "canary\n");
    utimesSync(this.file, Canary.WHEN, Canary.WHEN);
  }
  expectUntouched(): void {
    expect(readdirSync(this.dir)).toEqual(["y"]);
    expect(readFileSync(this.file, "utf8")).toBe("canary\n");
    expect(statSync(this.file).mtime.getTime()).toBe(Canary.WHEN.getTime());
  }
}

/** The commit the link serves now ("" before the first publish). */
export function served(t: Scenario, mode: LinkMode): string {
  return mode === "copy" ? (readOr(join(t.link, ".git-sync-hash"))?.trim() ?? "") : t.hash();
}

/** Wait until the link serves `hash`, then check it serves exactly `git archive` of it. */
export async function expectServes(t: Scenario, gs: Running, mode: LinkMode, hash: string): Promise<void> {
  await waitFor(`${mode} link serving ${hash.slice(0, 8)}`, () => served(t, mode) === hash || gs.done);
  expect(served(t, mode)).toBe(hash);
  expect(snapshot(t.link)).toEqual(archive(t.repo, hash, join(t.dir, "scratch")));
}

/** The error lines git-sync logged for failed or refused attempts so far. */
export function failures(gs: Running): string[] {
  return gs
    .logs()
    .filter((l) => l.msg === "error syncing repo, will retry" || l.verdict === "bad-tree")
    .map((l) => String(l.error));
}

/**
 * Wait until an attempt that started after now has failed (the second failure logged from here:
 * the first may come from an attempt already under way) and return its error text.
 */
export async function nextRefusal(gs: Running): Promise<string> {
  const before = failures(gs).length;
  await waitFor("a refused attempt", () => failures(gs).length >= before + 2 || gs.done, 30_000);
  const all = failures(gs);
  if (all.length < before + 2) throw new Error(`git-sync exited (${gs.code}) before refusing:\n${gs.stderr}`);
  return all[all.length - 1]!;
}
