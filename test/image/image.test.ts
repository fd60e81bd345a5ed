// Black-box tests of the container image built from Dockerfile.distroless (scripts/image/build.sh).
// Containers run with --network=host only to reach servers on 127.0.0.1; nothing else is contacted.
// Skipped when podman or the built images are missing (test/helpers/prereqs.ts), unless
// GIT_SYNC_REQUIRE_IMAGE=1 (.ci/run): then that is a failure.
//   GIT_SYNC_IMAGE        default localhost/git-sync:latest (the distroless target)
//   GIT_SYNC_DEBUG_IMAGE  default localhost/git-sync:debug
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, realpathSync, existsSync, lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archive, cleanup, freePort, git, gitEnv, snapshot, tmpDir, waitFor } from "../helpers/index.ts";
import { makeBareRepo, makeTestCA, pushCommit, startGitHTTP, type GitHTTPServer, type SSHServer } from "../servers/index.ts";
import { missing, toolGap, unmet, which, type Gap } from "../helpers/prereqs.ts";
import { startReceiver, startSecretSshd } from "./_servers.ts";
import { startEvilHost, type AdvertisedRef } from "../adversary/_evil-host.ts";
import { blob, commitTree, rawTree } from "../adversary/trees.ts";
import { formatSizes, imageSizes } from "../../scripts/image/sizes.ts";
import { usePrivatePodman } from "../helpers/podman.ts";
import { ownershipKey, rank } from "../../src/peers/rendezvous.ts";

// podman, here and in everything this file starts, uses the store scripts/image/build.sh fills.
usePrivatePodman();

const IMAGE = process.env.GIT_SYNC_IMAGE ?? "localhost/git-sync:latest";
const DEBUG_IMAGE = process.env.GIT_SYNC_DEBUG_IMAGE ?? "localhost/git-sync:debug";
const BUDGET_NON_BINARY_GZIP = 20e6;
/** Podman and both images, built by scripts/image/build.sh; under GIT_SYNC_REQUIRE_IMAGE=1 a gap fails. */
function imageGaps(): Array<Gap | undefined> {
  if (!which("podman")) return [toolGap("podman")];
  const built = [IMAGE, DEBUG_IMAGE].every((image) => Bun.spawnSync(["podman", "image", "exists", image], { stdout: "ignore", stderr: "ignore", env: process.env }).exitCode === 0);
  return [built ? undefined : { what: "podman images not built", get: "bash scripts/image/build.sh", strictness: "image" }];
}
const skip = unmet(imageGaps());
if (!skip) {
  const p = Bun.spawnSync(["podman", "image", "inspect", "--format", "{{.Created.Unix}}", IMAGE], { stdout: "pipe", env: process.env });
  const created = Number(p.stdout.toString().trim()) * 1000;
  const bin = Bun.file(`${import.meta.dir}/../../dist/git-sync`);
  if ((await bin.exists()) && bin.lastModified > created + 1000) {
    console.log(`test/image: NOTE: dist/git-sync is newer than ${IMAGE}; run scripts/image/build.sh to test the current binary`);
  }
}
// Servers on the host the HTTPS and ssh cases need; without them only those cases skip.
const noHttps = !skip && missing("openssl");
const noSsh = !skip && missing("sshd", "ssh-keygen");
const noSigners = !skip && missing("ssh-keygen", "gpg");

interface RunOpts {
  image?: string;
  user?: string;
  /** "host" (default) to reach the loopback servers, "none" when nothing is contacted. */
  network?: "host" | "none";
  entrypoint?: string;
  volumes?: string[];
  env?: Record<string, string>;
  extra?: string[];
  timeoutMs?: number;
}
interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `podman run` asynchronously (the test's own servers must keep answering meanwhile). */
async function run(args: string[], o: RunOpts = {}): Promise<Result> {
  const argv = ["podman", "run", "--rm", `--network=${o.network ?? "host"}`];
  if (o.user) argv.push("--user", o.user);
  if (o.entrypoint) argv.push("--entrypoint", o.entrypoint);
  for (const v of o.volumes ?? []) argv.push("-v", v);
  for (const [k, v] of Object.entries(o.env ?? {})) argv.push("-e", `${k}=${v}`);
  argv.push(...(o.extra ?? []), o.image ?? IMAGE, ...args);
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: process.env });
  const timer = setTimeout(() => proc.kill("SIGKILL"), o.timeoutMs ?? 45_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

function expectOk(r: Result): void {
  if (r.code !== 0) throw new Error(`expected exit 0, got ${show(r)}`);
}

/** A host directory any container uid can write (the container's /git or /out). */
function volumeDir(base: string, name: string): string {
  const d = join(base, name);
  mkdirSync(d, { recursive: true });
  chmodSync(d, 0o777);
  return d;
}

/** The file `rel` inside the checkout that `root/link` points at. */
function synced(root: string, rel: string, link = "current"): string {
  return readFileSync(join(realpathSync(join(root, link)), rel), "utf8");
}

describe.skipIf(skip)("image", () => {
  let work = "";
  let repos = ""; // bare repos served by every server
  let mainHash = "";
  let publicHttp: GitHTTPServer;
  let authHttp: GitHTTPServer;
  let https: GitHTTPServer | undefined;
  let caFile = "";
  let sshd: SSHServer | undefined;
  let sshPort = 0;
  let secretDir = "";
  const auth = { user: "user", pass: "s3cret pass" };
  const basic = `Basic ${btoa(`${auth.user}:${auth.pass}`)}`;

  beforeAll(async () => {
    work = tmpDir("gs-image-");
    chmodSync(work, 0o755);
    repos = join(work, "repos");
    mkdirSync(repos);
    publicHttp = startGitHTTP({ projectRoot: repos });
    authHttp = startGitHTTP({ projectRoot: repos, users: { [auth.user]: auth.pass } });
    if (!noHttps) {
      const caDir = join(work, "ca");
      mkdirSync(caDir);
      const ca = makeTestCA(caDir);
      chmodSync(ca.caFile, 0o644); // mounted into containers running as another uid
      caFile = ca.caFile;
      https = startGitHTTP({ projectRoot: repos, users: { [auth.user]: auth.pass }, tls: ca });
    }
    if (!noSsh) {
      secretDir = join(work, "git-secret");
      sshd = await startSecretSshd(join(work, "sshd"), secretDir);
      sshPort = sshd.port;
    }

    // main -> sub -> subsub, submodule URLs over the public HTTP server; main has a/ and b/ for sparse checkout.
    /** Commits submodule `sub` (a bare repo under `repos`) at `path` in bare repo `name`; returns the new HEAD. */
    const addSubmodule = (name: string, path: string, sub: string) => {
      const wt = join(work, "src", name);
      git(work, "clone", "-q", join(repos, name), wt);
      git(wt, "-c", "protocol.file.allow=always", "submodule", "add", "-q", join(repos, sub), path);
      git(wt, "config", "-f", ".gitmodules", `submodule.${path}.url`, `${publicHttp.url}/${sub}`);
      git(wt, "add", ".gitmodules");
      git(wt, "commit", "-q", "-m", `submodule ${path}`);
      git(wt, "push", "-q", "origin", "main");
      return git(wt, "rev-parse", "HEAD");
    };
    makeBareRepo(repos, "subsub.git", "deep.txt", "subsub\n");
    makeBareRepo(repos, "sub.git", "sub.txt", "sub\n");
    addSubmodule("sub.git", "nested", "subsub.git");
    makeBareRepo(repos, "main.git", "file", "main\n");
    pushCommit(repos, "main.git", "a/x.txt", "in a\n");
    pushCommit(repos, "main.git", "b/y.txt", "in b\n");
    mainHash = addSubmodule("main.git", "sub", "sub.git");
  });

  afterAll(async () => {
    publicHttp?.stop();
    authHttp?.stop();
    https?.stop();
    await sshd?.stop();
    if (work) cleanup(work);
  });

  // ---- The image itself: these need only the image, not the sync engine. ----

  test("--version runs the binary as the entrypoint", async () => {
    const r = await run(["--version"], { network: "none" });
    expectOk(r);
    expect(r.stdout).toMatch(/^v\d+\.\d+\.\d+\S*\n$/);
  });

  test("the image config: user 65533, HOME=/tmp, GITSYNC_ROOT=/git, /git-sync entrypoint", () => {
    const p = Bun.spawnSync(["podman", "image", "inspect", "--format", "{{json .Config}}", IMAGE], { stdout: "pipe", env: process.env });
    const cfg = JSON.parse(p.stdout.toString()) as { User: string; Env: string[]; Entrypoint: string[] };
    expect(cfg.User).toBe("65533:65533");
    expect(cfg.Entrypoint).toEqual(["/git-sync"]);
    expect(cfg.Env).toContain("HOME=/tmp");
    expect(cfg.Env).toContain("GITSYNC_ROOT=/git");
  });

  test("no shell in the default target", async () => {
    for (const sh of ["/bin/sh", "/bin/bash", "/bin/dash", "/busybox/sh", "/usr/bin/sh"]) {
      const r = await run(["-c", "true"], { entrypoint: sh, network: "none" });
      expect(r.code, `${sh}: ${show(r)}`).toBe(127);
    }
  });

  test("the debug target has /bin/sh and the same entrypoint; /git is 65533, setgid, group-writable", async () => {
    const r = await run(["-c", "stat -c '%u:%g %a' /git /etc/passwd; echo $HOME"], { image: DEBUG_IMAGE, entrypoint: "/bin/sh", network: "none" });
    expectOk(r);
    expect(r.stdout).toBe("65533:65533 2775\n0:0 666\n/tmp\n");
    expectOk(await run(["--version"], { image: DEBUG_IMAGE, network: "none" }));
  });

  test("git has https, ssh and the CA bundle (git itself, no git-sync involved)", async () => {
    const out = volumeDir(work, "plain-git");
    const clone = (url: string, dir: string, o: RunOpts = {}) =>
      run(["clone", "-q", "--depth", "1", url, `/git/${dir}`], { entrypoint: "/usr/bin/git", ...o, volumes: [`${out}:/git`, ...(o.volumes ?? [])] });
    // Basic auth through GIT_CONFIG_* (no credential helper: those need a shell).
    const header = { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: ${basic}`, GIT_TERMINAL_PROMPT: "0" };
    expectOk(await clone(`${authHttp.url}/main.git`, "http", { env: header }));
    expect(readFileSync(join(out, "http", "file"), "utf8")).toBe("main\n");
    if (https) {
      expectOk(await clone(`${https.url}/main.git`, "https", { env: { ...header, GIT_SSL_CAINFO: "/etc/test-ca.pem" }, volumes: [`${caFile}:/etc/test-ca.pem:ro`] }));
      // Without the test CA, the system bundle must reject the throw-away certificate.
      const bad = await clone(`${https.url}/main.git`, "https-noca", { env: header });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/certificate|SSL|TLS/i);
    }
    if (sshPort) {
      // Plain `ssh` configured by ssh_config (GIT_SSH_COMMAND with arguments would need /bin/sh).
      const cfg = join(work, "ssh_config");
      writeFileSync(cfg, "Host 127.0.0.1\n  IdentityFile /etc/git-secret/ssh\n  UserKnownHostsFile /etc/git-secret/known_hosts\n  StrictHostKeyChecking yes\n");
      expectOk(await clone(`ssh://${sshd?.user}@127.0.0.1:${sshPort}${repos}/main.git`, "ssh", { volumes: [`${secretDir}:/etc/git-secret:ro`, `${cfg}:/etc/ssh/ssh_config:ro`] }));
      expect(readFileSync(join(out, "ssh", "file"), "utf8")).toBe("main\n");
    }
  });

  test("runs as a random UID (--user 12345:0)", async () => {
    const r = await run(["--version"], { user: "12345:0", network: "none" });
    expectOk(r);
    const out = volumeDir(work, "random-uid-git");
    expectOk(await run(["clone", "-q", `${publicHttp.url}/main.git`, "/git/x"], { user: "12345:0", entrypoint: "/usr/bin/git", volumes: [`${out}:/git`] }));
  });

  test("--read-only root filesystem: only the volume is writable", async () => {
    const out = volumeDir(work, "ro-git");
    const ro = { extra: ["--read-only", "--read-only-tmpfs=false"], volumes: [`${out}:/git`], entrypoint: "/usr/bin/git" };
    expectOk(await run(["clone", "-q", `${publicHttp.url}/main.git`, "/git/x"], ro));
    const denied = await run(["init", "-q", "/tmp/x"], ro);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/read-only/i);
    expectOk(await run(["--version"], { network: "none", extra: ["--read-only", "--read-only-tmpfs=false"] }));
  });

  test("size budget: non-binary layers under 20 MB compressed", async () => {
    for (const image of [IMAGE, DEBUG_IMAGE]) {
      const s = await imageSizes(image);
      console.log(formatSizes(s));
      expect(s.layers.filter((l) => l.binary)).toHaveLength(1);
      const other = s.layers.filter((l) => !l.binary).reduce((a, l) => a + l.gzipBytes, 0);
      expect(other).toBeLessThan(BUDGET_NON_BINARY_GZIP);
    }
  });

  // ---- git-sync syncing inside the image: these need the sync engine (and auth/hooks). ----

  const sync = (args: string[], o: RunOpts & { root: string }) =>
    run(["--ref=main", "--link=current", "--one-time", "-v", "5", ...args], { ...o, volumes: [`${o.root}:/git`, ...(o.volumes ?? [])] });

  test("sync over smart HTTP with basic auth", async () => {
    const root = volumeDir(work, "sync-http");
    const r = await sync([`--repo=${authHttp.url}/main.git`, `--username=${auth.user}`], { root, env: { GITSYNC_PASSWORD: auth.pass } });
    expectOk(r);
    expect(synced(root, "file")).toBe("main\n");
    expect(realpathSync(join(root, "current"))).toEndWith(mainHash);
    expect(r.stderr + r.stdout).not.toContain(auth.pass);
  });

  test("a terminal in the container (podman run -t, a Pod's tty: true) keeps upstream's JSON lines", async () => {
    const root = volumeDir(work, "sync-tty");
    const r = await sync([`--repo=${publicHttp.url}/main.git`], { root, extra: ["-t"] });
    expectOk(r);
    // With -t podman joins stderr to the terminal, which arrives here as stdout, CRLF line ends.
    const lines = (r.stdout + r.stderr).split(/\r?\n/).filter((l) => l.trim() !== "");
    expect(lines.length, show(r)).toBeGreaterThan(3);
    for (const l of lines) if (!l.startsWith("INFO: detected pid 1")) expect(() => JSON.parse(l), l).not.toThrow();
  });

  test.skipIf(noHttps)("sync over HTTPS with a test CA", async () => {
    const root = volumeDir(work, "sync-https");
    const r = await sync([`--repo=${https?.url}/main.git`, `--username=${auth.user}`], {
      root,
      env: { GITSYNC_PASSWORD: auth.pass, GIT_SSL_CAINFO: "/etc/test-ca.pem" },
      volumes: [`${caFile}:/etc/test-ca.pem:ro`],
    });
    expectOk(r);
    expect(synced(root, "file")).toBe("main\n");
  });

  test.skipIf(noSsh)("sync over ssh with a key and known_hosts in /etc/git-secret", async () => {
    const root = volumeDir(work, "sync-ssh");
    const r = await sync([`--repo=ssh://${sshd?.user}@127.0.0.1:${sshPort}${repos}/main.git`], { root, volumes: [`${secretDir}:/etc/git-secret:ro`] });
    expectOk(r);
    expect(synced(root, "file")).toBe("main\n");
  });

  test("sync with nested submodules (no shell: git submodule is a script)", async () => {
    const root = volumeDir(work, "sync-submodules");
    const r = await sync([`--repo=${publicHttp.url}/main.git`, "--submodules=recursive"], { root });
    expectOk(r);
    expect(synced(root, "sub/sub.txt")).toBe("sub\n");
    expect(synced(root, "sub/nested/deep.txt")).toBe("subsub\n");
  });

  test("sync with a sparse checkout file", async () => {
    const root = volumeDir(work, "sync-sparse");
    const cfg = join(work, "sparse");
    writeFileSync(cfg, "/a/\n");
    const r = await sync([`--repo=${publicHttp.url}/main.git`, "--submodules=off", "--sparse-checkout-file=/etc/sparse"], { root, volumes: [`${cfg}:/etc/sparse:ro`] });
    expectOk(r);
    expect(synced(root, "a/x.txt")).toBe("in a\n");
    expect(existsSync(join(realpathSync(join(root, "current")), "b"))).toBe(false);
  });

  test("exechook: a compiled executable mounted into the container", async () => {
    const hookDir = join(work, "hook");
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, "_hook.ts")], compile: { outfile: join(hookDir, "hook") } });
    expect(built.success).toBe(true);
    const root = volumeDir(work, "sync-exechook");
    const out = volumeDir(work, "exechook-out");
    const r = await sync([`--repo=${publicHttp.url}/main.git`, "--exechook-command=/hooks/hook"], { root, volumes: [`${hookDir}:/hooks:ro`, `${out}:/out`] });
    expectOk(r);
    expect(readFileSync(join(out, "hook.txt"), "utf8")).toBe(`${mainHash} /git/.worktrees/${mainHash}\n`);
  });

  test("webhook to a receiver on 127.0.0.1", async () => {
    const receiver = startReceiver();
    try {
      const root = volumeDir(work, "sync-webhook");
      const r = await sync([`--repo=${publicHttp.url}/main.git`, `--webhook-url=${receiver.url}/hook`], { root });
      expectOk(r);
      expect(receiver.requests).toContainEqual({ method: "POST", path: "/hook", hash: mainHash });
    } finally {
      receiver.stop();
    }
  });

  // --verify-signatures in the image, which has neither gpg nor ssh-keygen: both kinds are
  // checked in-process (OpenPGP.js is bundled into the binary).
  const signedRepo = () => {
    const keys = join(work, "signing");
    mkdirSync(keys, { recursive: true, mode: 0o700 });
    const gnupg = join(keys, "gnupg");
    mkdirSync(gnupg, { mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: gnupg, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
    const sh = (argv: string[], cwd = keys) => {
      const p = Bun.spawnSync(argv, { cwd, env, stdout: "pipe", stderr: "pipe" });
      if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr.toString()}`);
      return p.stdout.toString().trim();
    };
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", join(keys, "ssh")]);
    sh(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Signer <signer@example.com>", "ed25519", "sign", "never"]);
    const fpr = /^fpr:+([0-9A-F]+):/m.exec(sh(["gpg", "--list-keys", "--with-colons"]))![1]!;
    const pub = join(work, "keys");
    mkdirSync(pub, { recursive: true });
    chmodSync(pub, 0o755);
    writeFileSync(join(pub, "allowed_signers"), `signer@example.com ${readFileSync(join(keys, "ssh.pub"), "utf8")}`, { mode: 0o644 });
    writeFileSync(join(pub, "trusted.asc"), sh(["gpg", "--armor", "--export", fpr]), { mode: 0o644 });
    const bare = makeBareRepo(repos, "signed.git").path;
    const wt = join(work, ".signed.work");
    git(work, "clone", "-q", bare, wt);
    const commitOn = (branch: string, sign: string[]) => {
      sh(["git", "checkout", "-q", "-B", branch, "origin/main"], wt);
      sh(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", ...sign, "commit", "-q", "--allow-empty", "-m", branch], wt);
      sh(["git", "push", "-q", "origin", branch], wt);
      return sh(["git", "rev-parse", "HEAD"], wt);
    };
    const hashes = {
      ssh: commitOn("ssh-signed", ["-c", "gpg.format=ssh", "-c", `user.signingkey=${join(keys, "ssh")}`, "-c", "commit.gpgsign=true"]),
      pgp: commitOn("pgp-signed", ["-c", `user.signingkey=${fpr}`, "-c", "commit.gpgsign=true"]),
      unsigned: commitOn("unsigned", []),
    };
    Bun.spawnSync(["gpgconf", "--kill", "gpg-agent"], { env });
    return { pub, hashes };
  };
  let signed: ReturnType<typeof signedRepo> | undefined;

  test.skipIf(noSigners)("--verify-signatures: SSH- and OpenPGP-signed commits are verified and published", async () => {
    signed ??= signedRepo();
    const keys = [`${signed.pub}:/keys:ro`];
    const flags = ["--verify-signatures=commit", "--allowed-signers-file=/keys/allowed_signers", "--trusted-keys-file=/keys/trusted.asc"];
    for (const [branch, hash] of [["ssh-signed", signed.hashes.ssh], ["pgp-signed", signed.hashes.pgp]] as const) {
      const root = volumeDir(work, `sync-verify-${branch}`);
      const r = await sync([`--repo=${publicHttp.url}/signed.git`, ...flags, `--ref=${branch}`], { root, volumes: keys });
      expectOk(r);
      expect(realpathSync(join(root, "current"))).toEndWith(hash);
      expect(r.stderr).toContain('"msg":"signature verified"');
    }
  });

  test.skipIf(noSigners)("--verify-signatures: an unsigned commit is refused, exit 1, nothing published", async () => {
    signed ??= signedRepo();
    const root = volumeDir(work, "sync-verify-unsigned");
    const r = await sync(
      [`--repo=${publicHttp.url}/signed.git`, "--ref=unsigned", "--verify-signatures=commit", "--trusted-keys-file=/keys/trusted.asc", "--error-file=error.json"],
      { root, volumes: [`${signed.pub}:/keys:ro`] },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`not publishing ${signed.hashes.unsigned}`);
    expect(existsSync(join(root, "current"))).toBe(false);
    expect(readFileSync(join(root, "error.json"), "utf8")).toContain("is not signed");
  });

  // Issue 13 in the image: the root lock is flock(2) through bun:ffi on the distroless glibc.
  test("root lock: a second git-sync on the same volume exits 1; after a SIGKILL the next one syncs", async () => {
    const root = volumeDir(work, "sync-lock");
    const name = `gs-lock-${process.pid}`;
    const argv = ["podman", "run", "--rm", "--name", name, "--network=host", "-v", `${root}:/git`, IMAGE];
    const first = Bun.spawn([...argv, `--repo=${publicHttp.url}/main.git`, "--ref=main", "--link=current", "--period=1s"], { stdout: "ignore", stderr: "ignore", env: process.env });
    try {
      await waitFor("the first container's link", () => existsSync(join(root, "current")), 30_000, 100);
      const second = await sync([`--repo=${publicHttp.url}/main.git`, "--submodules=off"], { root });
      expect(second.code, show(second)).toBe(1);
      expect(second.stderr).toContain("another git-sync is using it");
    } finally {
      Bun.spawnSync(["podman", "kill", "-s", "KILL", name], { env: process.env });
      await first.exited;
    }
    const third = await sync([`--repo=${publicHttp.url}/main.git`, "--submodules=off"], { root });
    expectOk(third);
    expect(third.stderr).toContain('"msg":"locked root"');
    expect(synced(root, "file")).toBe("main\n");
  }, 90_000);

  // Issue 22 in the image: a git-sync container serves what it published at /git, and git on
  // the host clones from it. The image has no shell: upload-pack starts pack-objects itself.
  test("--serve-git: the host's git clones the published commit from the container (protocol v2 and v0)", async () => {
    const root = volumeDir(work, "serve-git");
    const secrets = join(work, "serve-git-secret");
    mkdirSync(secrets);
    chmodSync(secrets, 0o755);
    const secret = "m1rror-s3cret";
    writeFileSync(join(secrets, "secret"), `${secret}\n`, { mode: 0o644 });
    const port = freePort();
    const url = `http://127.0.0.1:${port}/git`;
    const name = `gs-serve-${process.pid}`;
    const argv = ["podman", "run", "--rm", "--name", name, "--network=host", "-v", `${root}:/git`, "-v", `${secrets}:/secrets:ro`, IMAGE];
    // --period=1s: a cold first attempt fetches without asking the host, so the branch's full
    // name (which the mirror lists beside HEAD) is known from the second attempt's poll on.
    const flags = [`--repo=${publicHttp.url}/main.git`, "--ref=main", "--link=current", "--period=1s", "--submodules=off", `--http-bind=127.0.0.1:${port}`, "--serve-git", "--serve-git-secret-file=/secrets/secret"];
    const container = Bun.spawn([...argv, ...flags], { stdout: "ignore", stderr: "pipe", env: process.env });
    let log = "";
    void (async () => {
      for await (const chunk of container.stderr) log += new TextDecoder().decode(chunk);
    })();
    // The secret as git sends it without a prompt: basic auth (any user name) or a bearer token.
    const header = (value: string) => ({ GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: ${value}` });
    const basicAuth = header(`Basic ${btoa(`anyone:${secret}`)}`);
    const bearer = header(`Bearer ${secret}`);
    const hostGit = async (args: string[], env: Record<string, string>) => {
      const p = Bun.spawn(["git", ...args], { env: gitEnv({ GIT_TERMINAL_PROMPT: "0", ...env }), stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    };
    try {
      // /git answers 503 until the first publish.
      const listed = await waitFor(
        "the container's mirror to list HEAD and main",
        async () => {
          if (container.exitCode !== null) throw new Error(`the container exited ${container.exitCode}:\n${log}`);
          const r = await hostGit(["ls-remote", url], basicAuth);
          return r.code === 0 && r.stdout.includes("refs/heads/main") ? r.stdout : null;
        },
        60_000,
        200,
      );
      expect(listed).toBe(`${mainHash}\tHEAD\n${mainHash}\trefs/heads/main\n`);
      expect((await fetch(`${url}/info/refs?service=git-upload-pack`)).status).toBe(401);
      const want = archive(join(repos, "main.git"), mainHash, join(work, "archive-serve"));
      for (const [version, env] of [["2", basicAuth], ["0", bearer]] as const) {
        const dir = join(work, `serve-clone-v${version}`);
        const r = await hostGit(["-c", `protocol.version=${version}`, "clone", "-q", "--depth=1", url, dir], env);
        expect(r.code, `protocol v${version}: ${r.stderr}\n${log}`).toBe(0);
        expect(git(dir, "rev-parse", "HEAD")).toBe(mainHash);
        expect(snapshot(dir)).toEqual(want);
      }
      expect(log).not.toContain(secret);
    } finally {
      Bun.spawnSync(["podman", "kill", "-s", "KILL", name], { env: process.env });
      await container.exited;
    }
  }, 90_000);

  // Issue 23 in the image: two containers of the image are a fleet. The name resolves (c-ares,
  // the container's /etc/hosts) to both; the follower asks the owner's /git and fetches from it
  // with git's http transport and no shell, and never asks the host.
  test("--peers: a follower container syncs from the owner container, not from the host", async () => {
    const secrets = join(work, "peers-secret");
    mkdirSync(secrets);
    chmodSync(secrets, 0o755);
    const secret = "fl33t-s3cret";
    writeFileSync(join(secrets, "secret"), `${secret}\n`, { mode: 0o644 });
    const port = freePort();
    const repo = `${publicHttp.url}/main.git`;
    // Rendezvous hashing decides which address owns this repo and ref.
    const [owner, follower] = rank(ownershipKey(repo, ["main"]), ["127.0.0.1", "127.0.0.2"]) as [string, string];
    const start = (address: string) => {
      const root = volumeDir(work, `peers-${address}`);
      const name = `gs-peers-${address.replaceAll(".", "-")}-${process.pid}`;
      const argv = ["podman", "run", "--rm", "--name", name, "--network=host", "--add-host=fleet.test:127.0.0.1", "--add-host=fleet.test:127.0.0.2", "-v", `${root}:/git`, "-v", `${secrets}:/secrets:ro`, IMAGE];
      const flags = [`--repo=${repo}`, "--ref=main", "--link=current", "--period=1s", "--submodules=off", `--http-bind=${address}:${port}`, "--serve-git", "--serve-git-secret-file=/secrets/secret", "--peers=fleet.test", "-v=2"];
      const proc = Bun.spawn([...argv, ...flags], { stdout: "ignore", stderr: "pipe", env: process.env });
      const box = { name, proc, log: "" };
      void (async () => {
        for await (const chunk of proc.stderr) box.log += new TextDecoder().decode(chunk);
      })();
      return box;
    };
    const status = async (address: string) => {
      const r = await fetch(`http://${address}:${port}/status`).catch(() => null);
      return r?.ok ? ((await r.json()) as { hash: string; peers: { role: string; owner: string; source: string; hostRequests: number; peerRequests: number } }) : null;
    };
    const boxes = [start(owner), start(follower)];
    try {
      const seen = await waitFor(
        "the follower container to publish main from the owner",
        async () => {
          for (const b of boxes) if (b.proc.exitCode !== null) throw new Error(`${b.name} exited ${b.proc.exitCode}:\n${b.log}`);
          const st = await status(follower);
          return st?.hash === mainHash && st.peers.source === "peer" ? st : null;
        },
        60_000,
        200,
      );
      expect(seen.peers).toMatchObject({ role: "follower", owner: `${owner}:${port}`, hostRequests: 0 });
      expect(seen.peers.peerRequests).toBeGreaterThan(0);
      expect((await status(owner))?.peers).toMatchObject({ role: "owner", source: "host" });
      for (const b of boxes) expect(b.log).not.toContain(secret);
    } finally {
      for (const b of boxes) Bun.spawnSync(["podman", "kill", "-s", "KILL", b.name], { env: process.env });
      await Promise.all(boxes.map((b) => b.proc.exited));
    }
  }, 90_000);

  test("--ref=semver: the highest release tag in range, over smart HTTP", async () => {
    const bare = makeBareRepo(repos, "releases.git", "version", "0\n").path;
    const wt = join(repos, ".releases.git.work");
    const release = (v: string) => {
      const h = pushCommit(repos, "releases.git", "version", `${v}\n`);
      git(wt, "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "-m", v, `v${v}`);
      return h;
    };
    release("1.2.0");
    const h13 = release("1.3.0");
    release("2.0.0-rc.1");
    release("2.0.0");
    git(wt, "push", "-q", bare, "--tags");
    const root = volumeDir(work, "sync-semver");
    const r = await sync([`--repo=${publicHttp.url}/releases.git`, "--ref=semver:>=1.0.0 <2.0.0"], { root });
    expectOk(r);
    expect(synced(root, "version")).toBe("1.3.0\n");
    expect(realpathSync(join(root, "current"))).toEndWith(h13);
  });

  test("--link-mode=copy --copy-drop-repo: a plain directory and no .git", async () => {
    const root = volumeDir(work, "sync-copy");
    const r = await sync([`--repo=${publicHttp.url}/main.git`, "--submodules=off", "--link-mode=copy", "--copy-drop-repo"], { root });
    expectOk(r);
    expect(lstatSync(join(root, "current")).isDirectory()).toBe(true);
    expect(readFileSync(join(root, "current", "a", "x.txt"), "utf8")).toBe("in a\n");
    expect(readFileSync(join(root, "current", ".git-sync-hash"), "utf8").trim()).toBe(mainHash);
    expect(existsSync(join(root, ".git"))).toBe(false);
  });

  // Issue 20 in the image: what is published is what git-sync's own objects say, and trees git
  // would refuse are refused, in both link modes; the served tree stays `git archive` of the last
  // commit the policy allows.
  test("a host lying about a tag's peeled commit never gets that commit published", async () => {
    const bare = makeBareRepo(repos, "lie.git", "file", "released\n").path;
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true");
    const wt = join(repos, ".lie.git.work");
    git(wt, "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "-m", "v1.0.0", "v1.0.0");
    git(wt, "push", "-q", bare, "v1.0.0");
    const released = git(wt, "rev-parse", "v1.0.0^{commit}");
    const evil = pushCommit(repos, "lie.git", "file", "never released\n");
    const host = startEvilHost({ projectRoot: repos });
    host.inject = [evil];
    host.lie = (r: AdvertisedRef) => (r.name === "refs/tags/v1.0.0" ? { ...r, peeled: evil } : r);
    try {
      // A semver: ref asks the host first: the listing and the objects disagree, nothing is published.
      const root = volumeDir(work, "sync-host-lied");
      const lied = await sync([`--repo=${host.url}/lie.git`, "--ref=semver:>=1.0.0", "--error-file=error.json"], { root });
      expect(lied.code, show(lied)).toBe(1);
      expect(lied.stderr).toContain("(host-lied)");
      expect(readFileSync(join(root, "error.json"), "utf8")).toContain("host-lied");
      expect(existsSync(join(root, "current"))).toBe(false);
      // A first sync of the tag itself takes no listing's word: the tag's own commit, as git peels it.
      const first = await sync([`--repo=${host.url}/lie.git`, "--ref=v1.0.0"], { root: volumeDir(work, "sync-host-lied-tag") });
      expectOk(first);
      const served = join(work, "sync-host-lied-tag", "current");
      expect(realpathSync(served)).toEndWith(released);
      expect(snapshot(served)).toEqual(archive(bare, released, join(work, "archive-lie")));
    } finally {
      host.stop();
    }
  });

  for (const mode of ["symlink", "copy"] as const) {
    test(`a crafted tree (symlink "a" and directory "a/") is refused as bad-tree and writes nothing outside (${mode} mode)`, async () => {
      const name = `crafted-${mode}.git`;
      const bare = makeBareRepo(repos, name, "file", "good\n").path;
      const good = git(bare, "rev-parse", "main");
      const root = volumeDir(work, `sync-crafted-${mode}`);
      // A writable directory outside the link, mounted at /outside: where the symlink points.
      const canary = volumeDir(work, `canary-${mode}`);
      writeFileSync(join(canary, "y"), "canary\n");
      const volumes = [`${canary}:/outside`];
      const flags = [`--repo=${publicHttp.url}/${name}`, `--link-mode=${mode}`, "--error-file=error.json"];
      expectOk(await sync(flags, { root, volumes }));
      const x = blob(bare, "x\n");
      const sub = rawTree(bare, [["100644", "x", x], ["100644", "y", blob(bare, "through the symlink\n")]]);
      const bad = commitTree(bare, rawTree(bare, [["100644", "0", x], ["120000", "a", blob(bare, "/outside")], ["40000", "a", sub]]), good);
      expect(git(bare, "rev-parse", "main")).toBe(bad);
      const refused = await sync(flags, { root, volumes });
      expect(refused.code, show(refused)).toBe(1);
      expect(refused.stderr).toContain("(bad-tree)");
      expect(readFileSync(join(root, "error.json"), "utf8")).toContain("bad-tree");
      expect(readFileSync(join(canary, "y"), "utf8")).toBe("canary\n");
      const served = mode === "copy" ? readFileSync(join(root, "current", ".git-sync-hash"), "utf8").trim() : realpathSync(join(root, "current")).split("/").pop();
      expect(served).toBe(good);
      expect(snapshot(join(root, "current"))).toEqual(archive(bare, good, join(work, `archive-${mode}`)));
    });
  }

  test("sync as a random UID (--user 12345:0)", async () => {
    const root = volumeDir(work, "sync-random-uid");
    const r = await sync([`--repo=${publicHttp.url}/main.git`], { root, user: "12345:0" });
    expectOk(r);
    expect(synced(root, "file")).toBe("main\n");
  });

  test("sync with a --read-only root filesystem (writable: the /git volume and /tmp, as an emptyDir would be)", async () => {
    const root = volumeDir(work, "sync-read-only");
    const tmp = volumeDir(work, "sync-read-only-tmp");
    const r = await sync([`--repo=${publicHttp.url}/main.git`], { root, extra: ["--read-only", "--read-only-tmpfs=false"], volumes: [`${tmp}:/tmp`] });
    expectOk(r);
    expect(synced(root, "file")).toBe("main\n");
  });
});
