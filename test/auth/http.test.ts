// http(s) credentials end to end: real `git ls-remote`/`git clone` against git http-backend with
// basic auth, the compiled binary as GIT_ASKPASS, credentials from every source git-sync has.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FatalAuthError } from "../../src/auth/index.ts";
import { askpassCount, githubTokenCount } from "../../src/state/metrics.ts";
import { createLogger } from "../../src/log/logger.ts";
import { cleanup, git, gitEnv, tmpDir } from "../helpers/index.ts";
import { makeAppKey, makeBareRepo, makeTestCA, startAskpassServer, startGitHTTP, startGitHubServer, type GitHTTPServer } from "../servers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { harness, removeSelfBinary, selfBinary, testConfig } from "./_fixtures.ts";

let dir: string;
let repos: string;
let a: GitHTTPServer;
let b: GitHTTPServer;
let mainHead: string;
let subHead: string;

beforeAll(async () => {
  await selfBinary();
  dir = tmpDir("gs-auth-http-");
  repos = join(dir, "repos");
  mkdirSync(repos);
  mainHead = makeBareRepo(repos, "repo.git").head;
  subHead = makeBareRepo(repos, "sub.git").head;
  a = startGitHTTP({ projectRoot: repos, users: { alice: "alice-secret-1" } });
  b = startGitHTTP({ projectRoot: repos, users: { bob: "bob-secret-B" } });
});

afterAll(() => {
  a.stop();
  b.stop();
  cleanup(dir);
  removeSelfBinary();
});

function scratch(): string {
  const d = join(dir, `t-${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  return d;
}

describe("http basic auth", () => {
  it("username and password", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, username: "alice", password: "alice-secret-1" }), { privateDir: scratch() });
    const r = await h.attempt(["ls-remote", h.auth.repo, "main"]);
    expect(r.stdout).toContain(mainHead);
    expect(a.requests.some((q) => q.user === "alice")).toBe(true);
  });

  it("a wrong password fails with git's authentication error", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, username: "alice", password: "wrong-password" }), { privateDir: scratch() });
    await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Authentication failed/);
    expect(h.lines.join("")).not.toContain("wrong-password");
  });

  it("no credential for the host fails at once instead of prompting", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git` }), { privateDir: scratch() });
    // git's own refusal, not the attempt's deadline ending a wait for a prompt.
    await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/could not read Username|terminal prompts disabled/);
  });

  it("password file rotated between two fetches", async () => {
    const d = scratch();
    const pw = join(d, "password");
    writeFileSync(pw, "rotate-one\n");
    const srv = startGitHTTP({ projectRoot: repos, users: { alice: "rotate-one" } });
    try {
      const h = await harness(testConfig({ repo: `${srv.url}/repo.git`, username: "alice", passwordFile: pw }), { privateDir: d });
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      srv.users.set("alice", "rotate-two");
      await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Authentication failed/);
      writeFileSync(pw, "rotate-two\n");
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect(h.lines.some((l) => l.includes('"read password from file"'))).toBe(true);
    } finally {
      srv.stop();
    }
  });

  it("an unreadable password file fails the attempt", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, username: "alice", passwordFile: "/nonexistent/pw" }), { privateDir: scratch() });
    await expect(h.auth.refresh(Date.now() + 5000)).rejects.toThrow('credential refresh failed: can\'t read password file "/nonexistent/pw"');
  });

  it("credentials in the repo URL are moved out of it", async () => {
    const h = await harness(testConfig({ repo: `http://alice:alice-secret-1@127.0.0.1:${a.port}/repo.git` }), { privateDir: scratch() });
    expect(h.auth.repo).toBe(`${a.url}/repo.git`);
    expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
  });

  it("--credential for two hosts with different passwords (a submodule on another host)", async () => {
    const d = scratch();
    // A superproject on host a with a submodule on host b.
    const work = join(d, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    writeFileSync(join(work, ".gitmodules"), `[submodule "sub"]\n\tpath = sub\n\turl = ${b.url}/sub.git\n`);
    git(work, "update-index", "--add", "--cacheinfo", `160000,${subHead},sub`);
    git(work, "add", ".gitmodules");
    git(work, "commit", "-q", "-m", "super");
    makeBareRepo(repos, `super-${Date.now()}.git`);
    const superName = readdirSync(repos).find((n) => n.startsWith("super-"))!;
    git(work, "push", "-q", "-f", join(repos, superName), "main");

    const passwordFile = join(d, "bob-pw");
    writeFileSync(passwordFile, "bob-secret-B");
    const h = await harness(
      testConfig({
        repo: `${a.url}/${superName}`,
        credentials: [
          { url: `${a.url}/${superName}`, username: "alice", password: "alice-secret-1", passwordFile: "" },
          { url: b.url, username: "bob", password: "", passwordFile },
        ],
      }),
      { privateDir: d },
    );
    await h.attempt(["clone", "-q", h.auth.repo, join(d, "clone")]);
    await h.git.run(["submodule", "update", "--init", "--recursive"], { cwd: join(d, "clone"), env: h.auth.gitEnv() });
    expect(readFileSync(join(d, "clone", "sub", "file"), "utf8")).toBe("sub.git\n");
    expect(b.requests.some((q) => q.user === "bob")).toBe(true);
  });

  it.skipIf(missing("openssl"))("https with a private CA", async () => {
    const d = scratch();
    const ca = makeTestCA(d);
    const srv = startGitHTTP({ projectRoot: repos, users: { alice: "tls-secret" }, tls: { cert: ca.cert, key: ca.key } });
    try {
      const h = await harness(testConfig({ repo: `${srv.url}/repo.git`, username: "alice", password: "tls-secret" }), { privateDir: d, env: { GIT_SSL_CAINFO: ca.caFile } });
      expect(h.auth.repo.startsWith("https://127.0.0.1:")).toBe(true);
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
    } finally {
      srv.stop();
    }
  });
});

describe("--askpass-url", () => {
  it("correct credentials, fetched at every attempt", async () => {
    const ap = startAskpassServer({ username: "alice", password: "alice-secret-1" });
    try {
      const before = askpassCount.get({ status: "success" });
      const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      await h.attempt(["ls-remote", h.auth.repo]);
      expect(ap.calls).toBe(2);
      expect(askpassCount.get({ status: "success" }) - before).toBe(2);
    } finally {
      ap.stop();
    }
  });

  it("wrong credentials: git's authentication error", async () => {
    const ap = startAskpassServer({ username: "alice", password: "nope-nope" });
    try {
      const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
      await expect(h.attempt(["ls-remote", h.auth.repo])).rejects.toThrow(/Authentication failed/);
    } finally {
      ap.stop();
    }
  });

  for (const status of [500, 302]) {
    it(`status ${status}: the attempt fails with the status and body`, async () => {
      const ap = startAskpassServer({ username: "alice", password: "alice-secret-1", mode: { kind: "status", status } });
      try {
        const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
        await expect(h.auth.refresh(Date.now() + 20_000)).rejects.toThrow(`credential refresh failed: auth URL returned status ${status}, body: "status ${status}\\n"`);
        expect(ap.calls).toBe(3);
      } finally {
        ap.stop();
      }
    });
  }

  it("unreachable: can't access auth URL", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: "http://127.0.0.1:1/creds" }), { privateDir: scratch() });
    await expect(h.auth.refresh(Date.now() + 20_000)).rejects.toThrow("credential refresh failed: can't access auth URL");
  });

  it("flaky: retried within the attempt", async () => {
    const ap = startAskpassServer({ username: "alice", password: "alice-secret-1", mode: { kind: "flaky" } });
    try {
      const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect(ap.calls).toBe(2);
    } finally {
      ap.stop();
    }
  });

  it("slow to start: the 1s timeout hits, the retry succeeds", async () => {
    const ap = startAskpassServer({ username: "alice", password: "alice-secret-1", mode: { kind: "slow", slowCalls: 1, delayMs: 1500 } });
    try {
      const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
      const started = Date.now();
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(ap.calls).toBe(2);
    } finally {
      ap.stop();
    }
  });

  it("no retry when the sync deadline has no room for one", async () => {
    const ap = startAskpassServer({ username: "alice", password: "x", mode: { kind: "status", status: 503 } });
    try {
      const h = await harness(testConfig({ repo: `${a.url}/repo.git`, askpassURL: ap.url }), { privateDir: scratch() });
      await expect(h.auth.refresh(Date.now() + 500)).rejects.toThrow("auth URL returned status 503");
      expect(ap.calls).toBe(1);
    } finally {
      ap.stop();
    }
  });
});

describe("GitHub app", () => {
  const key = makeAppKey();

  async function setup(opts: { ttlMs?: number; keyFile?: string; clientID?: string; serverIssuer?: string } = {}) {
    const d = scratch();
    const keyFile = opts.keyFile ?? join(d, "app.pem");
    if (!opts.keyFile) writeFileSync(keyFile, key.pkcs1);
    const gh = await startGitHubServer({ publicKey: key.publicKey, issuer: opts.serverIssuer ?? opts.clientID ?? "4242", installationID: 77, ttlMs: opts.ttlMs });
    const srv = startGitHTTP({ projectRoot: repos, check: (u, p) => u === "-" && p === gh.tokens.at(-1) });
    const h = await harness(
      testConfig({
        repo: `${srv.url}/repo.git`,
        githubBaseURL: gh.url,
        githubAppPrivateKeyFile: keyFile,
        githubAppApplicationID: opts.clientID ? 0 : 4242,
        githubAppClientID: opts.clientID ?? "",
        githubAppInstallationID: 77,
      }),
      { privateDir: d },
    );
    return { h, gh, srv, stop: () => (gh.stop(), srv.stop()) };
  }

  it("installation token fetched once and cached until near expiry", async () => {
    const { h, gh, stop } = await setup();
    try {
      const before = githubTokenCount.get({ status: "success" });
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect(gh.tokens.length).toBe(1);
      expect(githubTokenCount.get({ status: "success" }) - before).toBe(1);
      expect(h.lines.join("")).not.toContain(gh.tokens[0]!);
    } finally {
      stop();
    }
  });

  it("a token expiring within 30s is refreshed at the next attempt (client id as issuer)", async () => {
    const { h, gh, stop } = await setup({ ttlMs: 20_000, clientID: "Iv1.abc" });
    try {
      await h.attempt(["ls-remote", h.auth.repo]);
      expect((await h.attempt(["ls-remote", h.auth.repo])).stdout).toContain(mainHead);
      expect(gh.tokens.length).toBe(2);
    } finally {
      stop();
    }
  });

  it("an unreadable key file is fatal", async () => {
    const { h, stop } = await setup({ keyFile: "/nonexistent/app.pem" });
    try {
      const err = await h.auth.refresh(Date.now() + 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FatalAuthError);
      expect((err as Error).message).toBe("can't read private key file");
    } finally {
      stop();
    }
  });

  it("a non-201 answer fails the attempt", async () => {
    const { h, gh, stop } = await setup({ serverIssuer: "another-app" });
    try {
      await expect(h.auth.refresh(Date.now() + 5000)).rejects.toThrow('credential refresh failed: GitHub app installation endpoint returned status 401, body: "{\\"message\\":\\"bad iss 4242\\"}"');
      expect(gh.lastError).toBe("bad iss 4242");
    } finally {
      stop();
    }
  });
});

describe("--cookie-file", () => {
  it("sets http.cookiefile in the private gitconfig", async () => {
    const d = scratch();
    const gitconfig = join(d, "gitconfig");
    writeFileSync(gitconfig, "");
    writeFileSync(join(d, "cookies"), "# Netscape HTTP Cookie File\n");
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, cookieFile: true }), { privateDir: d, env: { GIT_CONFIG_GLOBAL: gitconfig }, cookieFile: join(d, "cookies") });
    expect((await h.git.run(["config", "--global", "http.cookiefile"], { cwd: d })).stdout.trim()).toBe(join(d, "cookies"));
  });

  it("a missing cookie file is fatal", async () => {
    const d = scratch();
    const err = await harness(testConfig({ repo: `${a.url}/repo.git`, cookieFile: true }), { privateDir: d, cookieFile: join(d, "missing") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalAuthError);
    expect((err as Error).message).toBe("can't set up git cookie file");
  });
});

describe("secrets", () => {
  it("never in the argv of git's children, nor in logs at V9, nor in the error file", async () => {
    const d = scratch();
    const secrets = ["argv-scan-pass-1", "argv-scan-cred-2"];
    const slow = startGitHTTP({ projectRoot: repos, users: { alice: secrets[0]!, carol: secrets[1]! }, delayMs: 150 });
    const pwFile = join(d, "pw");
    writeFileSync(pwFile, `${secrets[1]}\n`);
    try {
      const h = await harness(
        testConfig({
          repo: `http://alice:${secrets[0]}@127.0.0.1:${slow.port}/repo.git`,
          credentials: [{ url: `${slow.url}/sub.git`, username: "carol", password: "", passwordFile: pwFile }],
        }),
        // git's own record of every child it starts, with its argv (run_command).
        { privateDir: d, env: { GIT_TRACE: join(d, "trace") } },
      );
      // Every command line sampled, not the last one per pid: a process that has exited reads as
      // "" until its parent reaps it, and a sample in that moment erased what it ran.
      const seen = new Set<string>();
      let scanning = true;
      const scan = (async () => {
        while (scanning) {
          for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
            try {
              seen.add(readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "));
            } catch {
              // gone already
            }
          }
          await Bun.sleep(5);
        }
      })();
      await h.attempt(["clone", "-q", h.auth.repo, join(d, "clone")]);
      await h.attempt(["ls-remote", `${slow.url}/sub.git`]);
      scanning = false;
      await scan;
      const cmdlines = [...seen];
      // git-remote-http lives through the server's delays, so the sampler always sees it. The
      // askpass lives ~10 ms and a sample of /proc takes 5-30 ms under load: whether the sampler
      // caught one was luck, so GIT_TRACE (every run_command, deterministic) proves that git ran
      // the askpass with its prompt in argv, and that no argv git built held a secret.
      expect(cmdlines.some((c) => c.includes("git-remote-http"))).toBe(true);
      const trace = readFileSync(join(d, "trace"), "utf8").split("\n");
      const self = await selfBinary();
      expect(trace.filter((l) => l.includes(`run_command: ${self} 'Password for `))).toHaveLength(2); // one per git command
      for (const s of secrets) {
        expect(cmdlines.filter((c) => c.includes(s))).toEqual([]);
        expect(trace.filter((l) => l.includes(s))).toEqual([]);
        expect(h.lines.filter((l) => l.includes(s))).toEqual([]);
      }
      expect(h.lines.some((l) => l.includes('"md5 of credential"'))).toBe(true);
      // Not in the clone's config either (the URL was stripped before git saw it).
      expect(readFileSync(join(d, "clone", ".git", "config"), "utf8")).not.toContain(secrets[0]!);

      // An error that carries a secret (e.g. git echoing a URL) is scrubbed from log and error file.
      const errorFile = join(d, "error.json");
      const out: string[] = [];
      const elog = createLogger({ verbosity: 0, errorFile, write: (l) => void out.push(l) });
      elog.error(new Error(`fatal: unable to access 'http://alice:${secrets[0]}@host/': 401`), "error syncing repo");
      expect(out.join("")).not.toContain(secrets[0]!);
      expect(readFileSync(errorFile, "utf8")).not.toContain(secrets[0]!);
    } finally {
      slow.stop();
    }
  });

  it("the process env (inherited by hooks) holds no credential", async () => {
    const h = await harness(testConfig({ repo: `${a.url}/repo.git`, username: "alice", password: "alice-secret-1" }), { privateDir: scratch() });
    await h.auth.refresh(Date.now() + 5000);
    expect(JSON.stringify(h.auth.processEnv())).not.toContain("alice-secret-1");
    expect(h.auth.gitEnv().GITSYNC_INTERNAL_ASKPASS).toContain("alice-secret-1");
    expect(gitEnv().GITSYNC_INTERNAL_ASKPASS).toBeUndefined();
  });
});
