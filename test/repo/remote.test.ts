// The poll's answer must be the commit `git fetch <repo> <ref>` would fetch. Checked against real
// git: the same repo listed by `git ls-remote`, by our in-process client (protocol v2 and v0 over
// git http-backend), and fetched by git, for refs whose names git has to choose between.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { absoluteLocalRepo, listLocalRefs, localRepoPath } from "../../src/repo/local-refs.ts";
import { parseLsRemote, pickRef, refCandidates, type RefListing } from "../../src/repo/remote.ts";
import { parsePktLines, pkt, SmartHTTP, smartHTTPSettings } from "../../src/repo/smart-http.ts";
import { commit, git, makeRepo, tmpDir } from "../helpers/index.ts";
import { startGitHTTP, type GitHTTPServer } from "../servers/index.ts";

const dir = tmpDir("gs-remote-");
const bare = join(dir, "repos", "repo.git");
const servers: GitHTTPServer[] = [];

// Names that exist as several kinds of ref at once, and tags of both kinds.
const REFS = ["main", "HEAD", "dup", "v1", "light", "refs/heads/dup", "refs/tags/dup", "other/HEAD", "other", "nope", "refs/heads/nope"];

beforeAll(() => {
  const work = join(dir, "work");
  mkdirSync(work, { recursive: true });
  makeRepo(work);
  const c1 = commit(work, "file", "one\n");
  git(work, "branch", "dup");
  git(work, "tag", "-a", "-m", "annotated", "v1");
  commit(work, "file", "two\n");
  git(work, "tag", "dup"); // a lightweight tag named like a branch, on another commit
  git(work, "tag", "light", c1);
  commit(work, "file", "three\n");
  git(work, "update-ref", "refs/remotes/other/HEAD", c1);
  mkdirSync(bare, { recursive: true });
  git(bare, "init", "-q", "--bare", "-b", "main");
  git(work, "push", "-q", bare, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*", "refs/remotes/*:refs/remotes/*");
});

afterAll(() => {
  for (const s of servers) s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What `git fetch` takes for `ref`, peeled; "" when it finds nothing. */
function fetched(ref: string): string {
  const scratch = join(dir, `fetch-${Math.random()}`);
  mkdirSync(scratch);
  git(scratch, "init", "-q");
  try {
    git(scratch, "fetch", "-q", bare, ref);
    return git(scratch, "rev-parse", "FETCH_HEAD^{}");
  } catch {
    return "";
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What the poll runs for a path or ssh repo (repo/remote.ts LsRemote). */
function lsRemote(ref: string): RefListing {
  return parseLsRemote(git(dir, "ls-remote", "--symref", bare, ...refCandidates(ref).flatMap((c) => [c, `${c}^{}`])));
}

describe("pickRef applies git's rules", () => {
  for (const ref of REFS) {
    test(`${ref}`, () => {
      expect(pickRef(ref, lsRemote(ref))?.hash ?? "").toBe(fetched(ref));
    });
  }

  test("HEAD is named after the branch it points to", () => {
    expect(pickRef("HEAD", lsRemote("HEAD"))?.name).toBe("refs/heads/main");
  });

  test("an annotated tag keeps its own object and peels to the commit", () => {
    const r = pickRef("v1", lsRemote("v1"))!;
    expect(r.oid).toBe(git(bare, "rev-parse", "v1"));
    expect(r.hash).toBe(git(bare, "rev-parse", "v1^{}"));
    expect(r.oid).not.toBe(r.hash);
  });
});

/** What the poll reads for a repo on this machine (repo/remote.ts LocalFiles). */
function local(path: string, ref: string): RefListing {
  const r = listLocalRefs(path, refCandidates(ref));
  if (!("listing" in r)) throw new Error(r.why);
  return r.listing;
}

describe("reading a local repo's ref files gives git's answer", () => {
  const packedCopy = join(dir, "packed.git");
  const workCopy = join(dir, "work-copy");
  beforeAll(() => {
    git(dir, "clone", "-q", "--mirror", bare, packedCopy);
    git(packedCopy, "pack-refs", "--all");
    git(dir, "clone", "-q", bare, workCopy);
  });

  for (const ref of REFS) {
    test(`${ref}: loose refs, packed refs`, () => {
      expect(pickRef(ref, local(bare, ref))?.hash ?? "").toBe(fetched(ref));
      expect(pickRef(ref, local(bare, ref))?.name ?? "").toBe(pickRef(ref, lsRemote(ref))?.name ?? "");
      expect(pickRef(ref, local(packedCopy, ref))?.hash ?? "").toBe(fetched(ref));
    });
  }

  test("a work tree path and its file:// URL open its .git, as git's local transport does", () => {
    expect(localRepoPath(`file://${workCopy}`)).toBe(workCopy);
    expect(pickRef("HEAD", local(workCopy, "HEAD"))?.hash).toBe(git(workCopy, "rev-parse", "HEAD"));
    expect(localRepoPath("relative/path")).toBe("");
    expect(localRepoPath("file://host/path")).toBe("");
  });

  test("what it can't read with certainty is left to git", () => {
    expect(listLocalRefs(join(dir, "nowhere"), ["HEAD"])).toEqual({ why: "not a git repository we can read" });
    // A loose tag ref whose tag object is packed: reading it would mean reading packs.
    const noPeel = join(dir, "nopeel.git");
    git(dir, "clone", "-q", "--mirror", bare, noPeel);
    git(noPeel, "repack", "-q", "-a", "-d");
    git(noPeel, "update-ref", "refs/tags/v2", git(noPeel, "rev-parse", "v1"));
    expect(listLocalRefs(noPeel, ["refs/tags/v2"])).toEqual({ why: "can't tell what refs/tags/v2 points to" });
  });
});

for (const v2 of [true, false]) {
  describe(`in-process smart HTTP, ${v2 ? "protocol v2" : "a v0-only server"}`, () => {
    let client: SmartHTTP;
    beforeAll(() => {
      const srv = startGitHTTP({ projectRoot: join(dir, "repos"), users: { u: "p" }, protocolV2: v2 });
      servers.push(srv);
      const s = smartHTTPSettings(`${srv.url}/repo.git`, [], {});
      if (!s.ok) throw new Error(s.reason);
      client = new SmartHTTP(s.value);
    });

    for (const ref of REFS) {
      test(`${ref}: the same answer as git`, async () => {
        const listing = await client.listRefs(refCandidates(ref), { username: "u", password: "p" }, Date.now() + 10_000);
        expect(pickRef(ref, listing)?.hash ?? "").toBe(fetched(ref));
        expect(pickRef(ref, listing)?.name ?? "").toBe(pickRef(ref, lsRemote(ref))?.name ?? "");
      });
    }

    test("a wrong password is an error, not an answer", async () => {
      expect(client.listRefs(["HEAD"], { username: "u", password: "wrong" }, Date.now() + 10_000)).rejects.toThrow("HTTP 401");
    });
  });
}

describe("smartHTTPSettings leaves to git what it does not reproduce", () => {
  const url = "https://example.com/r.git";
  test.each([
    [[["url.https://x/.insteadof", "https://example.com/"]], {}, "git config url.https://x/.insteadof"],
    [[["http.proxy", "http://p:3128"]], {}, "git config http.proxy"],
    [[["http.https://example.com.extraheader", "X: y"]], {}, "git config http.https://example.com.extraheader"],
    [[["http.cookiefile", "/c"]], {}, "git config http.cookiefile"],
    [[["credential.usehttppath", "true"]], {}, "git config credential.usehttppath"],
    [[["protocol.version", "1"]], {}, "git config protocol.version"],
    [[], { HTTPS_PROXY: "http://p:3128" }, "$HTTPS_PROXY is set"],
    [[], { GIT_SSL_CERT: "/c.pem" }, "$GIT_SSL_CERT is set"],
  ] as Array<[Array<[string, string]>, Record<string, string>, string]>)("%j %j", (cfg, env, reason) => {
    expect(smartHTTPSettings(url, cfg, env)).toEqual({ ok: false, reason });
  });

  test("and takes what it does: extra headers, CA trust, sslVerify", () => {
    const s = smartHTTPSettings(url, [["http.extraheader", "Authorization: Bearer t"], ["http.sslverify", "false"], ["gc.auto", "0"]], {});
    expect(s).toEqual({ ok: true, value: { url, extraHeaders: [["Authorization", "Bearer t"]], tls: { rejectUnauthorized: false } } });
    expect(smartHTTPSettings("/srv/repo", [], {})).toEqual({ ok: false, reason: "not an http(s) repo" });
  });
});

test("pkt-lines: lengths include themselves; flush, delim and ERR", () => {
  expect(pkt("a\n")).toBe("0006a\n");
  const wire = new TextEncoder().encode(pkt("one\n") + "0001" + pkt("two") + "0000");
  expect(parsePktLines(wire)).toEqual(["one", null, "two", null]);
  expect(() => parsePktLines(new TextEncoder().encode(pkt("ERR no such repo\n")))).toThrow("remote error: no such repo");
  expect(() => parsePktLines(new TextEncoder().encode("00ffshort"))).toThrow("truncated");
});

describe("absoluteLocalRepo: a relative local path --repo is read from the start directory when only it names something there", () => {
  // <dir>/abs/start is where git-sync starts, <dir>/abs/root its root; `here` exists from the
  // start directory only; `both` from both, `../beside` names one place from both, and `missing`
  // nothing yet: those three keep upstream's reading (git, running in root, resolves them).
  const base = join(dir, "abs");
  const start = join(base, "start");
  const root = join(base, "root");
  beforeAll(() => {
    for (const d of [join(start, "here"), join(start, "both"), join(root, "both"), join(base, "beside")]) mkdirSync(d, { recursive: true });
  });
  test.each([
    ["here", join(start, "here")],
    ["./here/", join(start, "here")],
    ["both", "both"],
    ["../beside", "../beside"],
    ["missing", "missing"],
    ["sub/dir:with-colon", "sub/dir:with-colon"],
    ["here/x:y", "here/x:y"],
    ["/srv/repo", "/srv/repo"],
    ["file:///srv/repo", "file:///srv/repo"],
    ["https://example.com/org/repo", "https://example.com/org/repo"],
    ["ssh://git@example.com/org/repo", "ssh://git@example.com/org/repo"],
    ["git@example.com:org/repo", "git@example.com:org/repo"],
    ["example.com:repo", "example.com:repo"],
    ["ext::ssh -p 2222 host %S repo", "ext::ssh -p 2222 host %S repo"],
  ])("%p", (repo, want) => {
    expect(absoluteLocalRepo(repo, start, root)).toBe(want);
  });
});
