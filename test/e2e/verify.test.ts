// --verify-signatures through the compiled binary (issue 14): the link only ever points at what
// a trusted key signed; a refused commit is not handed to any hook, is not verified again on
// every poll, and does not use up --max-failures; bad key files stop startup with file:line.
import { expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, git, head, httpGet, metric, readOr, runBinary, scenario, waitFor, type Scenario } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { script } from "../hooks/_fixtures.ts";

setDefaultTimeout(45_000);

// Commits are signed by git, which runs ssh-keygen (gpg.format=ssh) or gpg.
const noSsh = missing("ssh-keygen");
const noGpg = missing("gpg");

/** An ed25519 key; the scenario's repo signs its commits with it (gpg.format=ssh). */
function signing(t: Scenario, name = "key"): { key: string; line: string } {
  const key = join(t.dir, name);
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key], { stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ssh-keygen: ${p.stderr.toString()}`);
  return { key, line: `${name}@example.com ${readFileSync(key + ".pub", "utf8").trim()}\n` };
}

function signWith(t: Scenario, key: string): void {
  git(t.repo, "config", "gpg.format", "ssh");
  git(t.repo, "config", "user.signingkey", key);
  git(t.repo, "config", "commit.gpgsign", "true");
}

function unsignedCommit(t: Scenario, content: string): string {
  git(t.repo, "config", "commit.gpgsign", "false");
  const h = commit(t.repo, "file", content);
  git(t.repo, "config", "commit.gpgsign", "true");
  return h;
}

const lines = (path: string) => (readOr(path) ?? "").split("\n").filter((l) => l !== "");
const VERIFY = (result: string) => `git_sync_verify_count_total{result="${result}"}`;

test.skipIf(noSsh).concurrent("a branch moved to an unsigned commit: the link stays on the signed one, no hook sees it, then a signed commit is published", async () => {
  await using t = await scenario();
  const { key, line } = signing(t);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, line);
  signWith(t, key);
  const h1 = commit(t.repo, "file", "signed one\n");
  const execLog = join(t.dir, "exec.log");
  const gateLog = join(t.dir, "gate.log");
  const exec = script(t.dir, "exec.sh", `echo "$GITSYNC_HASH" >> '${execLog}'`);
  const gate = script(t.dir, "gate.sh", `echo "$GITSYNC_HASH" >> '${gateLog}'`);
  const port = freePort();
  const gs = t.start(
    "--period=100ms",
    "--verify-signatures=commit",
    `--allowed-signers-file=${signers}`,
    `--exechook-command=${exec}`,
    `--pre-publish-exechook-command=${gate}`,
    "--pre-publish-exechook-gate",
    "--error-file=error.json",
    "--max-failures=2",
    `--http-bind=127.0.0.1:${port}`,
    "--http-metrics",
    "--readiness-max-failures=2",
  );
  await t.waitHash(h1, 15_000, gs);
  await waitFor("the exechook for the signed commit", () => lines(execLog).includes(h1));

  const h2 = unsignedCommit(t, "unsigned two\n");
  const errorFile = join(t.root, "error.json");
  await waitFor("the error file naming the unsigned commit", () => readOr(errorFile)?.includes(h2));
  expect(readOr(errorFile)).toContain("is not signed");
  // The error file is written as the line is logged; the line reaches this test through a pipe, later.
  await waitFor("the log line naming the unsigned commit", () => gs.logs().some((l) => l.msg === "signature check failed, not publishing" && l.verdict === "unsigned" && l.hash === h2));
  // Many polls later: still on h1, verified once, and --max-failures=2 did not end the process.
  await waitFor("several polls that re-report the refusal", () => gs.count("signature check failed before, not publishing; retried when the ref moves or a key file changes") >= 5);
  expect(gs.done).toBe(false);
  expect(t.hash()).toBe(h1);
  expect(await metric(port, VERIFY("unsigned"))).toBe(1);
  expect(await metric(port, VERIFY("good"))).toBe(1);
  const status = JSON.parse((await httpGet(port, "/status")).body) as { verify: { result: string; hash: string }; consecutiveFailures: number };
  expect(status.verify.result).toBe("unsigned");
  expect(status.verify.hash).toBe(h2);
  expect(status.consecutiveFailures).toBeGreaterThan(2);
  // A failure for readiness, though not for --max-failures.
  expect((await httpGet(port, "/readyz")).status).toBe(503);
  const cli = await runBinary(["status", `--http-bind=127.0.0.1:${port}`]);
  expect(cli.code).toBe(1);
  expect(cli.stdout).toMatch(new RegExp(`signature: +unsigned: commit ${h2}; no signature on commit ${h2}`));
  expect(lines(execLog)).not.toContain(h2);
  expect(lines(gateLog)).not.toContain(h2);

  const h3 = commit(t.repo, "file", "signed three\n");
  await t.waitHash(h3, 15_000, gs);
  await waitFor("the exechook for the new signed commit", () => lines(execLog).includes(h3));
  expect(lines(execLog)).not.toContain(h2);
  expect(lines(gateLog)).not.toContain(h2);
  await waitFor("the error file removed", () => readOr(errorFile) === undefined);
  expect(await metric(port, VERIFY("good"))).toBe(2);
  expect((await httpGet(port, "/readyz")).status).toBe(200);
  expect(await metric(port, VERIFY("unsigned"))).toBe(1);
});

test.skipIf(noSsh).concurrent("one-time with an unsigned HEAD exits 1 and publishes nothing", async () => {
  await using t = await scenario();
  const { line } = signing(t);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, line);
  const r = await t.sync("--verify-signatures=commit", `--allowed-signers-file=${signers}`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`not publishing ${head(t.repo)}`);
  expect(t.hash()).toBe("");
});

test.skipIf(noSsh).concurrent("a commit signed by an unknown key is published once its key is added to the allowed signers file", async () => {
  await using t = await scenario();
  const trusted = signing(t, "trusted");
  const newcomer = signing(t, "newcomer");
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, trusted.line);
  signWith(t, newcomer.key);
  const h = commit(t.repo, "file", "by the newcomer\n");
  const gs = t.start("--period=100ms", "--verify-signatures=commit", `--allowed-signers-file=${signers}`, "-v", "1");
  await waitFor("the refusal", () => gs.logs().some((l) => l.verdict === "unknown-key" && l.hash === h));
  const refusal = gs.logs().find((l) => l.verdict === "unknown-key")!;
  // The key's fingerprint, as ssh-keygen -l prints it.
  const fp = Bun.spawnSync(["ssh-keygen", "-l", "-f", newcomer.key + ".pub"]).stdout.toString().split(" ")[1]!;
  expect(refusal.fingerprint).toBe(fp);
  expect(String(refusal.error)).toContain(fp);
  expect(t.hash()).toBe("");
  // The rotation a Secret update makes: the file changes, the ref does not.
  appendFileSync(signers, newcomer.line);
  await t.waitHash(h, 15_000, gs);
});

test.skipIf(noSsh).concurrent("--verify-signatures=tag syncs a signed annotated tag with --depth=1", async () => {
  await using t = await scenario();
  const { key, line } = signing(t);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, line);
  const h = commit(t.repo, "file", "tagged\n");
  git(t.repo, "-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`, "tag", "-s", "-m", "release", "v1");
  git(t.repo, "tag", "-a", "-m", "unsigned", "v2");
  await t.syncOk("--ref=v1", "--depth=1", "--verify-signatures=tag", `--allowed-signers-file=${signers}`);
  expect(t.hash()).toBe(h);
  const r = await t.sync("--ref=v2", "--verify-signatures=tag", `--allowed-signers-file=${signers}`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("is not signed (unsigned)");
  // tag-and-commit: the tag is signed, the commit is not.
  const both = await t.sync("--ref=v1", "--verify-signatures=tag-and-commit", `--allowed-signers-file=${signers}`);
  expect(both.code).toBe(1);
  expect(both.stderr).toContain(`commit ${h} is not signed`);
});

test.skipIf(noSsh).concurrent("bad key files and flags stop startup with exit 1 and say which file and line", async () => {
  await using t = await scenario();
  const { line } = signing(t);
  const file = (name: string, text: string) => {
    const p = join(t.dir, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: Array<[string[], string]> = [
    [["--verify-signatures=commit", `--allowed-signers-file=${file("ca", `# comment\n@example.com cert-authority ${line}`)}`], "ca:2: cert-authority is not supported"],
    [["--verify-signatures=commit", `--allowed-signers-file=${file("junk", `${line}a@b ssh-ed25519 !!!\n`)}`], "junk:2: the public key is not base64"],
    [["--verify-signatures=commit", `--allowed-signers-file=${file("badopt", `a@b restrict ${line.split(" ").slice(1).join(" ")}`)}`], "badopt:1: unsupported option restrict"],
    [["--verify-signatures=commit", `--allowed-signers-file=${file("badtime", `a@b valid-after="2024" ${line.split(" ").slice(1).join(" ")}`)}`], "badtime:1: invalid time"],
    [["--verify-signatures=commit", `--allowed-signers-file=${join(t.dir, "missing")}`], `can't read --allowed-signers-file ${join(t.dir, "missing")}`],
    [["--verify-signatures=commit", `--trusted-keys-file=${file("not-pgp", "hello\n")}`], "not-pgp:1: no \\\"-----BEGIN PGP PUBLIC KEY BLOCK-----\\\" found"],
    [["--verify-signatures=commit", `--trusted-keys-file=${file("broken-pgp", "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n-----END PGP PUBLIC KEY BLOCK-----\n")}`], "broken-pgp:2: can't read the key block"],
    [["--verify-signatures=commit"], "--allowed-signers-file or --trusted-keys-file must be specified"],
    [["--verify-signatures=yes", `--allowed-signers-file=${file("ok", line)}`], '--verify-signatures must be one of "commit", "tag", or "tag-and-commit"'],
    [["--verify-signatures=tag", `--allowed-signers-file=${file("ok2", line)}`], "needs --ref to name an annotated tag, not HEAD"],
    [[`--allowed-signers-file=${file("ok3", line)}`], "may only be specified when --verify-signatures is set"],
  ];
  const unreadable = file("unreadable", line);
  chmodSync(unreadable, 0);
  // Root reads anything; the mode only bites for other users.
  if (process.getuid?.() !== 0) cases.push([["--verify-signatures=commit", `--allowed-signers-file=${unreadable}`], "can't read --allowed-signers-file"]);
  for (const [args, want] of cases) {
    const r = await t.sync(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 1 });
    expect(r.stderr).toContain(want);
  }
  expect(t.hash()).toBe("");
});

test.skipIf(noGpg).concurrent("an OpenPGP-signed commit is verified by the binary (OpenPGP.js bundled), an untrusted one refused", async () => {
  await using t = await scenario();
  const homes = [join(t.dir, "gnupg"), join(t.dir, "gnupg-other")];
  const gpg = (home: string, ...args: string[]) => {
    const p = Bun.spawnSync(["gpg", "--batch", ...args], { env: { ...process.env, GNUPGHOME: home }, stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`gpg ${args.join(" ")}: ${p.stderr.toString()}`);
    return p.stdout.toString();
  };
  try {
    const fprs = homes.map((home, i) => {
      mkdirSync(home, { mode: 0o700 });
      gpg(home, "--passphrase", "", "--quick-gen-key", `Signer ${i} <s${i}@example.com>`, "ed25519", "sign", "never");
      return /^fpr:+([0-9A-F]+):/m.exec(gpg(home, "--list-keys", "--with-colons"))![1]!;
    });
    const keys = join(t.dir, "trusted.asc");
    writeFileSync(keys, gpg(homes[0]!, "--armor", "--export", fprs[0]!));
    const signedBy = (i: number) => {
      const p = Bun.spawnSync(["git", "-c", `user.signingkey=${fprs[i]}`, "commit", "-q", "-S", "--allow-empty", "-m", `by ${i}`], {
        cwd: t.repo,
        env: { ...process.env, GNUPGHOME: homes[i]!, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" },
        stderr: "pipe",
      });
      if (p.exitCode !== 0) throw new Error(p.stderr.toString());
      return head(t.repo);
    };
    const good = signedBy(0);
    await t.syncOk("--verify-signatures=commit", `--trusted-keys-file=${keys}`);
    expect(t.hash()).toBe(good);
    const bad = signedBy(1);
    const r = await t.sync("--verify-signatures=commit", `--trusted-keys-file=${keys}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`not publishing ${bad}`);
    expect(r.stderr).toContain(fprs[1]!);
    expect(t.hash()).toBe(good);
  } finally {
    for (const home of homes) Bun.spawnSync(["gpgconf", "--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: home } });
  }
});

test.skipIf(noSsh).concurrent("submodules: the superproject commit is what is verified, and the push trigger syncs a signed commit at once", async () => {
  await using t = await scenario();
  const { key, line } = signing(t);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, line);
  // The submodule's commits are not signed; only the superproject's are checked.
  const sub = t.makeRepo("sub");
  signWith(t, key);
  git(t.repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "sub");
  git(t.repo, "commit", "-q", "-m", "add submodule");
  const h1 = head(t.repo);
  const secret = join(t.dir, "sync-secret");
  writeFileSync(secret, "push-s3cret\n");
  const port = freePort();
  // A long period: only the push trigger can make the second sync happen in time.
  const gs = t.start(
    "--period=1h",
    "--verify-signatures=commit",
    `--allowed-signers-file=${signers}`,
    "--git-config=protocol.file.allow:always",
    `--http-bind=127.0.0.1:${port}`,
    `--http-sync-secret-file=${secret}`,
    "--http-sync-min-interval=0",
  );
  await t.waitHash(h1, 15_000, gs);
  expect(t.read("sub/file")).toBe("initial\n");
  const h2 = commit(t.repo, "file", "pushed\n");
  const res = await fetch(`http://127.0.0.1:${port}/sync`, { method: "POST", headers: { Authorization: "Bearer push-s3cret" } });
  expect(res.status).toBeLessThan(300);
  await t.waitHash(h2, 10_000, gs);
});

test.skipIf(noSsh).concurrent("a key file broken while running fails the attempt (the link stays) until it is fixed", async () => {
  await using t = await scenario();
  const { key, line } = signing(t);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, line);
  signWith(t, key);
  const h1 = commit(t.repo, "file", "one\n");
  const gs = t.start("--period=100ms", "--verify-signatures=commit", `--allowed-signers-file=${signers}`, "--max-failures=-1");
  await t.waitHash(h1, 15_000, gs);
  writeFileSync(signers, "broken line\n");
  const h2 = commit(t.repo, "file", "two\n");
  await waitFor("the attempt failing on the broken file", () => gs.logs().some((l) => String(l.error ?? "").includes(`invalid --allowed-signers-file ${signers}:1`)));
  expect(t.hash()).toBe(h1);
  writeFileSync(signers, line);
  await t.waitHash(h2, 15_000, gs);
});
