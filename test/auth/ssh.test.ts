// ssh end to end: real sshd on 127.0.0.1, git with GIT_SSH = the compiled binary, which runs
// `ssh -F <generated config>`. No GIT_SSH_COMMAND with arguments anywhere (the image has no sh).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, git, tmpDir } from "../helpers/index.ts";
import { genKey, makeBareRepo, startSSHD, type SSHServer } from "../servers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { harness, removeSelfBinary, selfBinary, testConfig } from "./_fixtures.ts";

const skip = missing("sshd", "ssh", "ssh-keygen");

let dir: string;
let repos: string;
let keys: string[];
let srv: SSHServer;
let other: SSHServer;
let head: string;
let subHead: string;

beforeAll(async () => {
  if (skip) return;
  await selfBinary();
  dir = tmpDir("gs-auth-ssh-");
  repos = join(dir, "repos");
  mkdirSync(repos);
  head = makeBareRepo(repos, "repo.git").head;
  subHead = makeBareRepo(repos, "sub.git").head;
  keys = [1, 2, 3].map((n) => join(dir, `key${n}`));
  const pubs = keys.map((k) => genKey(k));
  mkdirSync(join(dir, "sshd1"));
  mkdirSync(join(dir, "sshd2"));
  // Only the third key opens the first server; only the first key opens the second.
  srv = await startSSHD(join(dir, "sshd1"), [pubs[2]!]);
  other = await startSSHD(join(dir, "sshd2"), [pubs[0]!]);
});

afterAll(async () => {
  if (skip) return;
  await srv.stop();
  await other.stop();
  cleanup(dir);
  removeSelfBinary();
});

function scratch(): string {
  const d = join(dir, `t-${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  return d;
}

const url = (s: SSHServer, name = "repo.git") => `ssh://${s.user}@127.0.0.1:${s.port}${join(repos, name)}`;

describe.skipIf(skip)("ssh", () => {
  it("three keys, only the last one authorized", async () => {
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHostsFile: srv.knownHostsFile }), { privateDir: scratch() });
    expect(h.auth.gitEnv().GIT_SSH).toBe(await selfBinary());
    expect(h.auth.gitEnv().GIT_SSH_COMMAND).toBeUndefined();
    expect((await h.attempt(["ls-remote", h.auth.repo, "main"])).stdout).toContain(head);
  });

  it("no authorized key: permission denied", async () => {
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys.slice(0, 2), sshKnownHostsFile: srv.knownHostsFile }), { privateDir: scratch() });
    await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Permission denied/);
  });

  it("known-hosts mismatch is refused", async () => {
    const d = scratch();
    const wrong = join(d, "known_hosts");
    // The other server's host key under this server's name.
    writeFileSync(wrong, srv.knownHostsLine.split(" ")[0] + " " + other.knownHostsLine.split(" ").slice(1).join(" ") + "\n");
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHostsFile: wrong }), { privateDir: d });
    await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
  });

  it("an unknown host is refused with verification on", async () => {
    const d = scratch();
    writeFileSync(join(d, "empty"), "");
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHostsFile: join(d, "empty") }), { privateDir: d });
    await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Host key verification failed/);
  });

  it("known-hosts mismatch accepted with verification off", async () => {
    const d = scratch();
    const wrong = join(d, "known_hosts");
    writeFileSync(wrong, srv.knownHostsLine.split(" ")[0] + " " + other.knownHostsLine.split(" ").slice(1).join(" ") + "\n");
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHosts: false, sshKnownHostsFile: wrong }), { privateDir: d });
    expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(head);
  });

  it("scp-like URL through a host alias from the user's ~/.ssh/config", async () => {
    const d = scratch();
    const home = join(d, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "config"), `Host gitserver\n  HostName 127.0.0.1\n  Port ${srv.port}\n  User ${srv.user}\n`);
    const h = await harness(testConfig({ repo: `gitserver:${join(repos, "repo.git")}`, sshKeyFiles: keys, sshKnownHostsFile: srv.knownHostsFile }), {
      privateDir: d,
      env: { HOME: home },
    });
    expect(readFileSync(join(d, "ssh_config"), "utf8")).toContain(`Include "${join(home, ".ssh", "config")}"`);
    expect((await h.attempt(["ls-remote", h.auth.repo, "main"])).stdout).toContain(head);
  });

  it("submodule on another ssh host with a different key", async () => {
    const d = scratch();
    const work = join(d, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    writeFileSync(join(work, ".gitmodules"), `[submodule "sub"]\n\tpath = sub\n\turl = ${url(other, "sub.git")}\n`);
    git(work, "update-index", "--add", "--cacheinfo", `160000,${subHead},sub`);
    git(work, "add", ".gitmodules");
    git(work, "commit", "-q", "-m", "super");
    const name = `super-${Math.random().toString(36).slice(2)}.git`;
    makeBareRepo(repos, name);
    git(work, "push", "-q", "-f", join(repos, name), "main");
    const known = join(d, "known_hosts");
    writeFileSync(known, `${srv.knownHostsLine}\n${other.knownHostsLine}\n`);
    const h = await harness(testConfig({ repo: url(srv, name), sshKeyFiles: keys, sshKnownHostsFile: known }), { privateDir: d });
    await h.attempt(["clone", "-q", h.auth.repo, join(d, "clone")]);
    await h.git.run(["submodule", "update", "--init", "--recursive"], { cwd: join(d, "clone"), env: h.auth.gitEnv() });
    expect(readFileSync(join(d, "clone", "sub", "file"), "utf8")).toBe("sub.git\n");
  });

  it("a GIT_SSH_COMMAND from the environment is kept, with git-sync's config added", async () => {
    const d = scratch();
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHostsFile: srv.knownHostsFile }), { privateDir: d, env: { GIT_SSH_COMMAND: "ssh -o ConnectTimeout=5" } });
    expect(h.auth.processEnv()).toEqual({ GIT_SSH_COMMAND: `ssh -o ConnectTimeout=5 -F '${join(d, "ssh_config")}'` });
    expect(h.auth.gitEnv().GIT_SSH).toBeUndefined();
    expect(h.lines.some((l) => l.includes("using $GIT_SSH_COMMAND from the environment"))).toBe(true);
    expect((await h.attempt(["ls-remote", h.auth.repo, "main"])).stdout).toContain(head);
  });

  it("ssh debug output at -v 5", async () => {
    const h = await harness(testConfig({ repo: url(srv), sshKeyFiles: keys, sshKnownHostsFile: srv.knownHostsFile, verbose: 5 }), { privateDir: scratch() });
    const r = await h.attempt(["ls-remote", h.auth.repo, "main"]);
    expect(r.stderr).toContain("debug1:");
  });
});
