// `git-sync status` and `git-sync sync-now` against a real endpoint on 127.0.0.1 and a real root.
import { afterEach, describe, expect, it } from "bun:test";
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expandHelp, runSubcommand } from "../../src/cli/index.ts";
import { cleanup, tmpDir, waitFor } from "../helpers/index.ts";
import { startTestServer, type TestServer } from "../http/_server.ts";

let t: TestServer | undefined;
const dirs: string[] = [];
afterEach(() => {
  t?.stop();
  t = undefined;
  cleanup(...dirs.splice(0));
});

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io = { stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s) };
  const code = await runSubcommand(["bun", "git-sync", ...args], env, io);
  return { code, stdout, stderr };
}

const HASH = "0123456789abcdef0123456789abcdef01234567";

function syncedState(t: TestServer) {
  Object.assign(t.state, {
    ready: true,
    hash: HASH,
    lastAttempt: Date.now() - 2_000,
    lastSuccess: Date.now() - 12_000,
    syncCount: 5,
    hooks: { webhook: { name: "webhook", pending: "", lastSuccessHash: HASH, lastRun: Date.now() - 11_000, lastError: "", consecutiveFailures: 0, running: false } },
  });
}

describe("runSubcommand", () => {
  it("is null for anything that is not a subcommand", () => {
    expect(runSubcommand(["bun", "git-sync", "--repo", "x"], {})).toBeNull();
    expect(runSubcommand(["bun", "git-sync"], {})).toBeNull();
  });
});

describe("expandHelp: `git-sync help [topic]` is --help of what it names, only as the first argument", () => {
  it.each<[string[], string[]]>([
    [["help"], ["--help"]],
    [["help", "status"], ["status", "--help"]],
    [["help", "sync-now", "--json"], ["sync-now", "--help"]],
    [["help", "nope"], ["help", "nope"]],
    [["help", "--root=/x"], ["--help"]],
    [["--repo=x", "help"], ["--repo=x", "help"]],
    [["--repo", "help"], ["--repo", "help"]],
    [["status", "help"], ["status", "help"]],
    [[], []],
  ])("%p", (args, want) => {
    expect(expandHelp(["bun", "git-sync", ...args])).toEqual(["bun", "git-sync", ...want]);
  });
});

describe("git-sync status with an endpoint", () => {
  it("prints a short human report of a healthy instance and exits 0", async () => {
    t = startTestServer();
    syncedState(t);
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^repo: +https:\/\/REDACTED@git\.example\.com\/org\/repo\.git$/m);
    expect(r.stdout).toMatch(/^ref: +main$/m);
    expect(r.stdout).toMatch(new RegExp(`^hash: +${HASH}$`, "m"));
    expect(r.stdout).toMatch(/^link: +\/tmp\/git\/repo$/m);
    expect(r.stdout).toMatch(/^ready: +yes$/m);
    expect(r.stdout).toMatch(/^last success: +1[23]s ago \(/m);
    expect(r.stdout).toMatch(/^failures: +0 consecutive$/m);
    expect(r.stdout).toMatch(/^hook webhook: +ok; last run 1[12]s ago/m);
    expect(r.stdout).not.toContain("hunter2");
    expect(r.stderr).toBe("");
  });

  it("--json prints the /status document", async () => {
    t = startTestServer();
    syncedState(t);
    const r = await cli(["status", "--json", `--http-bind=127.0.0.1:${t.server.port}`]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ hash: HASH, ready: true, healthy: true, syncCount: 5, consecutiveFailures: 0 });
  });

  it("reads the endpoint from the container env (GITSYNC_HTTP_BIND=:port is reached on 127.0.0.1)", async () => {
    t = startTestServer({ httpBind: ":0" });
    syncedState(t);
    const r = await cli(["status"], { GITSYNC_HTTP_BIND: `:${t.server.port}` });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(HASH);
  });

  it("exits 1 and shows the error when the instance is failing", async () => {
    t = startTestServer({ readinessMaxFailures: 3 });
    syncedState(t);
    t.state.consecutiveFailures = 3;
    t.state.lastError = "error syncing repo: couldn't find remote ref nope";
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ready: +no \(not ready: 3 consecutive failures\)$/m);
    expect(r.stdout).toMatch(/^failures: +3 consecutive$/m);
    expect(r.stdout).toMatch(/^last error: +error syncing repo: couldn't find remote ref nope$/m);
  });

  it("exits 1 before the first sync", async () => {
    t = startTestServer();
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ready: +no \(repo is not ready\)$/m);
    expect(r.stdout).toMatch(/^last success: +never$/m);
  });

  it("after a restart shows the hash served from before, marked, with no success claimed", async () => {
    t = startTestServer();
    t.state.servedAtStart = HASH;
    const pending = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(pending.code).toBe(1);
    expect(pending.stdout).toMatch(new RegExp(`^hash: +${HASH} \\(served from before this start; first sync pending\\)$`, "m"));
    expect(pending.stdout).toMatch(/^last success: +none since this start$/m);
    Object.assign(t.state, { lastAttempt: Date.now(), consecutiveFailures: 1, lastError: "can't fetch" });
    const failed = await cli(["status", "--json", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(JSON.parse(failed.stdout)).toMatchObject({ hash: HASH, hashFromBeforeStart: true, lastSuccess: null, ready: false });
    const text = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(text.stdout).toMatch(new RegExp(`^hash: +${HASH} \\(served from before this start; no successful sync since\\)$`, "m"));
    // The first success: this process's own hash, unmarked.
    syncedState(t);
    const NEW = "fedcba9876543210fedcba9876543210fedcba98";
    Object.assign(t.state, { hash: NEW, consecutiveFailures: 0, lastError: "" });
    const synced = await cli(["status", "--json", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(JSON.parse(synced.stdout)).toMatchObject({ hash: NEW, hashFromBeforeStart: false });
  });

  it("--serve-git: two lines for the mirror, refs that name one object on one line", async () => {
    t = startTestServer();
    syncedState(t);
    const TAG = "fedcba9876543210fedcba9876543210fedcba98";
    t.state.serve = {
      auth: "secret",
      maxPacks: 4,
      inFlight: 2,
      requests: { unauthorized: 3, ok: 150, busy: 0 },
      bytesSent: 12.3 * 1024 * 1024,
      refs: [
        { name: "HEAD", oid: HASH },
        { name: "refs/heads/main", oid: HASH },
        { name: "refs/tags/v1.0.0", oid: TAG },
      ],
      changedAt: Date.now() - 20_000,
    };
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^git mirror: +\/git \(secret\), 2 of 4 packs running, 153 requests \(150 ok, 3 unauthorized\), 12\.3 MiB sent$/m);
    expect(r.stdout).toMatch(new RegExp(`^git mirror refs: +HEAD, refs/heads/main -> ${HASH}; refs/tags/v1\\.0\\.0 -> ${TAG}; since 2[01]s ago \\(`, "m"));

    // Anonymous, nothing published yet, nothing asked.
    t.state.serve = { auth: "anonymous", maxPacks: 1, inFlight: 0, requests: {}, bytesSent: 0, refs: [], changedAt: null };
    const idle = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(idle.stdout).toMatch(/^git mirror: +\/git \(anonymous\), 0 of 1 packs running, 0 requests, 0 B sent$/m);
    expect(idle.stdout).toMatch(/^git mirror refs: +nothing published yet \(\/git answers 503\)$/m);
  });

  it("--peers: the role, the owner, the peers seen and the requests, in /status and as text", async () => {
    t = startTestServer();
    syncedState(t);
    t.state.peers = {
      name: "git-sync-peers",
      self: "10.0.0.11:8080",
      role: "follower",
      owner: "10.0.0.12:8080",
      source: "peer",
      peers: ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"],
      down: ["10.0.0.13:8080"],
      resolvedAt: Date.now(),
      resolveError: "",
      hostRequests: 2,
      peerRequests: 340,
      nudgesSent: 0,
      nudgesReceived: 12,
      refused: 1,
    };
    const json = await cli(["status", "--json", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(JSON.parse(json.stdout).peers).toMatchObject({ role: "follower", owner: "10.0.0.12:8080", hostRequests: 2, peerRequests: 340, refused: 1 });
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.stdout).toMatch(/^peers: +follower of 10\.0\.0\.12:8080 \(this replica 10\.0\.0\.11:8080\), last synced from the peer$/m);
    expect(r.stdout).toMatch(/^peers seen: +git-sync-peers \(3\): 10\.0\.0\.11:8080, 10\.0\.0\.12:8080, 10\.0\.0\.13:8080; passed over: 10\.0\.0\.13:8080$/m);
    expect(r.stdout).toMatch(/^peers requests: +2 to the git host, 340 to peers; nudges 0 sent, 12 received; 1 refused$/m);

    // The owner, with a DNS name that stopped answering.
    Object.assign(t.state.peers, { role: "owner", owner: "10.0.0.11:8080", source: "host", down: [], resolveError: "queryA ESERVFAIL" });
    const owner = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(owner.stdout).toMatch(/^peers: +owner: asks the git host \(this replica 10\.0\.0\.11:8080\), last synced from the git host$/m);
    expect(owner.stdout).toMatch(/; passed over: none; DNS fails: queryA ESERVFAIL$/m);
  });

  it("shows no mirror lines without --serve-git", async () => {
    t = startTestServer();
    syncedState(t);
    const r = await cli(["status", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(r.stdout).not.toContain("git mirror");
    expect(r.stdout).not.toContain("peers");
    const json = await cli(["status", "--json", "--http-bind", `127.0.0.1:${t.server.port}`]);
    expect(JSON.parse(json.stdout)).not.toHaveProperty("peers");
  });

  it("exits 2 when the endpoint is unreachable and there is no root", async () => {
    t = startTestServer();
    const port = t.server.port;
    t.stop();
    t = undefined;
    const r = await cli(["status", "--http-bind", `127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`can't read the endpoint at 127.0.0.1:${port}`);
  });

  it("runs as its own process", async () => {
    t = startTestServer();
    syncedState(t);
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "_main.ts"), "status", "--json"], {
      env: { PATH: process.env.PATH ?? "", GITSYNC_HTTP_BIND: `127.0.0.1:${t.server.port}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(JSON.parse(out).hash).toBe(HASH);
  });
});

describe("git-sync status from the root alone", () => {
  function makeRoot(): string {
    const root = tmpDir("gs-cli-");
    dirs.push(root);
    mkdirSync(join(root, ".worktrees", HASH), { recursive: true });
    // A published worktree is a checkout: never empty.
    writeFileSync(join(root, ".worktrees", HASH, "file"), "content\n");
    symlinkSync(`.worktrees/${HASH}`, join(root, "repo.git"));
    const t = new Date(Date.now() - 60_000);
    utimesSync(join(root, "repo.git"), t, t);
    return root;
  }

  it("reports the published hash and says live state needs the endpoint", async () => {
    const root = makeRoot();
    const r = await cli(["status"], { GITSYNC_ROOT: root, GITSYNC_REPO: "https://example.com/org/repo.git", GITSYNC_ERROR_FILE: "error.json" });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^hash: +${HASH}$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^link: +${join(root, "repo.git")}$`, "m"));
    expect(r.stdout).toMatch(/^last error: +\(none: the last attempt succeeded\)$/m);
    expect(r.stdout).toContain("live state (failures, hooks, readiness) needs --http-bind");
  });

  it("exits 1 with the error file's message when the last attempt failed", async () => {
    const root = makeRoot();
    writeFileSync(join(root, "error.json"), JSON.stringify({ Msg: "error syncing repo, will retry", Err: "couldn't find remote ref nope", Args: {} }));
    const r = await cli(["status", "--json", "--root", root, "--link", "repo.git", "--error-file", "error.json"]);
    expect(r.code).toBe(1);
    const facts = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(facts).toMatchObject({ hash: HASH, error: "error syncing repo, will retry: couldn't find remote ref nope", link: join(root, "repo.git") });
    expect(facts.published).toBeString();
  });

  it("exits 2 when neither endpoint nor root is known, or the root does not exist", async () => {
    expect((await cli(["status"])).code).toBe(2);
    const r = await cli(["status", "--root", "/nonexistent/gs-root", "--link", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("can't read root /nonexistent/gs-root");
  });

  it.each([
    [["status", "--jsn"], "git-sync status: unknown flag --jsn"],
    [["status", "--pid=0"], "git-sync status: invalid --pid 0"],
    [["sync-now", "--json"], "git-sync sync-now: unknown flag --json"],
    [["sync-now", "--root"], "git-sync sync-now: --root needs a value"],
  ])("%p: the error and where the usage is, exit 2", async (args, error) => {
    const r = await cli(args);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, "", `${error}\nrun 'git-sync ${args[0]} --help' for usage\n`]);
  });
});

describe("git-sync sync-now", () => {
  /** A push trigger on 127.0.0.1 and the env of a pod configured for it. */
  function pushTrigger(): Record<string, string> {
    const dir = tmpDir();
    dirs.push(dir);
    const secretFile = join(dir, "sync-secret");
    writeFileSync(secretFile, "cli-s3cret\n");
    t = startTestServer({ httpSyncSecretFile: secretFile });
    return { GIT_SYNC_HTTP_BIND: `127.0.0.1:${t.server.port}`, GITSYNC_HTTP_SYNC_SECRET_FILE: secretFile };
  }

  it("POSTs /sync with the instance's secret as a bearer token", async () => {
    const env = pushTrigger();
    const r = await cli(["sync-now"], env);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toBe(`sync requested (POST http://127.0.0.1:${t!.server.port}/sync)\n`);
    expect(t!.syncRequests()).toBe(1);
  });

  it("--secret-file overrides the instance's", async () => {
    const env = pushTrigger();
    const other = join(dirs[0]!, "other");
    writeFileSync(other, "not-it");
    const r = await cli(["sync-now", "--secret-file", other], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("answered 401");
    expect(t!.syncRequests()).toBe(0);
  });

  it("exits 1 when the secret file can't be read", async () => {
    const env = pushTrigger();
    const r = await cli(["sync-now"], { ...env, GITSYNC_HTTP_SYNC_SECRET_FILE: "/nonexistent/secret" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('can\'t read sync secret file "/nonexistent/secret"');
    expect(t!.syncRequests()).toBe(0);
  });

  it("exits 1 when the endpoint refuses", async () => {
    const env = pushTrigger();
    t!.stop();
    t = undefined;
    const r = await cli(["sync-now"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("failed");
  });

  it("without an endpoint sends the --sync-on-signal signal", async () => {
    let got = 0;
    const onSignal = () => void got++;
    process.on("SIGUSR2", onSignal);
    try {
      // --pid stands in for PID 1, which in a container is git-sync's init.
      const r = await cli(["sync-now", "--pid", String(process.pid)], { GITSYNC_SYNC_ON_SIGNAL: "USR2" });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`SIGUSR2 sent to PID ${process.pid}`);
      await waitFor("SIGUSR2 to arrive", () => got > 0);
      expect(got).toBe(1);
    } finally {
      process.off("SIGUSR2", onSignal);
    }
  });

  it("with an endpoint but no secret file, sends the --sync-on-signal signal instead", async () => {
    t = startTestServer();
    let got = 0;
    const onSignal = () => void got++;
    process.on("SIGUSR2", onSignal);
    try {
      const r = await cli(["sync-now", "--pid", String(process.pid)], { GITSYNC_HTTP_BIND: `127.0.0.1:${t.server.port}`, GITSYNC_SYNC_ON_SIGNAL: "USR2" });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("SIGUSR2");
      await waitFor("SIGUSR2 to arrive", () => got > 0);
      expect(got).toBe(1);
      expect(t.syncRequests()).toBe(0);
    } finally {
      process.off("SIGUSR2", onSignal);
    }
  });

  it("exits 2 naming the flags to set when the endpoint has no secret file and there is no signal", async () => {
    t = startTestServer();
    const r = await cli(["sync-now"], { GITSYNC_HTTP_BIND: `127.0.0.1:${t.server.port}` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("POST /sync is off (no --http-sync-secret-file)");
    expect(r.stderr).toContain("--http-sync-secret-file (");
    expect(t.syncRequests()).toBe(0);
  });

  it("exits 2 with no way to reach the instance", async () => {
    const r = await cli(["sync-now"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no --http-bind");
    expect(r.stderr).toContain("--sync-on-signal");
  });

  it("prints its usage", async () => {
    const r = await cli(["sync-now", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--secret-file FILE");
  });
});
