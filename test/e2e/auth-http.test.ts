// Authentication over http(s), black-box: the compiled binary against real servers on 127.0.0.1
// (git http-backend behind Bun.serve with basic auth, a throw-away CA, an askpass URL server and a
// GitHub-API-shaped token endpoint), through the real sync loop. Issue 4, "Proof"; behaviour.md 6.
import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, jsonLines, linkHash, readOr, type Running, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { makeAppKey, makeBareRepo, makeTestCA, pushCommit, startAskpassServer, startGitHTTP, startGitHubServer } from "../servers/index.ts";

/** Per test: explicit, as a default set elsewhere does not reach every file of a run. */
// Generous: three git servers with a CGI process per request share two cores with other suites.
const TIMEOUT = 90_000;
const SYNCED_WITHIN = 40_000;

/** Stops a test server when the test's scope ends (`using srv = own(startGitHTTP(...))`). */
function own<T extends { stop(): unknown }>(s: T): T & Disposable {
  return Object.assign(s, { [Symbol.dispose]: () => void s.stop() });
}

/** A directory of bare repos for the servers of one scenario. */
function reposDir(t: Scenario): string {
  const d = join(t.dir, "repos");
  mkdirSync(d, { recursive: true });
  return d;
}

/** `--repo`, `--root`, `--link=link`, then `extra`. */
function args(t: Scenario, repo: string, ...extra: string[]): string[] {
  return [`--repo=${repo}`, `--root=${t.root}`, "--link=link", ...extra];
}

// Tests read the root while the process runs. (A SIGTERM during the root's sanity check once
// wiped the root; that is fixed and covered by test/e2e/ops-pid1.test.ts.)

/** Long-running flags: fast period, never give up on failures. */
const LOOP = ["--period=100ms", "--max-failures=-1"];
const RETRY = "error syncing repo, will retry";

/** A distinctive secret that needs no URL escaping. */
function secret(kind: string): string {
  return `S3cr3t${kind}${Math.random().toString(36).slice(2, 10)}`;
}

/** `msg: error` of every error log line (error lines are the ones with an `error` field). */
function errorLines(r: { stderr: string }): string {
  return jsonLines(r.stderr)
    .filter((l) => l.error !== undefined)
    .map((l) => `${String(l.msg)}: ${String(l.error)}`)
    .join("\n");
}

/** A bare superproject `<name>` with one submodule (gitlink and .gitmodules entry) per `subs`; returns its HEAD. */
function makeSuper(repos: string, name: string, subs: Array<{ path: string; url: string; head: string }>): string {
  makeBareRepo(repos, name);
  const work = join(repos, `.${name}.work`);
  writeFileSync(join(work, ".gitmodules"), subs.map((s) => `[submodule "${s.path}"]\n\tpath = ${s.path}\n\turl = ${s.url}\n`).join(""));
  for (const s of subs) git(work, "update-index", "--add", "--cacheinfo", `160000,${s.head},${s.path}`);
  git(work, "add", ".gitmodules");
  git(work, "commit", "-q", "-m", "submodules");
  git(work, "push", "-q", join(repos, name), "main");
  return git(work, "rev-parse", "HEAD");
}

async function waitErrors(r: Running, n: number, timeoutMs = 15_000): Promise<void> {
  await r.waitLog(RETRY, n, timeoutMs);
}

/** Wait for the link to reach `hash`; on a timeout, say what the process last logged as errors. */
test.concurrent("--username with GITSYNC_PASSWORD over http", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("env");
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  const r = t.spawn(args(t, `${srv.url}/repo.git`, "--username=alice", ...LOOP), { env: { GITSYNC_PASSWORD: pw } });
  await t.waitHash(first, SYNCED_WITHIN, r);
  expect(t.read()).toBe("repo.git\n");
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  expect(t.read()).toBe("second\n");
  expect(srv.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
  await r.stop();
  expect(r.stderr).not.toContain(pw);
}, TIMEOUT);

test.concurrent("--username with the v3 GIT_SYNC_PASSWORD over http", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("v3env");
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  const r = await t.run(["--one-time", ...args(t, `${srv.url}/repo.git`, "--username=alice")], { env: { GIT_SYNC_PASSWORD: pw } });
  expect(r.code).toBe(0);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
  expect(srv.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
  expect(r.stderr).not.toContain(pw);
}, TIMEOUT);

test.concurrent("--password-file rotated mid-run is picked up without a restart", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const [pw1, pw2] = [secret("rot1"), secret("rot2")];
  const pwFile = join(t.dir, "password");
  writeFileSync(pwFile, `${pw1}\n`);
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw1 } }));
  const r = t.spawn(args(t, `${srv.url}/repo.git`, "--username=alice", `--password-file=${pwFile}`, "-v=3", ...LOOP));
  await t.waitHash(first, SYNCED_WITHIN, r);

  // The server rotates first; until the file follows, every attempt fails and nothing moves.
  srv.users.set("alice", pw2);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  const before = r.count(RETRY);
  await waitErrors(r, before + 3);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
  expect(errorLines(r)).toContain("Authentication failed");

  writeFileSync(pwFile, `${pw2}\n`);
  await t.waitHash(second, SYNCED_WITHIN, r);
  expect(t.read()).toBe("second\n");
  expect(r.done).toBe(false);
  expect(r.count("read password from file")).toBeGreaterThan(3);
  const pid = r.proc.pid;
  // Still the same process, and it keeps syncing with the new password.
  const third = pushCommit(repos, "repo.git", "file", "third\n");
  await t.waitHash(third, SYNCED_WITHIN, r);
  expect(r.proc.pid).toBe(pid);
  await r.stop();
  for (const pw of [pw1, pw2]) expect(r.stderr).not.toContain(pw);
}, TIMEOUT);

test.concurrent("credentials in the --repo URL are stripped from the remote and the logs", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("url");
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  const r = t.spawn(args(t, `http://alice:${pw}@127.0.0.1:${srv.port}/repo.git`, "-v=9", ...LOOP));
  await t.waitHash(first, SYNCED_WITHIN, r);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  const remote = git(t.root, "remote", "get-url", "origin");
  expect(remote).toBe(`${srv.url}/repo.git`);
  expect(remote).not.toContain(pw);
  expect(readFileSync(join(t.root, ".git", "config"), "utf8")).not.toContain(pw);
  await r.stop();
  expect(srv.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
  expect(r.stderr.length).toBeGreaterThan(0);
  for (const line of r.stderr.split("\n")) expect(line).not.toContain(pw);
  // The startup flags log shows the URL with its user info redacted.
  expect(r.stderr).toContain(`http://REDACTED@127.0.0.1:${srv.port}`);
}, TIMEOUT);

test.concurrent("a wrong password fails a one-time sync with a clear error", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const [good, wrong] = [secret("good"), secret("wrong")];
  makeBareRepo(repos, "repo.git");
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: good } }));
  const r = await t.run(["--one-time", ...args(t, `${srv.url}/repo.git`, "--username=alice")], { env: { GITSYNC_PASSWORD: wrong } });
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(errorLines(r)).toMatch(/Authentication failed for 'http:\/\/127\.0\.0\.1:\d+\/repo\.git\/?'/);
  expect(t.hash()).toBe("");
  for (const s of [good, wrong]) expect(r.stderr).not.toContain(s);
}, TIMEOUT);

test.concurrent("a wrong password in a running process keeps the last good link and a clean error file", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const [pw, rotated] = [secret("good"), secret("rotated")];
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  const errorFile = join(t.root, "error.json");
  const r = t.spawn(args(t, `${srv.url}/repo.git`, "--username=alice", "--error-file=error.json", "-v=9", ...LOOP), { env: { GITSYNC_PASSWORD: pw } });
  await t.waitHash(first, SYNCED_WITHIN, r);
  const target = readlinkSync(t.link);

  // Now the server wants another password, and there is something new to fetch.
  srv.users.set("alice", rotated);
  pushCommit(repos, "repo.git", "file", "never synced\n");
  await waitErrors(r, r.count(RETRY) + 3);
  await waitFor("error file", () => readOr(errorFile));
  const errorJSON = JSON.parse(readOr(errorFile)!) as { Msg: string; Err: string };
  expect(errorJSON.Msg).toBe(RETRY);
  expect(errorJSON.Err).toContain("Authentication failed");
  expect(errorLines(r)).toContain("Authentication failed");
  expect(r.done).toBe(false);
  expect(readlinkSync(t.link)).toBe(target);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
  const errorText = readOr(errorFile)!;
  await r.stop();
  for (const s of [pw, rotated]) {
    expect(errorText).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
}, TIMEOUT);

test.concurrent("--credential JSON for submodules on two other http servers with different passwords", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const [pa, pb, pc] = [secret("main"), secret("subb"), secret("subc")];
  using main = own(startGitHTTP({ projectRoot: repos, users: { alice: pa } }));
  using b = own(startGitHTTP({ projectRoot: repos, users: { bob: pb } }));
  using c = own(startGitHTTP({ projectRoot: repos, users: { carol: pc } }));
  const sub1 = makeBareRepo(repos, "sub1.git", "file", "sub one\n").head;
  const sub2 = makeBareRepo(repos, "sub2.git", "file", "sub two\n").head;
  const superHead = makeSuper(repos, "super.git", [
    { path: "one", url: `${b.url}/sub1.git`, head: sub1 },
    { path: "two", url: `${c.url}/sub2.git`, head: sub2 },
  ]);
  const carolFile = join(t.dir, "carol-password");
  writeFileSync(carolFile, `${pc}\n`);
  const r = t.spawn(
    args(
      t,
      `${main.url}/super.git`,
      `--credential=${JSON.stringify({ url: `${main.url}/super.git`, username: "alice", password: pa })}`,
      `--credential=${JSON.stringify([
        { url: b.url, username: "bob", password: pb },
        { url: c.url, username: "carol", "password-file": carolFile },
      ])}`,
      "-v=9",
      ...LOOP,
    ),
  );
  await t.waitHash(superHead, SYNCED_WITHIN, r);
  expect(t.read("one/file")).toBe("sub one\n");
  expect(t.read("two/file")).toBe("sub two\n");
  // A new submodule commit reaches the link through the loop too.
  const sub1b = pushCommit(repos, "sub1.git", "file", "sub one, again\n");
  const work = join(repos, ".super.git.work");
  git(work, "update-index", "--cacheinfo", `160000,${sub1b},one`);
  git(work, "commit", "-q", "-m", "bump one");
  git(work, "push", "-q", join(repos, "super.git"), "main");
  await t.waitHash(git(work, "rev-parse", "HEAD"), SYNCED_WITHIN, r);
  expect(t.read("one/file")).toBe("sub one, again\n");
  expect(t.read("two/file")).toBe("sub two\n");
  await r.stop();
  expect(main.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
  expect(b.requests.some((q) => q.user === "bob" && q.status === 200)).toBe(true);
  expect(c.requests.some((q) => q.user === "carol" && q.status === 200)).toBe(true);
  for (const s of [pa, pb, pc]) expect(r.stderr).not.toContain(s);
}, TIMEOUT);

test.concurrent("--askpass-url with correct credentials", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("askpass");
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  using ap = own(startAskpassServer({ username: "alice", password: pw }));
  const r = t.spawn(args(t, `${srv.url}/repo.git`, `--askpass-url=${ap.url}`, "-v=9", ...LOOP));
  await t.waitHash(first, SYNCED_WITHIN, r);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  await r.stop();
  // Asked at every attempt, not once.
  expect(ap.calls).toBeGreaterThanOrEqual(2);
  expect(srv.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
  expect(r.stderr).not.toContain(pw);
}, TIMEOUT);

test.concurrent("--askpass-url with wrong credentials or a failing server fails a one-time sync with a clear error", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const [pw, wrong] = [secret("good"), secret("wrong")];
  makeBareRepo(repos, "repo.git");
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  using ap = own(startAskpassServer({ username: "alice", password: wrong }));
  const one = await t.run(["--one-time", ...args(t, `${srv.url}/repo.git`, `--askpass-url=${ap.url}`)]);
  expect(one.code).not.toBe(0);
  expect(one.code).not.toBeNull();
  expect(errorLines(one)).toContain("Authentication failed");
  expect(one.stderr).not.toContain(wrong);

  ap.mode = { kind: "status", status: 500 };
  const two = await t.run(["--one-time", ...args(t, `${srv.url}/repo.git`, `--askpass-url=${ap.url}`)]);
  expect(two.code).not.toBe(0);
  expect(two.code).not.toBeNull();
  // The 500 itself, unless a loaded test box made the last of the retries time out.
  expect(errorLines(two)).toMatch(/credential refresh failed: (auth URL returned status 500, body: "status 500\\n"|can't access auth URL)/);
  expect(ap.calls).toBeGreaterThanOrEqual(1);
  expect(t.hash()).toBe("");
}, TIMEOUT);

test.concurrent("--askpass-url that fails its first calls: the long-running process recovers", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("flaky");
  const first = makeBareRepo(repos, "repo.git").head;
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw } }));
  using ap = own(startAskpassServer({ username: "alice", password: pw, mode: { kind: "status", status: 503 } }));
  const r = t.spawn(args(t, `${srv.url}/repo.git`, `--askpass-url=${ap.url}`, ...LOOP));
  await waitErrors(r, 2);
  expect(errorLines(r)).toMatch(/credential refresh failed: (auth URL returned status 503|can't access auth URL)/);
  expect(t.hash()).toBe("");
  // Then it answers only every other call: the retries within an attempt absorb that.
  ap.mode = { kind: "flaky" };
  await t.waitHash(first, SYNCED_WITHIN, r);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  expect(r.done).toBe(false);
  await r.stop();
  expect(r.stderr).not.toContain(pw);
}, TIMEOUT);

test.skipIf(missing("openssl")).concurrent("https with a test CA through --git-config=http.sslCAInfo", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const pw = secret("tls");
  const first = makeBareRepo(repos, "repo.git").head;
  const caDir = join(t.dir, "ca");
  mkdirSync(caDir);
  const ca = makeTestCA(caDir);
  using srv = own(startGitHTTP({ projectRoot: repos, users: { alice: pw }, tls: { cert: ca.cert, key: ca.key } }));
  expect(srv.url).toStartWith("https://");
  const base = args(t, `${srv.url}/repo.git`, "--username=alice");
  // Without the CA the certificate is not trusted.
  const untrusted = await t.run(["--one-time", ...base], { env: { GITSYNC_PASSWORD: pw } });
  expect(untrusted.code).not.toBe(0);
  expect(errorLines(untrusted)).toMatch(/certificate|SSL/i);
  const ok = await t.run(["--one-time", ...base, `--git-config=http.sslCAInfo:${ca.caFile}`], { env: { GITSYNC_PASSWORD: pw } });
  expect(ok.code).toBe(0);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
  expect(srv.requests.some((q) => q.user === "alice" && q.status === 200)).toBe(true);
}, TIMEOUT);

test.concurrent("GitHub App installation token minted by a local endpoint", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const first = makeBareRepo(repos, "repo.git").head;
  const appKey = makeAppKey();
  using gh = own(await startGitHubServer({ publicKey: appKey.publicKey, issuer: "4242", installationID: 77 }));
  // GitHub takes an installation token as the password with any username; git-sync sends "-"
  // (upstream's choice), other clients "x-access-token". Only a minted token is accepted.
  using srv = own(startGitHTTP({ projectRoot: repos, check: (user, pass) => (user === "-" || user === "x-access-token") && gh.tokens.includes(pass) }));
  const keyFile = join(t.dir, "app.pem");
  writeFileSync(keyFile, appKey.pkcs1, { mode: 0o600 });
  const r = t.spawn(
    args(
      t,
      `${srv.url}/repo.git`,
      "--github-app-application-id=4242",
      "--github-app-installation-id=77",
      `--github-app-private-key-file=${keyFile}`,
      `--github-base-url=${gh.url}`,
      "-v=9",
      ...LOOP,
    ),
  );
  await t.waitHash(first, SYNCED_WITHIN, r);
  expect(gh.lastError).toBe("");
  expect(gh.tokens.length).toBe(1);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  await r.stop();
  // The token lives an hour: minted once, reused by every later attempt.
  expect(gh.tokens.length).toBe(1);
  expect(srv.requests.some((q) => q.user === "-" && q.status === 200)).toBe(true);
  expect(r.stderr).not.toContain(gh.tokens[0]!);
  const keyBody = appKey.pkcs1.split("\n")[1]!;
  expect(r.stderr).not.toContain(keyBody);
}, TIMEOUT);

// ---------------------------------------------------------------------------------------------
// The secret scan: every secret kind at once, at -v=9, against argv of every descendant process,
// every log line, the error file, the root's .git/config and every file on disk git-sync wrote.

/** ppid of every live process, from /proc/<pid>/stat. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // Fields after the parenthesised comm: state, ppid, ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(e), Number(rest[1]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** argv of `root` and all its descendants right now. */
function descendantArgv(root: number): string[][] {
  const pp = parents();
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of pp) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  const out: string[][] = [];
  for (const pid of tree) {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (raw !== "") out.push(raw.replace(/\0$/, "").split("\0"));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Every regular file below `dir` (symlinks not followed). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      let st;
      try {
        st = statSync(p, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (!st) continue;
      if (st.isDirectory() && !isLink(p)) walk(p);
      else if (st.isFile() && !isLink(p)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function isLink(p: string): boolean {
  try {
    readlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

test.concurrent("SECRET-SCAN: no secret in any argv, log line, error file, .git/config or file under root", async () => {
  await using t = await scenario();
  const repos = reposDir(t);
  const s = {
    url: secret("url"),
    json: secret("json"),
    file: secret("file"),
    askpass: secret("askpass"),
    env: secret("env"),
  };
  const appKey = makeAppKey();
  using gh = own(await startGitHubServer({ publicKey: appKey.publicKey, issuer: "9001", installationID: 5 }));
  using ap = own(startAskpassServer({ username: "alice", password: s.askpass }));
  // The main host takes any of the repo's credentials; git uses the first that matches (the URL's).
  let mainOpen = true;
  const mainOK = (user: string, pass: string) =>
    mainOpen && ((user === "alice" && [s.url, s.askpass, s.env].includes(pass)) || (user === "-" && gh.tokens.includes(pass)));
  // delayMs keeps git's children alive long enough to be sampled.
  using main = own(startGitHTTP({ projectRoot: repos, check: mainOK, delayMs: 40 }));
  using b = own(startGitHTTP({ projectRoot: repos, users: { bob: s.json }, delayMs: 40 }));
  using c = own(startGitHTTP({ projectRoot: repos, users: { carol: s.file }, delayMs: 40 }));
  const sub1 = makeBareRepo(repos, "sub1.git", "file", "sub one\n").head;
  const sub2 = makeBareRepo(repos, "sub2.git", "file", "sub two\n").head;
  const h1 = makeSuper(repos, "super.git", [
    { path: "one", url: `${b.url}/sub1.git`, head: sub1 },
    { path: "two", url: `${c.url}/sub2.git`, head: sub2 },
  ]);
  const plain = makeBareRepo(repos, "plain.git").head;
  const secretsDir = join(t.dir, "secrets");
  mkdirSync(secretsDir);
  const carolFile = join(secretsDir, "carol");
  writeFileSync(carolFile, `${s.file}\n`);
  const keyFile = join(secretsDir, "app.pem");
  writeFileSync(keyFile, appKey.pkcs1, { mode: 0o600 });
  const home = join(t.dir, "home");
  mkdirSync(home);
  const env = { HOME: home };

  // URL userinfo, --username and a GitHub App exclude each other, so two processes share the work:
  // A: URL password + --credential password + --credential password-file + askpass URL + GitHub App.
  // B: --username with $GITSYNC_PASSWORD, in a root of its own.
  const rootB = join(t.dir, "rootB");
  // Secrets go in through the environment, as a user would pass them, so that the binary's own
  // argv is clean too and every process in the tree can be scanned.
  const a = t.spawn(
    [
      `--root=${t.root}`,
      "--link=link",
      `--askpass-url=${ap.url}`,
      "--github-app-application-id=9001",
      "--github-app-installation-id=5",
      `--github-app-private-key-file=${keyFile}`,
      `--github-base-url=${gh.url}`,
      "--error-file=error.json",
      "-v=9",
      ...LOOP,
    ],
    {
      env: {
        ...env,
        GITSYNC_REPO: `http://alice:${s.url}@127.0.0.1:${main.port}/super.git`,
        GITSYNC_CREDENTIAL: JSON.stringify([
          { url: b.url, username: "bob", password: s.json },
          { url: c.url, username: "carol", "password-file": carolFile },
        ]),
      },
    },
  );
  const bProc = t.spawn([`--repo=${main.url}/plain.git`, `--root=${rootB}`, "--link=link", "--username=alice", "--error-file=error.json", "-v=9", ...LOOP], {
    env: { ...env, GITSYNC_PASSWORD: s.env },
  });

  const seen: string[][] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const pid of [a.proc.pid, bProc.proc.pid]) seen.push(...descendantArgv(pid));
      await Bun.sleep(2);
    }
  })();

  try {
    await t.waitHash(h1, 20_000, a);
    await waitFor("B's link", () => linkHash(join(rootB, "link")) === plain, 20_000);
    expect(readOr(join(rootB, "link", "file"))).toBe("plain.git\n");
    // A few more syncs with new content (fetch, worktree, submodule update) while sampling.
    const work = join(repos, ".super.git.work");
    const sub2b = pushCommit(repos, "sub2.git", "file", "sub two, again\n");
    git(work, "update-index", "--cacheinfo", `160000,${sub2b},two`);
    git(work, "commit", "-q", "-m", "bump two");
    git(work, "push", "-q", join(repos, "super.git"), "main");
    const h2 = git(work, "rev-parse", "HEAD");
    const p2 = pushCommit(repos, "plain.git", "file", "plain two\n");
    await t.waitHash(h2, 20_000, a);
    await waitFor("B's second commit", () => linkHash(join(rootB, "link")) === p2, 20_000);
    expect(readOr(join(rootB, "link", "file"))).toBe("plain two\n");
    expect(t.read("two/file")).toBe("sub two, again\n");

    // Force failures: the main host now refuses everyone, so both processes write an error file.
    mainOpen = false;
    pushCommit(repos, "super.git", "file", "never synced\n");
    await waitErrors(a, 2, 20_000);
    await waitErrors(bProc, 2, 20_000);
    await waitFor("error files", () => readOr(join(t.root, "error.json")) && readOr(join(rootB, "error.json")));
  } finally {
    sampling = false;
    await sampler;
  }
  // Snapshot the disk while both still run.
  const errorFiles = [readOr(join(t.root, "error.json"))!, readOr(join(rootB, "error.json"))!];
  const gitConfigs = [t.root, rootB].map((root) => readFileSync(join(root, ".git", "config"), "utf8"));
  const disk = new Map<string, Buffer>();
  for (const f of [t.root, rootB, join(t.dir, "tmp"), home].flatMap(filesUnder)) {
    try {
      disk.set(f, readFileSync(f));
    } catch {
      // a temp file git removed meanwhile
    }
  }
  await a.stop();
  await bProc.stop();

  const all = [...Object.values(s), ...gh.tokens];
  expect(gh.tokens.length).toBeGreaterThanOrEqual(1);
  const userPass = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString("base64");
  // Authorization headers, should a trace ever print one.
  const encoded = [userPass("alice", s.url), userPass("alice", s.env), userPass("bob", s.json), userPass("carol", s.file)];
  const keyLines = appKey.pkcs1.split("\n").filter((l) => l !== "" && !l.startsWith("-----"));

  // argv: the sampler must have seen git at work (fetch, the http remote helper, askpass).
  const flat = seen.map((argv) => argv.join(" "));
  expect(flat.some((l) => /\bgit\b.*\bfetch\b/.test(l))).toBe(true);
  expect(flat.some((l) => l.includes("remote-http"))).toBe(true);
  // The binary as GIT_ASKPASS: its only argument is git's prompt.
  expect(flat.some((l) => l.includes("Password for 'http://"))).toBe(true);
  for (const line of new Set(flat)) for (const x of [...all, ...encoded]) expect(line).not.toContain(x);

  // Logs: every line of both processes.
  const logs = a.stderr + bProc.stderr;
  expect(logs).toContain('"md5 of credential"');
  for (const line of logs.split("\n")) {
    for (const x of [...all, ...encoded, ...keyLines]) expect(line).not.toContain(x);
  }

  // Error files, .git/config, everything under both roots, the private temp dir and $HOME.
  for (const e of errorFiles) {
    expect(JSON.parse(e)).toHaveProperty("Err");
    for (const x of all) expect(e).not.toContain(x);
  }
  for (const cfg of gitConfigs) {
    expect(cfg).toContain("[remote \"origin\"]");
    for (const x of all) expect(cfg).not.toContain(x);
  }
  expect(disk.size).toBeGreaterThan(10);
  for (const [f, content] of disk) {
    for (const x of [...all, ...encoded]) expect({ file: f, leaked: content.includes(x) ? x : "" }).toEqual({ file: f, leaked: "" });
  }
}, 2 * TIMEOUT);
