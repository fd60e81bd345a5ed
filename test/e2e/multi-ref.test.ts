// Several refs from one process (--also-link NAME=REF, issue 15), black-box: three branches of
// one repo published at three links under one root, from one object store, with one poll per
// period and one fetch for every ref that moved; per-ref hooks, status and metrics; a vanished
// ref that does not stop the others; restarts with a changed list; startup validation.
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, git, httpGet, linkHash, metric, readOr, runBinary, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { Receiver, script } from "../hooks/_fixtures.ts";

setDefaultTimeout(60_000);

const LOOP = ["--period=100ms", "--max-failures=-1"];

/** main, release and develop, each with a commit of its own on top of the shared first one. */
function threeBranches(t: Scenario): { main: string; release: string; develop: string; shared: string } {
  const shared = git(t.repo, "rev-parse", "HEAD");
  git(t.repo, "branch", "release");
  git(t.repo, "branch", "develop");
  const main = commit(t.repo, "file", "main 1\n");
  git(t.repo, "checkout", "-q", "release");
  const release = commit(t.repo, "file", "release 1\n");
  git(t.repo, "checkout", "-q", "main");
  return { main, release, develop: shared, shared };
}

/**
 * Commits on other branches are made in a clone and pushed, so the repo's own HEAD (what the
 * main --ref=HEAD follows) never moves to another branch while git-sync watches.
 */
function work(t: Scenario): string {
  const dir = join(t.dir, "work");
  if (!existsSync(dir)) git(t.dir, "clone", "-q", t.repo, dir);
  return dir;
}

/** A commit on top of `branch` in the clone, not pushed yet. */
function commitAbove(t: Scenario, branch: string, content: string): string {
  const w = work(t);
  git(w, "fetch", "-q", "origin");
  git(w, "checkout", "-q", "-B", branch, `origin/${branch}`);
  return commit(w, "file", content);
}

/** Push the clone's `branches` in one atomic push, so one poll sees them all move. */
function push(t: Scenario, ...branches: string[]): void {
  git(work(t), "push", "-q", "--atomic", "origin", ...branches.map((b) => `${b}:${b}`));
}

/** Commit `content` on `branch` and push it. */
function commitOn(t: Scenario, branch: string, content: string): string {
  const h = commitAbove(t, branch, content);
  push(t, branch);
  return h;
}

const ALSO = ["--also-link=rel=release", "--also-link=dev=develop"];
const at = (t: Scenario, name: string) => linkHash(join(t.root, name));
const worktrees = (t: Scenario) => readdirSync(join(t.root, ".worktrees")).sort();

/** The git commands the wrapper logged since `from` (one line each, argv joined by spaces). */
function commands(log: string, from = 0): string[] {
  return (readOr(log) ?? "").split("\n").filter((l) => l !== "").slice(from);
}

test.concurrent("three refs: independent updates, a shared commit checked out once, one poll and one fetch", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  const w = t.gitWrapper();
  const r = t.start(...LOOP, `--git=${w.path}`, ...ALSO);
  await waitFor("all three links", () => t.hash() === b.main && at(t, "rel") === b.release && at(t, "dev") === b.develop, 30_000);
  // develop's commit is main's parent, not a link of its own elsewhere: three hashes, three trees.
  expect(worktrees(t)).toEqual([b.main, b.release, b.develop].sort());
  expect(readOr(join(t.root, "dev", "file"))).toBe("initial\n");
  expect(readOr(join(t.root, "rel", "file"))).toBe("release 1\n");
  // Idle polls of a local repo start no git process at all, for any number of refs.
  const idle = commands(w.log).length;
  await Bun.sleep(600);
  expect(commands(w.log, idle)).toEqual([]);

  // Two refs move at once: one fetch brings both.
  const rel2 = commitAbove(t, "release", "release 2\n");
  const dev2 = commitAbove(t, "develop", "develop 2\n");
  const before = commands(w.log).length;
  push(t, "release", "develop");
  await waitFor("rel and dev move", () => at(t, "rel") === rel2 && at(t, "dev") === dev2, 30_000);
  const fetches = commands(w.log, before).filter((c) => c.startsWith("fetch "));
  expect(fetches.length, fetches.join("\n")).toBe(1);
  expect(fetches[0]).toContain(" release develop ");
  expect(t.hash()).toBe(b.main);
  expect(readOr(join(t.root, "rel", "file"))).toBe("release 2\n");
  expect(readOr(join(t.root, "dev", "file"))).toBe("develop 2\n");

  // develop moves onto release's commit: the tree is shared, not checked out twice.
  git(t.repo, "branch", "-f", "develop", rel2);
  await waitFor("dev on release's commit", () => at(t, "dev") === rel2, 30_000);
  await waitFor("the old trees cleaned up", () => worktrees(t).join() === [b.main, rel2].sort().join(), 10_000);
  const adds = commands(w.log).filter((c) => c.startsWith("worktree add") && c.includes(rel2));
  expect(adds.length, commands(w.log).join("\n")).toBe(1);
  expect(r.done).toBe(false);
});

test.concurrent("a ref deleted upstream keeps its last good link while the others keep updating", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  const port = freePort();
  const r = t.start(...LOOP, ...ALSO, `--http-bind=127.0.0.1:${port}`, "--http-metrics", "--error-file=error.json");
  await waitFor("all three links", () => t.hash() === b.main && at(t, "rel") === b.release && at(t, "dev") === b.develop, 30_000);
  git(t.repo, "branch", "-D", "develop");
  const main2 = commit(t.repo, "file", "main 2\n");
  const rel2 = commitOn(t, "release", "release 2\n");
  await waitFor("main and rel move", () => t.hash() === main2 && at(t, "rel") === rel2, 30_000);
  expect(at(t, "dev")).toBe(b.develop);
  expect(existsSync(join(t.root, "dev", "file"))).toBe(true);
  await waitFor("dev's failure counted", async () => ((await metric(port, 'git_sync_link_count_total{link="dev",status="error"}')) ?? 0) >= 2, 10_000);
  const st = JSON.parse((await httpGet(port, "/status")).body) as { links: Array<{ name: string; hash: string; lastError: string; consecutiveFailures: number }> };
  const dev = st.links.find((l) => l.name === "dev")!;
  expect(dev.hash).toBe(b.develop);
  expect(dev.lastError).toContain("couldn't find remote ref develop");
  expect(dev.consecutiveFailures).toBeGreaterThan(0);
  expect(st.links.find((l) => l.name === "rel")!.hash).toBe(rel2);
  expect((await metric(port, 'git_sync_link_count_total{link="rel",status="success"}')) ?? 0).toBeGreaterThanOrEqual(2);
  // The whole attempt is a failure (error file, max-failures, readiness), naming the ref.
  await waitFor("the error file", () => readOr(join(t.root, "error.json")));
  expect(readOr(join(t.root, "error.json"))).toContain("couldn't find remote ref develop");
  // The branch comes back: dev follows again.
  const dev3 = commit(t.repo, "file", "main 3\n");
  git(t.repo, "branch", "develop", dev3);
  await waitFor("dev back", () => at(t, "dev") === dev3, 30_000);
  expect(r.done).toBe(false);
});

test.concurrent("hooks run per ref with GITSYNC_REF, GITSYNC_LINK and GITSYNC_HASH; the webhook names ref and link", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  const log = join(t.dir, "hook.log");
  const hook = script(t.dir, "hook.sh", `echo "$GITSYNC_LINK $GITSYNC_REF $GITSYNC_HASH $(git rev-parse HEAD)" >> '${log}'`);
  const rx = new Receiver().start();
  try {
    t.start(...LOOP, ...ALSO, `--exechook-command=${hook}`, `--webhook-url=${rx.url}`, "--webhook-payload");
    await waitFor("a hook run per ref", () => (readOr(log) ?? "").split("\n").filter(Boolean).length >= 3, 30_000);
    await waitFor("a webhook per ref", () => rx.hits.length >= 3, 30_000);
    const runs = (readOr(log) ?? "").trim().split("\n").map((l) => l.split(" "));
    const want = [
      [t.link, "HEAD", b.main],
      [join(t.root, "rel"), "release", b.release],
      [join(t.root, "dev"), "develop", b.develop],
    ];
    for (const [link, ref, hash] of want) expect(runs).toContainEqual([link!, ref!, hash!, hash!]);
    const hits = rx.hits.map((h) => [h.headers.get("Gitsync-Link"), h.headers.get("Gitsync-Ref"), h.hash, (JSON.parse(h.body) as { link: string }).link]);
    for (const [link, ref, hash] of want) expect(hits).toContainEqual([link!, ref!, hash!, link!]);
    // One ref moves: only its hooks run again, once.
    const rel2 = commitOn(t, "release", "release 2\n");
    await waitFor("rel's hook", () => (readOr(log) ?? "").includes(rel2), 30_000);
    await Bun.sleep(500);
    const later = (readOr(log) ?? "").trim().split("\n").slice(3);
    expect(later).toEqual([`${join(t.root, "rel")} release ${rel2} ${rel2}`]);
  } finally {
    rx.stop();
  }
});

test.concurrent("per-ref status in /status and `git-sync status`; /readyz needs every ref", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  const port = freePort();
  t.start(...LOOP, ...ALSO, `--http-bind=127.0.0.1:${port}`);
  await waitFor("all three links", () => t.hash() === b.main && at(t, "rel") === b.release && at(t, "dev") === b.develop, 30_000);
  await waitFor("ready", async () => (await httpGet(port, "/readyz")).status === 200, 10_000);
  const st = JSON.parse((await httpGet(port, "/status")).body) as { hash: string; links: Array<{ name: string; ref: string; link: string; hash: string; ready: boolean }> };
  expect(st.hash).toBe(b.main);
  expect(st.links.map((l) => [l.name, l.ref, l.link, l.hash, l.ready])).toEqual([
    ["rel", "release", join(t.root, "rel"), b.release, true],
    ["dev", "develop", join(t.root, "dev"), b.develop, true],
  ]);
  const cli = await runBinary(["status", `--http-bind=127.0.0.1:${port}`, `--root=${t.root}`], { env: t.env });
  expect(cli.stdout).toMatch(new RegExp(`link rel: +release -> ${b.release}; ok`));
  expect(cli.stdout).toMatch(new RegExp(`link dev: +develop -> ${b.develop}; ok`));
  // Without the endpoint, from the root alone: each registered link and its hash.
  const fromRoot = await runBinary(["status", "--http-bind=", `--root=${t.root}`, "--link=link"], { env: t.env });
  expect(fromRoot.code, fromRoot.stdout + fromRoot.stderr).toBe(0);
  expect(fromRoot.stdout).toMatch(new RegExp(`^link rel: ${b.release}$`, "m"));
  expect(fromRoot.stdout).toMatch(new RegExp(`^link dev: ${b.develop}$`, "m"));
});

test.concurrent("a restart with a shorter list removes the dropped link and its worktree; --one-time needs every ref", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  await t.syncOk(...ALSO);
  expect([t.hash(), at(t, "rel"), at(t, "dev")]).toEqual([b.main, b.release, b.develop]);
  expect(readOr(join(t.root, ".git-sync-links"))).toBe("rel\ndev\n");
  await t.syncOk("--also-link=rel=release");
  expect(existsSync(join(t.root, "dev"))).toBe(false);
  expect(worktrees(t)).toEqual([b.main, b.release].sort());
  expect(readOr(join(t.root, ".git-sync-links"))).toBe("rel\n");
  await t.syncOk();
  expect(existsSync(join(t.root, "rel"))).toBe(false);
  expect(existsSync(join(t.root, ".git-sync-links"))).toBe(false);
  expect(worktrees(t)).toEqual([b.main]);

  // A ref the remote lacks: the others publish, the run exits 1 naming it.
  const r = await t.sync("--also-link=rel=release", "--also-link=gone=no-such-branch");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("couldn't find remote ref no-such-branch");
  expect(at(t, "rel")).toBe(b.release);
  expect(t.hash()).toBe(b.main);
});

test.concurrent("tags and hashes as --also-link refs", async () => {
  await using t = await scenario();
  const b = threeBranches(t);
  git(t.repo, "tag", "-a", "v1", "-m", "v1", b.release);
  await t.syncOk("--also-link=stable=v1", `--also-link=pinned=${b.shared}`);
  expect(at(t, "stable")).toBe(b.release);
  expect(at(t, "pinned")).toBe(b.shared);
  expect(t.hash()).toBe(b.main);
});

test.concurrent("bad --also-link values fail at startup with a clear message", async () => {
  await using t = await scenario();
  const rows: Array<[string[], string]> = [
    [["--also-link=rel"], "--also-link must be NAME=REF"],
    [["--also-link==release"], "--also-link must be NAME=REF"],
    [["--also-link=rel=release", "--also-link=rel=develop"], 'name "rel" is given twice'],
    [["--also-link=link=release"], "is the --link path"],
    [["--also-link=../out=release"], "must be a path relative to --root"],
    [["--also-link=/abs=release"], "must be a path relative to --root"],
    [["--also-link=.worktrees=release"], "must be a path relative to --root"],
    [["--also-link=link/sub=release"], "inside one another"],
  ];
  for (const [flags, message] of rows) {
    const r = await t.sync(...flags);
    expect(r.code, flags.join(" ")).toBe(1);
    expect(r.stderr, flags.join(" ")).toContain(message);
  }
  // The env form: a comma list.
  const env = await runBinary(["--one-time", ...t.args()], { env: { ...t.env, GITSYNC_ALSO_LINK: "a=main,a=main" } });
  expect(env.code).toBe(1);
  expect(env.stderr).toContain('name "a" is given twice');
});

test.concurrent("refs on three commits are checked out at once; sparse checkouts and submodules take turns with root's config", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub\n");
  git(t.repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "sub");
  git(t.repo, "commit", "-q", "-m", "add submodule");
  const b = threeBranches(t);
  const sparse = join(t.dir, "sparse");
  writeFileSync(sparse, "/file\n/sub/\n");
  // Several times: the steps that write root/.git/config would collide on config.lock by chance.
  for (let i = 0; i < 3; i++) {
    rmSync(t.root, { recursive: true, force: true });
    const r = await t.sync(...ALSO, `--sparse-checkout-file=${sparse}`, "--git-config=protocol.file.allow:always");
    expect(r.code, r.stderr).toBe(0);
    expect([t.hash(), at(t, "rel"), at(t, "dev")]).toEqual([b.main, b.release, b.develop]);
    for (const name of ["link", "rel", "dev"]) expect(readOr(join(t.root, name, "sub", "file")), name).toBe("sub\n");
    expect(readOr(join(t.root, "rel", "file"))).toBe("release 1\n");
    expect(existsSync(join(t.root, "dev", ".gitmodules"))).toBe(false); // outside the sparse patterns
  }
});
