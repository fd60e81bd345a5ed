// Authentication over ssh, black-box: the compiled binary (its own GIT_SSH, running
// `ssh -F <generated config>`) against real sshd servers on 127.0.0.1, through the real sync loop.
// Issue 4, "Proof"; behaviour.md 6.6.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, git, jsonLines, type Scenario, scenario, tmpDir } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { genKey, makeBareRepo, pushCommit, startSSHD, type SSHServer } from "../servers/index.ts";

const skip = missing("sshd", "ssh", "ssh-keygen");

/** Per test: explicit, as a default set elsewhere does not reach every file of a run. */
// Generous: three git servers with a CGI process per request share two cores with other suites.
const TIMEOUT = 90_000;
const SYNCED_WITHIN = 40_000;

// Three servers, each opened by exactly one of three keys:
//   s1 <- key3 (the repo's host; key1 and key2 are decoys there), s2 <- key1, s3 <- key2.
let dir: string;
let keys: string[];
let s1: SSHServer;
let s2: SSHServer;
let s3: SSHServer;

beforeAll(async () => {
  if (skip) return;
  dir = tmpDir("gs-e2e-ssh-");
  keys = [1, 2, 3].map((n) => join(dir, `key${n}`));
  const pubs = keys.map((k) => genKey(k, `key-${k.slice(-1)}`));
  for (const n of ["s1", "s2", "s3"]) mkdirSync(join(dir, n));
  [s1, s2, s3] = await Promise.all([startSSHD(join(dir, "s1"), [pubs[2]!]), startSSHD(join(dir, "s2"), [pubs[0]!]), startSSHD(join(dir, "s3"), [pubs[1]!])]);
}, TIMEOUT);

afterAll(async () => {
  if (skip) return;
  await Promise.all([s1, s2, s3].map((s) => s?.stop()));
  cleanup(dir);
}, TIMEOUT);

const keyFlags = () => keys.map((k) => `--ssh-key-file=${k}`);
const LOOP = ["--period=100ms", "--max-failures=-1"];

/** ssh:// URL of a repo path on a server. */
const sshURL = (s: SSHServer, path: string) => `ssh://${s.user}@127.0.0.1:${s.port}${path}`;

/** Bare repos of one scenario (sshd serves absolute paths) and a $HOME of its own for ssh. */
function setup(t: Scenario): { repos: string; env: Record<string, string>; home: string } {
  const repos = join(t.dir, "repos");
  const home = join(t.dir, "home");
  mkdirSync(repos);
  mkdirSync(home);
  return { repos, home, env: { HOME: home } };
}

function args(t: Scenario, repo: string, ...extra: string[]): string[] {
  return [`--repo=${repo}`, `--root=${t.root}`, "--link=link", ...extra];
}

/** A known_hosts file in the scenario dir holding `lines`. */
function knownHosts(t: Scenario, name: string, lines: string[]): string {
  const p = join(t.dir, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

function errorText(stderr: string): string {
  return jsonLines(stderr)
    .filter((l) => l.error !== undefined)
    .map((l) => String(l.error))
    .join("\n");
}

/** Wait for the link to reach `hash`; on a timeout, say what the process last logged as errors. */
test.skipIf(skip).concurrent("ssh:// URL with user and port, synced by the long-running loop", async () => {
  await using t = await scenario();
  const { repos, env } = setup(t);
  const first = makeBareRepo(repos, "repo.git").head;
  const r = t.spawn(args(t, sshURL(s1, join(repos, "repo.git")), ...keyFlags(), `--ssh-known-hosts-file=${s1.knownHostsFile}`, ...LOOP), { env });
  await t.waitHash(first, SYNCED_WITHIN, r);
  expect(t.read()).toBe("repo.git\n");
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  expect(t.read()).toBe("second\n");
  expect(r.done).toBe(false);
  // Read the root while the process runs: a SIGTERM can wipe it (reported separately).
  expect(git(t.root, "remote", "get-url", "origin")).toBe(sshURL(s1, join(repos, "repo.git")));
  await r.stop();
}, TIMEOUT);

test.skipIf(skip).concurrent("three --ssh-key-file where only one is authorized", async () => {
  await using t = await scenario();
  const { repos, env } = setup(t);
  const first = makeBareRepo(repos, "repo.git").head;
  const repo = sshURL(s1, join(repos, "repo.git"));
  const known = `--ssh-known-hosts-file=${s1.knownHostsFile}`;
  // Without the authorized key (the third) the server says no.
  const denied = await t.run(["--one-time", ...args(t, repo, `--ssh-key-file=${keys[0]}`, `--ssh-key-file=${keys[1]}`, known)], { env });
  expect(denied.code).not.toBe(0);
  expect(denied.code).not.toBeNull();
  expect(errorText(denied.stderr)).toContain("Permission denied");
  expect(t.hash()).toBe("");
  // With all three, in any order, the one that is authorized gets in.
  const ok = await t.run(["--one-time", ...args(t, repo, `--ssh-key-file=${keys[2]}`, `--ssh-key-file=${keys[0]}`, `--ssh-key-file=${keys[1]}`, known)], { env });
  expect(ok.code).toBe(0);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
}, TIMEOUT);

test.skipIf(skip).concurrent("--ssh-known-hosts-file with a mismatched host key is refused", async () => {
  await using t = await scenario();
  const { repos, env } = setup(t);
  makeBareRepo(repos, "repo.git");
  // s1's address with s2's host key.
  const wrong = knownHosts(t, "known_hosts", [`${s1.knownHostsLine.split(" ")[0]} ${s2.knownHostsLine.split(" ").slice(1).join(" ")}`]);
  const r = await t.run(["--one-time", ...args(t, sshURL(s1, join(repos, "repo.git")), ...keyFlags(), `--ssh-known-hosts-file=${wrong}`)], { env });
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(errorText(r.stderr)).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
  expect(t.hash()).toBe("");
}, TIMEOUT);

test.skipIf(skip).concurrent("--ssh-known-hosts=false accepts a mismatched host key", async () => {
  await using t = await scenario();
  const { repos, env } = setup(t);
  const first = makeBareRepo(repos, "repo.git").head;
  const wrong = knownHosts(t, "known_hosts", [`${s1.knownHostsLine.split(" ")[0]} ${s2.knownHostsLine.split(" ").slice(1).join(" ")}`]);
  const r = await t.run(["--one-time", ...args(t, sshURL(s1, join(repos, "repo.git")), ...keyFlags(), "--ssh-known-hosts=false", `--ssh-known-hosts-file=${wrong}`)], {
    env,
  });
  expect(r.code).toBe(0);
  expect(t.hash()).toBe(first);
  expect(t.read()).toBe("repo.git\n");
}, TIMEOUT);

// The scp-like form (`user@host:path`) has no place for a port and our sshd cannot listen on 22,
// so the host is an alias from the user's own ssh config ($HOME/.ssh/config, HOME = a temp dir),
// which git-sync's generated config Includes.
test.skipIf(skip).concurrent("scp-like user@host:path URL through a Host alias in $HOME/.ssh/config", async () => {
  await using t = await scenario();
  const { repos, env, home } = setup(t);
  const first = makeBareRepo(repos, "repo.git").head;
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  writeFileSync(join(home, ".ssh", "config"), `Host gitserver\n  HostName 127.0.0.1\n  Port ${s1.port}\n`, { mode: 0o600 });
  const repo = `${s1.user}@gitserver:${join(repos, "repo.git")}`;
  const r = t.spawn(args(t, repo, ...keyFlags(), `--ssh-known-hosts-file=${s1.knownHostsFile}`, ...LOOP), { env });
  await t.waitHash(first, SYNCED_WITHIN, r);
  const second = pushCommit(repos, "repo.git", "file", "second\n");
  await t.waitHash(second, SYNCED_WITHIN, r);
  expect(t.read()).toBe("second\n");
  expect(git(t.root, "remote", "get-url", "origin")).toBe(repo);
  await r.stop();
}, TIMEOUT);

test.skipIf(skip).concurrent("submodules on two other ssh servers with different keys", async () => {
  await using t = await scenario();
  const { repos, env } = setup(t);
  const sub1 = makeBareRepo(repos, "sub1.git", "file", "sub one\n").head;
  const sub2 = makeBareRepo(repos, "sub2.git", "file", "sub two\n").head;
  makeBareRepo(repos, "super.git");
  const work = join(repos, ".super.git.work");
  writeFileSync(
    join(work, ".gitmodules"),
    `[submodule "one"]\n\tpath = one\n\turl = ${sshURL(s2, join(repos, "sub1.git"))}\n` + `[submodule "two"]\n\tpath = two\n\turl = ${sshURL(s3, join(repos, "sub2.git"))}\n`,
  );
  git(work, "update-index", "--add", "--cacheinfo", `160000,${sub1},one`);
  git(work, "update-index", "--add", "--cacheinfo", `160000,${sub2},two`);
  git(work, "add", ".gitmodules");
  git(work, "commit", "-q", "-m", "submodules");
  git(work, "push", "-q", join(repos, "super.git"), "main");
  const h1 = git(work, "rev-parse", "HEAD");
  const known = knownHosts(t, "known_hosts", [s1.knownHostsLine, s2.knownHostsLine, s3.knownHostsLine]);
  const r = t.spawn(args(t, sshURL(s1, join(repos, "super.git")), ...keyFlags(), `--ssh-known-hosts-file=${known}`, ...LOOP), { env });
  await t.waitHash(h1, SYNCED_WITHIN, r);
  expect(t.read("one/file")).toBe("sub one\n");
  expect(t.read("two/file")).toBe("sub two\n");
  // A submodule bump on s3 reaches the link through the loop too.
  const sub2b = pushCommit(repos, "sub2.git", "file", "sub two, again\n");
  git(work, "update-index", "--cacheinfo", `160000,${sub2b},two`);
  git(work, "commit", "-q", "-m", "bump two");
  git(work, "push", "-q", join(repos, "super.git"), "main");
  await t.waitHash(git(work, "rev-parse", "HEAD"), SYNCED_WITHIN, r);
  expect(t.read("one/file")).toBe("sub one\n");
  expect(t.read("two/file")).toBe("sub two, again\n");
  expect(r.done).toBe(false);
  await r.stop();
}, TIMEOUT);
