// Our signature verdicts against git's own, on real commits and tags that git signed: SSH keys
// from ssh-keygen (gpg.format=ssh) and OpenPGP keys from gnupg (a temp GNUPGHOME). For every row
// the verdict of src/verify must give the same good/bad outcome as `git verify-commit` /
// `git verify-tag` with the same allowed signers and keyring, and the verdict we expect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Git } from "../../src/git/runner.ts";
import type { Logger } from "../../src/log/logger.ts";
import { newSyncState } from "../../src/state/sync-state.ts";
import { Verifier, VerifyRefused, type VerifyMode } from "../../src/verify/index.ts";
import { cleanup, gitEnv, tmpDir } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";

const skip = missing("ssh-keygen", "gpg");

const quiet: Logger = { v() {}, info() {}, error() {}, enabled: () => false, named: () => quiet };

let dir = "";
let repo = "";
let gnupg = "";
let otherGnupg = "";
let signers = "";
let keysFile = "";

function run(argv: string[], opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(argv, { cwd: opts.cwd ?? repo, env: gitEnv({ GNUPGHOME: gnupg, ...opts.env }), stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

function must(argv: string[], opts: Parameters<typeof run>[1] = {}): string {
  const r = run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.err}`);
  return r.out.trim();
}

const g = (...args: string[]) => must(["git", ...args]);

function sshKey(name: string, type: string, bits?: string): string {
  const path = join(dir, name);
  must(["ssh-keygen", "-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", "", "-C", name, "-f", path], { cwd: dir });
  return path;
}

function gpgKey(home: string, uid: string, expire: string): string {
  must(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", expire], { env: { GNUPGHOME: home } });
  const colons = must(["gpg", "--list-keys", "--with-colons", uid], { env: { GNUPGHOME: home } });
  return /^fpr:+([0-9A-F]+):/m.exec(colons)![1]!;
}

/** An empty commit signed as `sign` says ("" = unsigned; an ssh key path; gpg:<fpr>; gpg-other:<fpr>). */
function signedCommit(msg: string, sign: string): string {
  const args = ["commit", "-q", "--allow-empty", "-m", msg];
  if (sign === "") {
    g(...args, "--no-gpg-sign");
  } else if (sign.startsWith("gpg")) {
    const [kind, fpr] = sign.split(":") as [string, string];
    must(["git", "-c", "gpg.format=openpgp", "-c", `user.signingkey=${fpr}`, ...args, "-S"], { env: kind === "gpg-other" ? { GNUPGHOME: otherGnupg } : {} });
  } else {
    must(["git", "-c", "gpg.format=ssh", "-c", `user.signingkey=${sign}`, ...args, "-S"]);
  }
  return g("rev-parse", "HEAD");
}

function signedTag(name: string, sign: string): string {
  if (sign === "") g("tag", "-a", "-m", name, name);
  else if (sign.startsWith("gpg:")) must(["git", "-c", "gpg.format=openpgp", "-c", `user.signingkey=${sign.slice(4)}`, "tag", "-s", "-m", name, name]);
  else must(["git", "-c", "gpg.format=ssh", "-c", `user.signingkey=${sign}`, "tag", "-s", "-m", name, name]);
  return g("rev-parse", name);
}

/** The commit `hash` with its message edited and written back as a new object: the signature no longer matches. */
function tampered(hash: string): string {
  const content = g("cat-file", "commit", hash) + "\n";
  return must(["git", "hash-object", "-w", "-t", "commit", "--stdin"], { stdin: content.replace(/\n\n(.*)\n$/, "\n\n$1 (edited)\n") });
}

/** A commit signed by `key` for another SSHSIG namespace ("file"), assembled by hand. */
function signedForNamespace(key: string, namespace: string): string {
  const payload = g("cat-file", "commit", signedCommit("ns", "")) + "\n";
  const msgFile = join(dir, "payload");
  writeFileSync(msgFile, payload);
  must(["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", key, msgFile], { cwd: dir });
  const armored = readFileSync(msgFile + ".sig", "utf8").trimEnd();
  const header = "gpgsig " + armored.split("\n").join("\n ") + "\n";
  const i = payload.indexOf("\n\n");
  return must(["git", "hash-object", "-w", "-t", "commit", "--stdin"], { stdin: payload.slice(0, i + 1) + header + payload.slice(i + 1) });
}

interface Row {
  name: string;
  kind: "commit" | "tag";
  /** Object to hand git verify-*: the commit, or the tag object. */
  object: string;
  /** The commit it peels to. */
  hash: string;
  want: string;
}

const rows: Row[] = [];
let expiredAt = 0;

beforeAll(async () => {
  if (skip) return;
  dir = tmpDir("gs-verify-");
  repo = join(dir, "repo");
  gnupg = join(dir, "gnupg");
  otherGnupg = join(dir, "gnupg-other");
  for (const d of [gnupg, otherGnupg]) {
    mkdirSync(d);
    chmodSync(d, 0o700);
  }
  mkdirSync(repo);
  g("init", "-q", "-b", "main");

  // The key that expires first: it signs now and has expired by the time we verify.
  const expired = gpgKey(gnupg, "Expiring <exp@example.com>", "seconds=4");
  // gpg keeps times in whole seconds and calls a key expired only once now > creation + 4, so
  // the wait must pass the next second boundary too: 4.5 s after a key made at X.0 is X+4, and
  // gpg still said GOODSIG (seen in CI).
  expiredAt = Date.now() + 6_000;
  const expiredCommit = signedCommit("signed by a key about to expire", `gpg:${expired}`);

  const ed = sshKey("ed", "ed25519");
  const p256 = sshKey("p256", "ecdsa", "256");
  const p384 = sshKey("p384", "ecdsa", "384");
  const rsa = sshKey("rsa", "rsa", "2048");
  const stranger = sshKey("stranger", "ed25519");
  const fileOnly = sshKey("fileonly", "ed25519");
  const old = sshKey("old", "ed25519");
  const future = sshKey("future", "ed25519");
  const window = sshKey("window", "ed25519");
  const pub = (k: string) => readFileSync(k + ".pub", "utf8").trim();
  signers = join(dir, "allowed_signers");
  writeFileSync(
    signers,
    [
      "# trusted signers",
      `ed@example.com ${pub(ed)}`,
      `p256@example.com namespaces="git" ${pub(p256)}`,
      `p384@example.com,other@example.com ${pub(p384)}`,
      `rsa@example.com namespaces="file,git" ${pub(rsa)}`,
      `fileonly@example.com namespaces="file" ${pub(fileOnly)}`,
      `old@example.com valid-before="20200101" ${pub(old)}`,
      `future@example.com valid-after="20990101Z" ${pub(future)}`,
      `window@example.com valid-after="20200101",valid-before="20990101000000Z" ${pub(window)}`,
      "",
    ].join("\n"),
  );

  const trusted = gpgKey(gnupg, "Trusted <ok@example.com>", "never");
  const untrusted = gpgKey(otherGnupg, "Stranger <no@example.com>", "never");
  keysFile = join(dir, "trusted.asc");
  writeFileSync(keysFile, must(["gpg", "--armor", "--export", trusted, expired]));

  const add = (name: string, hash: string, want: string) => rows.push({ name, kind: "commit", object: hash, hash, want });
  add("unsigned commit", signedCommit("plain", ""), "unsigned");
  const edCommit = signedCommit("ed25519", ed);
  add("ssh ed25519, trusted", edCommit, "good");
  add("ssh ecdsa p256, trusted", signedCommit("p256", p256), "good");
  add("ssh ecdsa p384, trusted", signedCommit("p384", p384), "good");
  add("ssh rsa (rsa-sha2-512), trusted", signedCommit("rsa", rsa), "good");
  add("ssh key not in allowed signers", signedCommit("stranger", stranger), "unknown-key");
  add("ssh signed, then message edited", tampered(edCommit), "bad-signature");
  add('ssh key allowed only for namespaces="file"', signedCommit("fileonly", fileOnly), "wrong-namespace");
  add("ssh signature made for namespace file", signedForNamespace(ed, "file"), "wrong-namespace");
  add("ssh key valid-before in the past", signedCommit("old", old), "outside-validity");
  add("ssh key valid-after in the future", signedCommit("future", future), "outside-validity");
  add("ssh key inside valid-after..valid-before", signedCommit("window", window), "good");
  const pgpCommit = signedCommit("pgp", `gpg:${trusted}`);
  add("openpgp ed25519, trusted", pgpCommit, "good");
  add("openpgp key not in the trusted keys", signedCommit("pgp stranger", `gpg-other:${untrusted}`), "unknown-key");
  add("openpgp signed, then message edited", tampered(pgpCommit), "bad-signature");
  add("openpgp key expired since it signed", expiredCommit, "key-expired");

  // The tags below point at an unsigned commit.
  signedCommit("tagged", "");
  const tag = (name: string, sign: string, want: string) => rows.push({ name, kind: "tag", object: signedTag(name, sign), hash: g("rev-parse", `${name}^{}`), want });
  tag("ssh-signed-tag", ed, "good");
  tag("pgp-signed-tag", `gpg:${trusted}`, "good");
  tag("unsigned-annotated-tag", "", "unsigned");
  tag("tag-by-stranger", stranger, "unknown-key");
  g("tag", "lightweight");
  rows.push({ name: "lightweight", kind: "tag", object: g("rev-parse", "lightweight"), hash: g("rev-parse", "lightweight"), want: "not-a-tag" });

  // Until the expiring key has expired, gpg would still call its signature good.
  await Bun.sleep(Math.max(0, expiredAt - Date.now()));
});

afterAll(() => {
  if (skip) return;
  for (const home of [gnupg, otherGnupg]) run(["gpgconf", "--kill", "gpg-agent"], { env: { GNUPGHOME: home } });
  cleanup(dir);
});

/** git's own verdict, with the same trust: the allowed signers file and the keyring that holds the trusted keys. */
function gitSays(row: Row): boolean {
  const cmd = row.kind === "commit" ? "verify-commit" : "verify-tag";
  return run(["git", "-c", `gpg.ssh.allowedSignersFile=${signers}`, cmd, row.object]).code === 0;
}

async function oursSays(row: Row, mode: VerifyMode): Promise<string> {
  const v = await Verifier.create({ mode, allowedSignersFile: signers, trustedKeysFile: keysFile }, quiet, newSyncState());
  const git = new Git("git", quiet, () => gitEnv());
  try {
    return (await v.check(git, repo, Date.now() + 30_000, row.object, row.hash))!.result;
  } catch (e) {
    if (e instanceof VerifyRefused) return e.verdict.result;
    throw e;
  }
}

describe.skipIf(skip)("our verdict equals git's", () => {
  test.each([
    "unsigned commit",
    "ssh ed25519, trusted",
    "ssh ecdsa p256, trusted",
    "ssh ecdsa p384, trusted",
    "ssh rsa (rsa-sha2-512), trusted",
    "ssh key not in allowed signers",
    "ssh signed, then message edited",
    'ssh key allowed only for namespaces="file"',
    "ssh signature made for namespace file",
    "ssh key valid-before in the past",
    "ssh key valid-after in the future",
    "ssh key inside valid-after..valid-before",
    "openpgp ed25519, trusted",
    "openpgp key not in the trusted keys",
    "openpgp signed, then message edited",
    "openpgp key expired since it signed",
    "ssh-signed-tag",
    "pgp-signed-tag",
    "unsigned-annotated-tag",
    "tag-by-stranger",
    "lightweight",
  ])("%s", async (name) => {
    const row = rows.find((r) => r.name === name)!;
    const ours = await oursSays(row, row.kind === "commit" ? "commit" : "tag");
    expect({ name, ours }).toEqual({ name, ours: row.want });
    expect({ name, gitGood: gitSays(row) }).toEqual({ name, gitGood: row.want === "good" });
  });

  test("tag-and-commit: a signed tag on an unsigned commit is refused for the commit", async () => {
    const row = rows.find((r) => r.name === "ssh-signed-tag")!;
    const ours = await oursSays(row, "tag-and-commit");
    expect(gitSays({ ...row, kind: "commit", object: row.hash })).toBe(false);
    expect(ours).toBe("unsigned");
  });
});
