// Crash-point sweep (issue 13): SIGKILL git-sync at every git command of a clean run, restart it
// with the same flags, and check that the restart converges and that the served tree never went
// away. Run alone with `npx bun test test/e2e/crash.test.ts`; it prints the figures the README's
// "Reliability" section quotes.
//
// How a crash is made: `--git` is a wrapper that numbers each git call (the exechook's git
// included: the hook runs the same wrapper) and, at call N, finds git-sync among its ancestors
// (by /proc/<pid>/exe: git's parent is git-sync, a hook's git has the hook in between) and
// SIGKILLs it, in one of two variants:
//   before  the command starts;
//   during  git runs in the background, and after CRASH_DELAY the wrapper kills git-sync and then
//           its own process group (git and its children), as a container kill would: a git left
//           to finish would clean its own lock files, which is not what a crash leaves.
// The sweep first counts the calls of a clean run, then crashes at N = 1..count, for a first
// sync (empty root) and an update (a root synced at h1, the remote at h2), with an exechook and
// --git-gc=always so hooks and gc are crash points too. "during" crashes each call three times,
// at a quarter, half and three quarters of its duration in the clean run (the wrapper sleeps
// without forking, so sub-millisecond delays hold); the figure printed at the end says how many
// of those found git still running (the others kill git-sync after git's work, before it reads
// the answer: a crash point too). A crash between calls (after the symlink
// swap, during cleanup's file removal) is the "before" point of the next call.
//
// What is checked, per crash point:
//   converges  the restart (no crash) exits 0; the link names .worktrees/<h2>; the tree equals
//              `git archive h2`; .worktrees holds h2 alone; git lists no other worktree; nothing
//              of a repair (tmp-link, .git-sync-repair) or a killed git (*.lock) is left.
//   no outage  from the moment a complete tree is served (before the crashed run for an update,
//              when the link first appears for a first sync) until the restart has exited, a
//              poller (every ~1 ms, in this process) resolves the link and compares what it
//              serves with the tree of h1 or h2, whichever the link names. A read that races a
//              publish (the link moved while the tree was read, and cleanup removed the old one)
//              is retried: readers are expected to resolve the link for each read.
import { afterAll, expect, test } from "bun:test";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BIN, commit, git, head, runBinary, tmpDir, type RunResult } from "../helpers/index.ts";

const GIT = Bun.which("git") ?? "/usr/bin/git";

interface Figures {
  points: number;
  /** "during" points where git was still running when git-sync was killed. */
  midCommand: number;
  failedRestarts: string[];
  outages: string[];
}
const figures: Figures = { points: 0, midCommand: 0, failedRestarts: [], outages: [] };
const started = Date.now();

/** A file tree as path -> content ("->target" for symlinks, "+x" suffix for executables). */
type Tree = Map<string, string>;

function readTree(dir: string, prefix = ""): Tree {
  const out: Tree = new Map();
  for (const name of readdirSync(join(dir, prefix))) {
    if (prefix === "" && name === ".git") continue;
    const rel = prefix === "" ? name : `${prefix}/${name}`;
    const p = join(dir, rel);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.set(rel, `->${readlinkSync(p)}`);
    else if (st.isDirectory()) for (const [k, v] of readTree(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(p, "utf8") + (st.mode & 0o100 ? "+x" : ""));
  }
  return out;
}

function sameTree(a: Tree, b: Tree): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** The tree of `hash` as `git archive` writes it. */
function archiveTree(repo: string, hash: string, dir: string): Tree {
  mkdirSync(dir, { recursive: true });
  const tar = Bun.spawnSync(["git", "archive", "--format=tar", hash], { cwd: repo });
  Bun.spawnSync(["tar", "-x", "-C", dir], { stdin: tar.stdout });
  return readTree(dir);
}

/** The world the sweep shares: an upstream repo at h2, a root synced at h1, the wrapper and the hook. */
class World {
  readonly dir = tmpDir("gs-crash-");
  readonly repo = join(this.dir, "repo");
  readonly wrapper = join(this.dir, "git-wrapper");
  readonly hook = join(this.dir, "hook.sh");
  readonly template = join(this.dir, "synced-h1");
  h1 = "";
  h2 = "";
  trees = new Map<string, Tree>();

  async setup(): Promise<void> {
    mkdirSync(this.repo);
    git(this.repo, "init", "-q", "-b", "main");
    commit(this.repo, "file", "one\n");
    commit(this.repo, "dir/a", "a1\n");
    writeFileSync(join(this.repo, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    git(this.repo, "add", "-A");
    git(this.repo, "commit", "-q", "-m", "exec");
    this.h1 = head(this.repo);
    writeFileSync(
      this.wrapper,
      `#!/bin/bash
exec 9>>"$CRASH_DIR/count.lock"
flock 9
n=$(( $(cat "$CRASH_DIR/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$CRASH_DIR/count"
printf '%s %s\\n' "$n" "$*" >> "$CRASH_DIR/calls"
exec 9>&-
if [ "$n" = "$CRASH_AT" ]; then
  p=$PPID
  while [ "$p" -gt 1 ] && [ "$(readlink /proc/$p/exe)" != "$CRASH_BIN" ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done
  [ "$p" -gt 1 ] || { echo "crash wrapper: no git-sync among my ancestors" >&2; exit 99; }
  if [ "$CRASH_MODE" = before ]; then kill -9 "$p"; exit 137; fi
  ${GIT} "$@" &
  gitpid=$!
  # A sleep without a fork (read times out on a pipe nobody writes): sub-millisecond delays hold.
  exec 8<> <(:)
  read -r -t "$CRASH_DELAY" -u 8
  st=$(cut -d' ' -f3 "/proc/$gitpid/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && echo "$n" >> "$CRASH_DIR/mid-command"
  kill -9 "$p"
  # git-sync starts each git (and each hook) as a process group of its own; never the test's.
  g=$(cut -d' ' -f5 /proc/$$/stat)
  [ "$g" != "$CRASH_TEST_PGID" ] && kill -9 -- -"$g"
  exit 137
fi
if [ -n "$CRASH_TIMES" ]; then
  t0=$(date +%s%N); ${GIT} "$@"; rc=$?; t1=$(date +%s%N)
  echo "$n $(( (t1 - t0) / 1000 ))" >> "$CRASH_DIR/times"
  exit $rc
fi
exec ${GIT} "$@"
`,
      { mode: 0o755 },
    );
    writeFileSync(this.hook, `#!/bin/sh\nexec "$CRASH_WRAPPER" rev-parse HEAD >/dev/null\n`, { mode: 0o755 });
    // The root an update starts from: synced at h1 by a clean run, then the remote moves on.
    const r = await runBinary(this.args(this.template), { env: this.env(this.dir, 0, "before") });
    if (r.code !== 0) throw new Error(`template sync failed:\n${r.stderr}`);
    rmSync(join(this.dir, "count"));
    rmSync(join(this.dir, "calls"));
    commit(this.repo, "file", "two\n");
    rmSync(join(this.repo, "dir"), { recursive: true });
    commit(this.repo, "dir2/b", "b2\n");
    this.h2 = head(this.repo);
    this.trees.set(this.h1, archiveTree(this.repo, this.h1, join(this.dir, "archive-h1")));
    this.trees.set(this.h2, archiveTree(this.repo, this.h2, join(this.dir, "archive-h2")));
  }

  args(root: string): string[] {
    return ["--one-time", `--repo=${this.repo}`, `--root=${root}`, "--link=link", `--git=${this.wrapper}`, `--exechook-command=${this.hook}`, "--git-gc=always"];
  }

  /** `delay`: seconds from starting git to the kill ("during"); `times`: record each call's duration. */
  env(dir: string, at: number, mode: "before" | "during", opts: { delay?: number; times?: boolean } = {}): Record<string, string> {
    mkdirSync(join(dir, "tmp"), { recursive: true });
    const pgid = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")[2]!;
    const env: Record<string, string> = { TMPDIR: join(dir, "tmp"), CRASH_DIR: dir, CRASH_AT: String(at), CRASH_MODE: mode, CRASH_BIN: BIN, CRASH_GIT: GIT, CRASH_WRAPPER: this.wrapper, CRASH_TEST_PGID: pgid };
    env.CRASH_DELAY = (opts.delay ?? 0.005).toFixed(4);
    if (opts.times) env.CRASH_TIMES = "1";
    return env;
  }

  /** A fresh case dir: an empty root for a first sync, a copy of the h1 root for an update. */
  caseDir(name: string, update: boolean): { dir: string; root: string } {
    const dir = join(this.dir, name);
    const root = join(dir, "root");
    mkdirSync(dir, { recursive: true });
    if (update) {
      cpSync(this.template, root, { recursive: true, verbatimSymlinks: true });
      // git records each worktree's absolute path in its admin dir: point it at the copy.
      for (const admin of readdirSync(join(root, ".git", "worktrees"))) {
        const f = join(root, ".git", "worktrees", admin, "gitdir");
        writeFileSync(f, readFileSync(f, "utf8").replace(this.template, root));
      }
    }
    return { dir, root };
  }
}

/** Resolves the link over and over while a run goes on; collects outages (see the header). */
class Poller {
  served = false;
  outages: string[] = [];
  private stop = false;
  private done: Promise<void>;

  constructor(
    private readonly link: string,
    private readonly trees: Map<string, Tree>,
    initiallyServed: boolean,
  ) {
    this.served = initiallyServed;
    this.done = this.loop();
  }

  private check(): string {
    let target: string;
    try {
      target = readlinkSync(this.link);
    } catch {
      return "no link";
    }
    const want = this.trees.get(basename(target));
    if (!want) return `link names ${target}`;
    let got: Tree;
    try {
      // Without the worktree's .git file: it is git's, not the tree's.
      got = readTree(join(dirname(this.link), target));
    } catch (e) {
      return `can't read ${target}: ${(e as Error).message}`;
    }
    return sameTree(got, want) ? "" : `${target} is not the tree of ${basename(target)}`;
  }

  private async loop(): Promise<void> {
    while (!this.stop) {
      const before = linkOr(this.link);
      const bad = this.check();
      if (bad === "") this.served = true;
      else if (this.served && linkOr(this.link) === before && this.check() !== "") this.outages.push(bad);
      await Bun.sleep(1);
    }
  }

  async finish(): Promise<string[]> {
    this.stop = true;
    await this.done;
    return this.outages;
  }
}

function linkOr(link: string): string {
  try {
    return readlinkSync(link);
  } catch {
    return "";
  }
}

/** What is wrong with root after the restart ([] = converged). */
function convergenceProblems(w: World, root: string): string[] {
  const problems: string[] = [];
  const link = join(root, "link");
  const target = linkOr(link);
  if (target !== `.worktrees/${w.h2}`) problems.push(`link -> ${target || "(none)"}`);
  else if (!sameTree(readTree(join(root, target)), w.trees.get(w.h2)!)) problems.push("tree differs from git archive");
  const wts = existsSync(join(root, ".worktrees")) ? readdirSync(join(root, ".worktrees")) : [];
  if (wts.join() !== w.h2) problems.push(`.worktrees holds ${wts.join(", ")}`);
  const listed = git(root, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "));
  if (listed.length !== 2) problems.push(`git lists ${listed.length} worktrees: ${listed.join("; ")}`);
  for (const leftover of ["tmp-link", ".git-sync-repair"]) if (existsSync(join(root, leftover))) problems.push(`${leftover} left`);
  const locks = Bun.spawnSync(["find", join(root, ".git"), "-name", "*.lock", "-o", "-name", "locked", "-o", "-name", "tmp_*"]).stdout.toString().trim();
  if (locks !== "") problems.push(`left in .git: ${locks}`);
  return problems;
}

function describe(r: RunResult): string {
  const errs = r.stderr
    .split("\n")
    .filter((l) => l.includes('"error"') || !l.startsWith("{"))
    .slice(-3);
  return `exit ${r.code ?? r.signal}: ${errs.join(" | ")}`;
}

const world = new World();
const ready = world.setup();

afterAll(() => {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  // The figures README's "Reliability" section quotes.
  console.log(`crash sweep: ${figures.points} crash points (${figures.midCommand} with git killed mid-command), ${figures.failedRestarts.length} failed restarts, ${figures.outages.length} with a served-tree outage, ${secs} s`);
  rmSync(world.dir, { recursive: true, force: true });
});

for (const kind of ["first sync", "update"] as const) {
  for (const mode of ["before", "during"] as const) {
    test(`a restart after SIGKILL ${mode === "before" ? "before" : "during"} each git command of a ${kind} converges, and the served tree stays`, async () => {
      await ready;
      const update = kind === "update";
      // Count the git calls of a clean run of this kind.
      const clean = world.caseDir(`${kind}-${mode}-clean`.replace(" ", "-"), update);
      const r0 = await runBinary(world.args(clean.root), { env: world.env(clean.dir, 0, mode, { times: true }) });
      expect(r0.code).toBe(0);
      const count = Number(readFileSync(join(clean.dir, "count"), "utf8").trim());
      // Each call's duration in the clean run: "during" kills at fractions of it (below).
      const micros = new Map(readFileSync(join(clean.dir, "times"), "utf8").trim().split("\n").map((l) => l.split(" ").map(Number) as [number, number]));
      expect(count).toBeGreaterThan(3);
      rmSync(clean.dir, { recursive: true, force: true });

      const failed: string[] = [];
      const outages: string[] = [];
      // "during" kills at a quarter, half and three quarters of the call's clean duration.
      const points = Array.from({ length: count }, (_, i) => i + 1).flatMap((n) => (mode === "before" ? [{ n, at: 0 }] : [0.25, 0.5, 0.75].map((at) => ({ n, at }))));
      for (const { n, at } of points) {
        const c = world.caseDir(`${kind}-${mode}-${n}-${at}`.replace(" ", "-"), update);
        const link = join(c.root, "link");
        const poller = new Poller(link, world.trees, update);
        const delay = Math.max(0.0005, ((micros.get(n) ?? 2000) * at) / 1e6);
        const crashed = await runBinary(world.args(c.root), { env: world.env(c.dir, n, mode, { delay }) });
        if (existsSync(join(c.dir, "mid-command"))) figures.midCommand++;
        const call = readFileSync(join(c.dir, "calls"), "utf8").split("\n")[n - 1] ?? "";
        const point = `${kind}, ${mode}${at ? ` ${at * 100}%` : ""} call ${n} (${call.replace(/^\d+ /, "").replace(c.root, "<root>").slice(0, 60)})`;
        if (crashed.signal !== "SIGKILL") failed.push(`${point}: the crashed run was not killed (${describe(crashed)})`);
        // The restart: same flags, no crash (its calls are numbered on from n, past CRASH_AT).
        const restart = await runBinary(world.args(c.root), { env: world.env(c.dir, 0, mode) });
        // One entry per crash point, however many reads saw the outage.
        const seen = await poller.finish();
        if (seen.length > 0) outages.push(`${point}: ${seen[0]} (${seen.length} reads)`);
        figures.points++;
        const problems = restart.code === 0 ? convergenceProblems(world, c.root) : [describe(restart)];
        if (problems.length > 0) failed.push(`${point}: ${problems.join("; ")}`);
        if (problems.length === 0) rmSync(c.dir, { recursive: true, force: true });
      }
      figures.failedRestarts.push(...failed);
      figures.outages.push(...outages);
      expect(failed).toEqual([]);
      expect(outages).toEqual([]);
    }, 120_000);
  }
}

