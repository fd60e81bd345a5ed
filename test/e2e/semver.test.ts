// `--ref=semver:RANGE` (issue 16): the link follows the highest release tag in the range, over a
// repo on this machine (its ref files) and over smart HTTP (in-process ls-refs); hooks, /status,
// `git-sync status` and the webhook name the tag chosen.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { commit, freePort, git, httpGet, metric, ERROR, NOOP, readOr, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { Receiver, script } from "../hooks/_fixtures.ts";
import { startGitHTTP, startRedirectProxy } from "../servers/index.ts";

const RANGE = "--ref=semver:>=1.0.0 <2.0.0";

/** Tags in a work repo, and how the served repo gets them (the same repo, or a push to a bare one). */
interface Upstream {
  work: string;
  url: string;
  publish(): void;
  stop(): void;
}

function localUpstream(t: Scenario): Upstream {
  return { work: t.repo, url: t.repo, publish() {}, stop() {} };
}

function httpUpstream(t: Scenario): Upstream {
  const repos = join(t.dir, "repos");
  const bare = join(repos, "repo.git");
  git(t.dir, "init", "-q", "--bare", "-b", "main", bare);
  const srv = startGitHTTP({ projectRoot: repos });
  const publish = () => git(t.repo, "push", "-q", "--prune", bare, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*");
  publish();
  return { work: t.repo, url: `${srv.url}/repo.git`, publish, stop: () => srv.stop() };
}

async function waitPolls(port: number, n: number): Promise<void> {
  const start = (await metric(port, NOOP)) ?? 0;
  await waitFor(`${n} idle polls`, async () => ((await metric(port, NOOP)) ?? 0) >= start + n, 20_000);
}

for (const [kind, make] of [["a local repo", localUpstream], ["smart HTTP", httpUpstream]] as const) {
  test.concurrent(`semver over ${kind}: a new tag in range is published, one outside is ignored, a deleted one moves back, no match keeps the link`, async () => {
    await using t = await scenario();
    const up = make(t);
    try {
      const c100 = commit(t.repo, "file", "1.0.0\n");
      git(t.repo, "tag", "v1.0.0");
      const c110 = commit(t.repo, "file", "1.1.0\n");
      git(t.repo, "tag", "-a", "-m", "release 1.1.0", "v1.1.0"); // annotated: peeled to its commit
      commit(t.repo, "file", "2.0.0\n");
      git(t.repo, "tag", "v2.0.0");
      git(t.repo, "tag", "latest");
      git(t.repo, "tag", "1.9"); // not SemVer: ignored
      git(t.repo, "pack-refs", "--all"); // the packed-refs path too
      up.publish();

      const port = freePort();
      const out = join(t.dir, "hook.out");
      const hook = script(t.dir, "hook", `echo "$GITSYNC_RESOLVED_REF $GITSYNC_HASH" >> '${out}'`);
      const rcv = new Receiver().start();
      try {
        const gs = t.spawn([`--repo=${up.url}`, `--root=${t.root}`, "--link=link", RANGE, "--period=100ms", "--max-failures=-1", `--http-bind=127.0.0.1:${port}`, "--http-metrics", `--exechook-command=${hook}`, "--exechook-backoff=1s", `--webhook-url=${rcv.url}`, "--webhook-payload", "--webhook-backoff=1s"]);
        await t.waitHash(c110, 15_000, gs);
        expect(t.read()).toBe("1.1.0\n");
        await waitFor("hook ran", () => readOr(out)?.includes(c110));
        expect(readOr(out)).toBe(`refs/tags/v1.1.0 ${c110}\n`);
        await waitFor("webhook", () => rcv.hits.length >= 1);
        expect(rcv.hits[0]!.headers.get("Gitsync-Resolved-Ref")).toBe("refs/tags/v1.1.0");
        expect(JSON.parse(rcv.hits[0]!.body)).toMatchObject({ ref: "semver:>=1.0.0 <2.0.0", resolvedRef: "refs/tags/v1.1.0", hash: c110 });
        const status = JSON.parse((await httpGet(port, "/status")).body) as { resolvedRef: string; hash: string };
        expect(status).toMatchObject({ resolvedRef: "refs/tags/v1.1.0", hash: c110 });
        const cli = await t.run(["status", `--http-bind=127.0.0.1:${port}`, `--pid=${gs.proc.pid}`]);
        expect(cli.stdout).toMatch(/^tag: +refs\/tags\/v1\.1\.0$/m);

        // A new tag in range (a pre-release is not: the range names none).
        git(t.repo, "checkout", "-q", "-b", "rel", c110);
        git(t.repo, "tag", "v1.3.0-rc.1", commit(t.repo, "file", "1.3.0-rc.1\n"));
        const c120 = commit(t.repo, "file", "1.2.0\n");
        git(t.repo, "tag", "v1.2.0");
        up.publish();
        await t.waitHash(c120, 15_000, gs);
        expect(t.read()).toBe("1.2.0\n");
        await waitFor("hook ran for v1.2.0", () => readOr(out)?.includes(`refs/tags/v1.2.0 ${c120}`));

        // A tag outside the range is ignored.
        git(t.repo, "tag", "v2.1.0", commit(t.repo, "file", "2.1.0\n"));
        up.publish();
        await waitPolls(port, 5);
        expect(t.hash()).toBe(c120);

        // Deleting the chosen tag moves back to the best remaining one.
        git(t.repo, "tag", "-d", "v1.2.0");
        up.publish();
        await t.waitHash(c110, 15_000, gs);
        expect(t.read()).toBe("1.1.0\n");

        // No tag in range: an error each poll, and the last good link stays.
        const errors = (await metric(port, ERROR)) ?? 0;
        git(t.repo, "tag", "-d", "v1.1.0", "v1.0.0");
        up.publish();
        await waitFor("failing polls", async () => ((await metric(port, ERROR)) ?? 0) >= errors + 2);
        expect(gs.stderr).toContain("no tag matches semver:>=1.0.0 <2.0.0");
        expect(t.hash()).toBe(c110);
        expect(t.read()).toBe("1.1.0\n");
        expect(gs.done).toBe(false);

        // And a new match is picked up again.
        git(t.repo, "tag", "v1.0.1", c100);
        up.publish();
        await t.waitHash(c100, 15_000, gs);
      } finally {
        rcv.stop();
      }
    } finally {
      up.stop();
    }
  });
}

test.concurrent("semver --one-time publishes the highest tag in range", async () => {
  await using t = await scenario();
  const c = commit(t.repo, "file", "0.2.0\n");
  git(t.repo, "tag", "0.2.0");
  git(t.repo, "tag", "0.10.0-beta.1", commit(t.repo, "file", "beta\n"));
  await t.syncOk("--ref=semver:^0.2.0 || ^0.10.0-0");
  // ^0.2.0 is <0.3.0; ^0.10.0-0 names a pre-release of 0.10.0, so 0.10.0-beta.1 matches and is higher.
  expect(t.read()).toBe("beta\n");
  await t.syncOk("--ref=semver:~0.2");
  expect(t.hash()).toBe(c);
});

test.concurrent("semver polled with git ls-remote --tags (a URL rewrite rules out reading the files) peels an annotated tag", async () => {
  await using t = await scenario();
  const c = commit(t.repo, "file", "1.5.0\n");
  git(t.repo, "tag", "-a", "-m", "1.5.0", "v1.5.0");
  commit(t.repo, "file", "after\n");
  const r = await t.syncOk(RANGE, "--git-config=url.file:///nowhere/.insteadOf:file:///elsewhere/", "-v=3");
  expect(r.stderr).toContain('"method":"ls-remote"');
  expect(t.hash()).toBe(c);
});

test.concurrent("semver --one-time with no matching tag fails and publishes nothing", async () => {
  await using t = await scenario();
  git(t.repo, "tag", "v3.0.0");
  const r = await t.sync(RANGE);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("no tag matches semver:>=1.0.0 <2.0.0 (the remote has 1 tag)");
  expect(t.hash()).toBe("");
});

test.concurrent("an invalid semver range is a startup error", async () => {
  await using t = await scenario();
  const r = await t.sync("--ref=semver:>=1.0 garbage");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('invalid flag: --ref "semver:>=1.0 garbage" is not a valid semver range: "garbage" is not a version');
});

test.concurrent("semver over a server the in-process request can't use (a redirect): git ls-remote --tags answers, from then on", async () => {
  await using t = await scenario();
  git(t.repo, "tag", "v1.0.0");
  const up = httpUpstream(t);
  const proxy = startRedirectProxy(up.url.slice(0, -"/repo.git".length));
  try {
    const w = t.gitWrapper();
    const r = t.spawn([`--repo=${proxy.url}/repo.git`, `--root=${t.root}`, "--link=link", `--git=${w.path}`, RANGE, "--period=100ms", "-v=2"]);
    await t.waitHash(git(t.repo, "rev-parse", "v1.0.0"));
    await r.waitLog("in-process ref query fails where git works; polling with git ls-remote from now on");
    expect(r.count("in-process ref query fails where git works; polling with git ls-remote from now on")).toBe(1);
    const v11 = commit(t.repo, "file", "1.1\n");
    git(t.repo, "tag", "v1.1.0");
    up.publish();
    await t.waitHash(v11);
    expect(readOr(w.log)?.split("\n").filter((l) => l.startsWith("ls-remote --tags ")).length).toBeGreaterThan(1);
  } finally {
    proxy.stop();
    up.stop();
  }
});
