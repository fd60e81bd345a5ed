// What an idle poll costs and what it still notices (issue 7): after a good sync, each poll is a
// few file reads and one question to the remote: no process at all for a repo on this machine
// (its ref files are read) or over http(s) (an in-process smart-HTTP request with git's
// credentials), one `git ls-remote` otherwise (ssh, or what those can't read with certainty).
// Counted with a --git wrapper that logs every git call git-sync makes.
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, git, head, metric, NOOP, readOr, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { makeBareRepo, pushCommit, startGitHTTP, startRedirectProxy } from "../servers/index.ts";

/** The git subcommands logged by the wrapper after the first `n` lines. */
function callsAfter(log: string, n: number): string[] {
  return (readOr(log) ?? "").split("\n").filter((l) => l !== "").slice(n);
}

function lines(log: string): number {
  return callsAfter(log, 0).length;
}

/** Wait until git-sync has made `n` more no-op polls than it had at the start. */
async function waitPolls(port: number, n: number): Promise<void> {
  const start = (await metric(port, NOOP)) ?? 0;
  await waitFor(`${n} idle polls`, async () => ((await metric(port, NOOP)) ?? 0) >= start + n, 20_000, 50);
}

function reposDir(t: Scenario): string {
  const d = join(t.dir, "repos");
  mkdirSync(d, { recursive: true });
  return d;
}

for (const url of ["path", "file://"]) {
  test.concurrent(`an idle poll of a ${url} repo starts no process; a commit is still seen`, async () => {
    await using t = await scenario();
    const w = t.gitWrapper();
    const port = freePort();
    const repo = url === "path" ? t.repo : `file://${t.repo}`;
    t.spawn([`--repo=${repo}`, `--root=${t.root}`, "--link=link", `--git=${w.path}`, "--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics"]);
    await t.waitHash(head(t.repo));
    await waitPolls(port, 1);
    const before = lines(w.log);
    await waitPolls(port, 5);
    expect(callsAfter(w.log, before)).toEqual([]);
    const h2 = commit(t.repo, "file", "two\n");
    await t.waitHash(h2);
    expect(t.read()).toBe("two\n");
  });
}

test.concurrent("a tag the poll can't read with certainty is asked of git ls-remote", async () => {
  await using t = await scenario();
  git(t.repo, "tag", "-a", "-m", "v1", "v1");
  git(t.repo, "repack", "-q", "-a", "-d");
  // A loose ref to a tag object that only a pack holds.
  git(t.repo, "update-ref", "refs/tags/v2", git(t.repo, "rev-parse", "v1"));
  const w = t.gitWrapper();
  const port = freePort();
  t.start(`--git=${w.path}`, "--ref=v2", "--period=100ms", `--http-bind=127.0.0.1:${port}`, "--http-metrics");
  await t.waitHash(head(t.repo));
  await waitPolls(port, 1);
  const before = lines(w.log);
  await waitPolls(port, 3);
  const calls = callsAfter(w.log, before);
  expect(calls.length).toBeGreaterThan(0);
  expect(calls.every((c) => c.startsWith("ls-remote --symref "))).toBe(true);
});

test.concurrent("a moved branch is fetched by ref after the poll sees it, with the fetched hash checked", async () => {
  await using t = await scenario();
  const w = t.gitWrapper();
  t.start(`--git=${w.path}`, "--period=100ms");
  await t.waitHash(head(t.repo));
  const before = lines(w.log);
  const h2 = commit(t.repo, "file", "two\n");
  await t.waitHash(h2);
  expect(t.read()).toBe("two\n");
  const calls = callsAfter(w.log, before);
  expect(calls.some((c) => c.startsWith(`fetch ${t.repo} HEAD `))).toBe(true);
  // What is published is what git's own objects say the fetched object is (issue 20), never the
  // poll's word: one `git rev-parse` peels it.
  const peels = calls.filter((c) => c.startsWith("rev-parse"));
  expect(peels.length).toBeLessThanOrEqual(1);
  expect(peels.every((c) => c === `rev-parse ${h2}^{commit}`)).toBe(true);
});

test.concurrent("an annotated tag is polled and synced as the commit it points to", async () => {
  await using t = await scenario();
  git(t.repo, "tag", "-a", "-m", "v1", "v1");
  const r = t.start("--ref=v1", "--period=100ms");
  await t.waitHash(head(t.repo));
  // Idle polls see the tag's commit, not its tag object, as unchanged.
  await Bun.sleep(600);
  expect(r.count("update required")).toBe(1);
  expect(t.hash()).toBe(head(t.repo));
  const h2 = commit(t.repo, "file", "two\n");
  git(t.repo, "tag", "-f", "-a", "-m", "v1 again", "v1");
  await t.waitHash(h2);
  expect(t.read()).toBe("two\n");
});

test.concurrent("a branch and a tag of the same name: the tag wins, as in git fetch", async () => {
  await using t = await scenario();
  git(t.repo, "branch", "same");
  const tagged = commit(t.repo, "file", "tagged\n");
  git(t.repo, "tag", "same");
  git(t.repo, "reset", "-q", "--hard", "same@{0}");
  commit(t.repo, "file", "branch moves on\n");
  git(t.repo, "branch", "-f", "same", "HEAD");
  t.start("--ref=same", "--period=100ms");
  await t.waitHash(tagged);
  // A new commit on the branch is not picked up while the tag is where it was.
  commit(t.repo, "file", "later\n");
  git(t.repo, "branch", "-f", "same", "HEAD");
  await Bun.sleep(800);
  expect(t.hash()).toBe(tagged);
});

for (const v2 of [true, false]) {
  test.concurrent(`http(s) ${v2 ? "protocol v2" : "protocol v0 server"}: idle polls start no process, use git's credentials, and see a push`, async () => {
    await using t = await scenario();
    const repos = reposDir(t);
    const bare = makeBareRepo(repos, "repo.git");
    const srv = startGitHTTP({ projectRoot: repos, users: { alice: "pw-in-process" }, protocolV2: v2 });
    try {
      const w = t.gitWrapper();
      const port = freePort();
      const pwFile = join(t.dir, "password");
      writeFileSync(pwFile, "pw-in-process");
      t.spawn([`--repo=${srv.url}/repo.git`, `--root=${t.root}`, "--link=link", `--git=${w.path}`, "--period=100ms", "--username=alice", `--password-file=${pwFile}`, `--http-bind=127.0.0.1:${port}`, "--http-metrics", "-v=2"]);
      await t.waitHash(bare.head);
      await waitPolls(port, 1);
      const before = lines(w.log);
      const requestsBefore = srv.requests.length;
      await waitPolls(port, 5);
      const calls = callsAfter(w.log, before);
      expect(calls).toEqual([]);
      // The next poll may be in flight (status 0 until the server has answered it).
      const polls = srv.requests.slice(requestsBefore).filter((r) => r.status !== 0);
      // A poll in flight when the window opened is counted among the 5 but made its request before.
      expect(polls.length).toBeGreaterThanOrEqual(4);
      expect(polls.filter((r) => !(r.user === "alice" && r.status === 200))).toEqual([]);
      // v2: one POST ls-refs per poll; v0: the advertisement (GET info/refs) each time.
      expect(polls.every((r) => (v2 ? r.method === "POST" && r.path.endsWith("/git-upload-pack") : r.method === "GET" && r.path.endsWith("/info/refs")))).toBe(true);

      const h2 = pushCommit(repos, "repo.git", "file", "pushed\n");
      await t.waitHash(h2);
      expect(readFileSync(join(t.root, "link", "file"), "utf8")).toBe("pushed\n");
    } finally {
      srv.stop();
    }
  });
}

test.concurrent("http: a server the in-process poll can't use (a redirect) hands polling to git ls-remote", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const bare = makeBareRepo(repos, "repo.git");
  const srv = startGitHTTP({ projectRoot: repos });
  const proxy = startRedirectProxy(srv.url);
  try {
    const w = t.gitWrapper();
    const port = freePort();
    const r = t.spawn([`--repo=${proxy.url}/repo.git`, `--root=${t.root}`, "--link=link", `--git=${w.path}`, "--period=100ms", "-v=2", `--http-bind=127.0.0.1:${port}`, "--http-metrics"]);
    await t.waitHash(bare.head);
    await r.waitLog("in-process ref query fails where git works; polling with git ls-remote from now on");
    await waitPolls(port, 2);
    const before = lines(w.log);
    await waitPolls(port, 3);
    const calls = callsAfter(w.log, before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.startsWith("ls-remote --symref "))).toBe(true);
    const h2 = pushCommit(repos, "repo.git", "file", "pushed\n");
    await t.waitHash(h2);
  } finally {
    proxy.stop();
    srv.stop();
  }
});
