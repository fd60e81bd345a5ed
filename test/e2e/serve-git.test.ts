// --serve-git (issue 22), black-box with real git clients: the synced repository served read-only
// at /git. What is advertised is exactly what the links serve (HEAD, the ref, --also-link refs,
// a semver tag); clones and fetches over protocol v0 and v2, shallow and full; the secret; clones
// that stay complete while updates and gc run under them; a git-sync chained behind the mirror;
// serving what an earlier process published. The attacker's side is test/adversary/serve-git.test.ts.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { archive, commit, freePort, git, gitEnv, metric, snapshot, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { makeBareRepo, startGitHTTP } from "../servers/index.ts";

setDefaultTimeout(90_000);

const SECRET = "mirror-secret-0f3a9c";
const LOOP = ["--period=100ms", "--max-failures=-1"];

/** A git client run: exit code and output, never throwing. */
function client(cwd: string, args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["git", ...args], { cwd, env: gitEnv({ GIT_TERMINAL_PROMPT: "0", ...env }), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Like client, on a separate process so that many run at once. */
async function clientAsync(cwd: string, args: string[]): Promise<{ code: number; err: string }> {
  const p = Bun.spawn(["git", ...args], { cwd, env: gitEnv({ GIT_TERMINAL_PROMPT: "0" }), stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  return { code: await p.exited, err };
}

/** ls-remote as a map name -> oid. */
function lsRemote(t: Scenario, url: string, version = 2): Map<string, string> {
  const r = client(t.dir, ["-c", `protocol.version=${version}`, "ls-remote", url]);
  if (r.code !== 0) throw new Error(`ls-remote failed: ${r.err}`);
  return new Map(
    r.out
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const [oid, name] = l.split("\t");
        return [name!, oid!];
      }),
  );
}

/** The objects the mirror keeps against gc (src/serve/keep.ts). */
function keptRefs(root: string): string[] {
  return git(root, "for-each-ref", "--format=%(objectname)", "refs/namespaces/git-sync/refs/keep/")
    .split("\n")
    .filter((l) => l !== "")
    .sort();
}

function secretFile(t: Scenario, secret = SECRET): string {
  const p = join(t.dir, "mirror-secret");
  writeFileSync(p, secret + "\n");
  return p;
}

/** A mirror of t.repo's main with the secret; returns its port and the URL with credentials. */
async function mirror(t: Scenario, ...extra: string[]) {
  const port = freePort();
  const r = t.start("--ref=main", ...LOOP, `--http-bind=127.0.0.1:${port}`, "--http-metrics", "--serve-git", `--serve-git-secret-file=${secretFile(t)}`, ...extra);
  await t.waitHash(git(t.repo, "rev-parse", "main"), 15_000, r);
  return { r, port, url: `http://any:${SECRET}@127.0.0.1:${port}/git` };
}

describe.each([2, 0])("protocol v%d", (version) => {
  test("ls-remote lists exactly HEAD and the ref; shallow clone and fetch after an update; a full clone is refused clearly", async () => {
    await using t = await scenario();
    const m = await mirror(t);
    const first = git(t.repo, "rev-parse", "main");
    expect(lsRemote(t, m.url, version)).toEqual(new Map([["HEAD", first], ["refs/heads/main", first]]));
    // Root's own branch holds the same commit, but is root's: never listed.
    expect(git(t.root, "for-each-ref", "--format=%(refname)")).toContain("refs/heads/");

    const c = join(t.dir, "clone");
    const cl = client(t.dir, ["-c", `protocol.version=${version}`, "clone", "-q", "--depth=1", m.url, c]);
    expect(cl.err).toBe("");
    expect(cl.code).toBe(0);
    expect(git(c, "rev-parse", "HEAD")).toBe(first);
    expect(git(c, "symbolic-ref", "HEAD")).toBe("refs/heads/main");
    expect(snapshot(c)).toEqual(archive(t.repo, first, join(t.dir, "scratch")));

    const second = commit(t.repo, "file", "second\n");
    await t.waitHash(second, 15_000, m.r);
    await waitFor("the advertisement to follow the link", () => lsRemote(t, m.url, version).get("refs/heads/main") === second);
    // --depth=1, as into any shallow clone from a shallow server (without it git refuses to add
    // the new shallow root: "shallow roots are not allowed to be updated").
    const f = client(c, ["-c", `protocol.version=${version}`, "fetch", "-q", "--depth=1"]);
    expect(f.err).toBe("");
    expect(git(c, "rev-parse", "origin/main")).toBe(second);

    const full = client(t.dir, ["-c", `protocol.version=${version}`, "clone", "-q", m.url, join(t.dir, "full")]);
    expect(full.code).not.toBe(0);
    expect(full.err).toContain("remote error: this mirror holds only the last 1 commit of history (git-sync --depth=1)");
    expect(full.err).toContain("--depth=0");
    const deeper = client(t.dir, ["-c", `protocol.version=${version}`, "clone", "-q", "--depth=2", m.url, join(t.dir, "deeper")]);
    expect(deeper.code).not.toBe(0);

    // Which protocol the client spoke: v2 asks ls-refs (answered in-process), v0 never does.
    const lsRefs = (await metric(m.port, 'git_sync_serve_requests_total{kind="ls-refs",result="ok"}')) ?? 0;
    if (version === 2) expect(lsRefs).toBeGreaterThan(0);
    else expect(lsRefs).toBe(0);
    expect(await metric(m.port, 'git_sync_serve_requests_total{kind="fetch",result="ok"}')).toBeGreaterThanOrEqual(2);
  });

  test("a --depth=0 mirror serves full clones with all history", async () => {
    await using t = await scenario();
    commit(t.repo, "file", "two\n");
    commit(t.repo, "other", "three\n");
    const m = await mirror(t, "--depth=0");
    const c = join(t.dir, "clone");
    const cl = client(t.dir, ["-c", `protocol.version=${version}`, "clone", "-q", m.url, c]);
    expect(cl.err).toBe("");
    expect(git(c, "rev-list", "--count", "HEAD")).toBe(git(t.repo, "rev-list", "--count", "main"));
    expect(client(c, ["fsck", "--strict"]).code).toBe(0);
  });
});

describe("authentication", () => {
  test("no secret or a wrong one is 401 with a Basic challenge; the basic password with any user and a bearer token pass", async () => {
    await using t = await scenario();
    const m = await mirror(t);
    const base = `http://127.0.0.1:${m.port}/git`;
    const none = await fetch(`${base}/info/refs?service=git-upload-pack`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toStartWith("Basic ");
    const wrong = client(t.dir, ["ls-remote", `http://any:wrong-${SECRET}@127.0.0.1:${m.port}/git`]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toContain("Authentication failed");
    expect(client(t.dir, ["ls-remote", `http://someone-else:${SECRET}@127.0.0.1:${m.port}/git`]).code).toBe(0);
    const bearer = client(t.dir, ["-c", `http.extraHeader=Authorization: Bearer ${SECRET}`, "ls-remote", base]);
    expect(bearer.err).toBe("");
    expect(bearer.out).toContain("refs/heads/main");
    expect(await metric(m.port, 'git_sync_serve_requests_total{kind="other",result="unauthorized"}')).toBeGreaterThanOrEqual(2);
  });

  test("--serve-git-anonymous serves without credentials; pushes and dumb HTTP are refused", async () => {
    await using t = await scenario();
    const port = freePort();
    const r = t.start("--ref=main", ...LOOP, `--http-bind=127.0.0.1:${port}`, "--serve-git", "--serve-git-anonymous");
    await t.waitHash(git(t.repo, "rev-parse", "main"), 15_000, r);
    const url = `http://127.0.0.1:${port}/git`;
    expect(lsRemote(t, url).get("HEAD")).toBe(git(t.repo, "rev-parse", "main"));
    const c = join(t.dir, "clone");
    expect(client(t.dir, ["clone", "-q", "--depth=1", url, c]).code).toBe(0);
    writeFileSync(join(c, "new"), "x\n");
    git(c, "add", "new");
    git(c, "commit", "-qm", "push attempt");
    const push = client(c, ["push", "origin", "HEAD:main"]);
    expect(push.code).not.toBe(0);
    expect((await fetch(`${url}/info/refs?service=git-receive-pack`)).status).toBe(403);
    expect((await fetch(`${url}/info/refs`)).status).toBe(403);
    expect((await fetch(`${url}/HEAD`)).status).toBe(404);
  });

  test("without --serve-git, /git is upstream's catch-all probe, as before", async () => {
    await using t = await scenario();
    const port = freePort();
    const r = t.start("--ref=main", ...LOOP, `--http-bind=127.0.0.1:${port}`);
    await t.waitHash(git(t.repo, "rev-parse", "main"), 15_000, r);
    for (const path of ["/git", "/git/info/refs?service=git-upload-pack"]) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("");
    }
  });

  test.each([
    [["--serve-git"], "--http-bind must be specified when --serve-git is set"],
    [["--serve-git", "--http-bind=127.0.0.1:0"], "--serve-git needs --serve-git-secret-file, or --serve-git-anonymous"],
    [["--serve-git", "--http-bind=127.0.0.1:0", "--serve-git-anonymous", "--serve-git-secret-file=/x"], "contradict each other"],
    [["--serve-git-anonymous"], "--serve-git-anonymous has no effect without --serve-git"],
    [["--serve-git", "--http-bind=127.0.0.1:0", "--serve-git-anonymous", "--filter=blob:none"], "--serve-git can't be combined with --filter"],
    [["--serve-git", "--http-bind=127.0.0.1:0", "--serve-git-anonymous", "--serve-git-max-packs=0"], "--serve-git-max-packs must be at least 1"],
  ])("startup refuses %p", async (flags, message) => {
    await using t = await scenario();
    const r = await t.run([...t.args(), ...flags]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  test("a secret file that is missing or empty at startup ends it, naming the file", async () => {
    await using t = await scenario();
    const empty = join(t.dir, "empty");
    writeFileSync(empty, "\n");
    for (const file of [join(t.dir, "missing"), empty]) {
      const r = await t.run([...t.args(), "--serve-git", "--http-bind=127.0.0.1:0", `--serve-git-secret-file=${file}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("can't serve the git mirror");
      expect(r.stderr).toContain(file);
    }
  });
});

describe("what is served", () => {
  test("--also-link refs are advertised under their full names", async () => {
    await using t = await scenario();
    const main = git(t.repo, "rev-parse", "main");
    git(t.repo, "branch", "release");
    const port = freePort();
    const r = t.start("--ref=main", ...LOOP, "--also-link=rel=release", `--http-bind=127.0.0.1:${port}`, "--serve-git", `--serve-git-secret-file=${secretFile(t)}`);
    await t.waitHash(main, 15_000, r);
    const url = `http://any:${SECRET}@127.0.0.1:${port}/git`;
    const refs = await waitFor("both links advertised", () => {
      const l = lsRemote(t, url);
      return l.has("refs/heads/release") && l.has("refs/heads/main") ? l : null;
    });
    expect(refs).toEqual(new Map([["HEAD", main], ["refs/heads/main", main], ["refs/heads/release", main]]));
  });

  test("a semver ref's annotated tag is advertised as the tag object, peeled, and served with its message", async () => {
    await using t = await scenario();
    const main = git(t.repo, "rev-parse", "main");
    git(t.repo, "tag", "-a", "-m", "one", "v1.0.0");
    const tagObject = git(t.repo, "rev-parse", "v1.0.0");
    const port = freePort();
    const r = t.start("--ref=semver:>=1.0.0", ...LOOP, `--http-bind=127.0.0.1:${port}`, "--serve-git", `--serve-git-secret-file=${secretFile(t)}`);
    await t.waitHash(main, 15_000, r);
    const url = `http://any:${SECRET}@127.0.0.1:${port}/git`;
    const refs = await waitFor("the tag advertised", () => {
      const l = lsRemote(t, url);
      return l.has("refs/tags/v1.0.0") ? l : null;
    });
    expect(refs).toEqual(new Map([["HEAD", main], ["refs/tags/v1.0.0", tagObject], ["refs/tags/v1.0.0^{}", main]]));
    const c = join(t.dir, "clone");
    const cl = client(t.dir, ["clone", "-q", "--depth=1", "--branch=v1.0.0", url, c]);
    expect(cl.code).toBe(0);
    expect(git(c, "cat-file", "-t", "v1.0.0")).toBe("tag");
    expect(git(c, "rev-parse", "HEAD")).toBe(main);
  });

  test.each([["main"], ["HEAD"]])("over http the first publish advertises --ref=%s's branch by name", async (ref) => {
    await using t = await scenario();
    const repos = join(t.dir, "repos");
    const bare = makeBareRepo(repos, "repo.git");
    const srv = startGitHTTP({ projectRoot: repos });
    try {
      const port = freePort();
      // One attempt only (the period is an hour): the branch comes from FETCH_HEAD (--ref=main) or
      // from the remote's answer, asked for in that attempt (--ref=HEAD).
      const r = t.spawn([`--repo=${srv.url}/repo.git`, `--root=${t.root}`, "--link=link", `--ref=${ref}`, "--period=1h", `--http-bind=127.0.0.1:${port}`, "--serve-git", `--serve-git-secret-file=${secretFile(t)}`]);
      await t.waitHash(bare.head, 15_000, r);
      const url = `http://any:${SECRET}@127.0.0.1:${port}/git`;
      await waitFor("the first update", () => lsRemote(t, url).size > 0);
      expect(lsRemote(t, url)).toEqual(new Map([["HEAD", t.hash()], ["refs/heads/main", t.hash()]]));
      // HEAD is the branch: a clone checks it out, not a detached HEAD.
      const c = join(t.dir, "clone");
      expect(client(t.dir, ["clone", "-q", "--depth=1", url, c]).code).toBe(0);
      expect(git(c, "symbolic-ref", "HEAD")).toBe("refs/heads/main");
    } finally {
      srv.stop();
    }
  });

  test("after SIGKILL, what the earlier process published is served from the start, even while this one's syncs fail; its leftover keep refs go", async () => {
    await using t = await scenario();
    const m = await mirror(t);
    const before = t.hash();
    const served = commit(t.repo, "file", "second\n");
    await t.waitHash(served, 15_000, m.r);
    // The commit served before is still kept (a client may have read it a moment ago).
    await waitFor("both commits kept", () => keptRefs(t.root).includes(before) && keptRefs(t.root).includes(served));
    m.r.proc.kill("SIGKILL");
    await m.r.exited();
    const port = freePort();
    // The same root and link, but a remote that does not exist: every attempt fails.
    const r = t.spawn([`--repo=${join(t.dir, "gone")}`, `--root=${t.root}`, "--link=link", "--ref=main", ...LOOP, `--http-bind=127.0.0.1:${port}`, "--serve-git", `--serve-git-secret-file=${secretFile(t)}`]);
    await r.waitLog("error syncing repo, will retry");
    const url = `http://any:${SECRET}@127.0.0.1:${port}/git`;
    expect(lsRemote(t, url).get("HEAD")).toBe(served);
    const c = join(t.dir, "clone");
    expect(client(t.dir, ["clone", "-q", "--depth=1", url, c]).code).toBe(0);
    expect(git(c, "rev-parse", "HEAD")).toBe(served);
    // No client of this process can want what the killed one served before: only what is served stays kept.
    expect(keptRefs(t.root)).toEqual([served]);
  });

  test("another git-sync chained behind the mirror publishes the same commits", async () => {
    await using t = await scenario();
    const m = await mirror(t);
    const followerRoot = join(t.dir, "follower");
    const follower = t.spawn([`--repo=http://127.0.0.1:${m.port}/git`, `--root=${followerRoot}`, "--link=link", "--ref=main", ...LOOP, "--username=follower", `--password-file=${secretFile(t)}`]);
    const followerHash = () => {
      try {
        return git(followerRoot, "-C", "link", "rev-parse", "HEAD");
      } catch {
        return "";
      }
    };
    await waitFor("the follower to publish", () => followerHash() === t.hash());
    const next = commit(t.repo, "file", "for both\n");
    await t.waitHash(next, 15_000, m.r);
    await waitFor("the follower to publish the new commit", () => followerHash() === next);
    expect(snapshot(join(followerRoot, "link"))).toEqual(archive(t.repo, next, join(t.dir, "scratch")));
    expect(follower.stderr).not.toContain(SECRET);
  });
});

test("20 clones at once while updates and gc run: each is complete and equals a published commit", async () => {
  await using t = await scenario();
  // Enough files that a clone takes a while, so updates and gc land while packs are being made.
  for (let i = 0; i < 300; i++) writeFileSync(join(t.repo, `f${i}`), `${i} ${"x".repeat(2000)}\n`);
  git(t.repo, "add", ".");
  git(t.repo, "commit", "-qm", "many files");
  const published = new Set([git(t.repo, "rev-parse", "main")]);
  const m = await mirror(t, "--serve-git-max-packs=20", "--git-gc=always", "-v", "3");

  let updating = true;
  const updates = (async () => {
    for (let i = 0; updating && i < 30; i++) {
      const h = commit(t.repo, `f${i % 300}`, `update ${i}\n`);
      published.add(h);
      await t.waitHash(h, 15_000, m.r);
    }
  })();
  const clones = Array.from({ length: 20 }, async (_, i) => {
    const dir = join(t.dir, `c${i}`);
    const r = await clientAsync(t.dir, ["-c", `protocol.version=${i % 2 === 0 ? 2 : 0}`, "clone", "-q", "--depth=1", m.url, dir]);
    return { dir, ...r };
  });
  const done = await Promise.all(clones);
  updating = false;
  await updates;

  for (const c of done) {
    expect(c.err).toBe("");
    expect(c.code).toBe(0);
    const hash = git(c.dir, "rev-parse", "HEAD");
    expect(published.has(hash)).toBe(true);
    expect(client(c.dir, ["fsck", "--no-dangling"]).code).toBe(0);
    expect(snapshot(c.dir)).toEqual(archive(t.repo, hash, join(t.dir, "scratch")));
  }
  // gc did run while the mirror served (it runs after each update removes the old worktree).
  expect(m.r.count("running git gc")).toBeGreaterThan(0);
  expect(await metric(m.port, 'git_sync_serve_requests_total{kind="fetch",result="busy"}')).toBeUndefined();
});
