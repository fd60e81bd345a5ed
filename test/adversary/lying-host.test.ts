// A git host that lies in its ref listing (issue 20, item 1): whatever it says a ref peels to,
// git-sync publishes only the commit its own objects peel the fetched ref to, and only what the
// --verify-signatures policy allows. The hosts here are real: an evil smart-HTTP server
// (_evil-host.ts) in front of `git http-backend`, and local repos whose packed-refs was edited.
// Each published tree is compared, file by file, with `git archive` of the commit the policy allows.
import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archive, commit, freePort, git, httpGet, linkHash, metric, readOr, runBinary, scenario, snapshot, waitFor, type Running, type Scenario } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";
import { startEvilHost, type AdvertisedRef, type EvilHost } from "./_evil-host.ts";

setDefaultTimeout(60_000);

// Signed tags and commits: git runs ssh-keygen to make them.
const noSsh = missing("ssh-keygen");

/** An ed25519 key, trusted by the scenario's allowed_signers file. */
function trustKey(t: Scenario): { key: string; signers: string } {
  const key = join(t.dir, "key");
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "key", "-f", key], { stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ssh-keygen: ${p.stderr.toString()}`);
  const signers = join(t.dir, "allowed_signers");
  writeFileSync(signers, `key@example.com ${readFileSync(key + ".pub", "utf8").trim()}\n`);
  return { key, signers };
}

/** Every commit of the scenario's repo is signed with `key` from now on. */
function signCommits(t: Scenario, key: string): void {
  git(t.repo, "config", "gpg.format", "ssh");
  git(t.repo, "config", "user.signingkey", key);
  git(t.repo, "config", "commit.gpgsign", "true");
}

/** (Re)points `name` at HEAD with a tag object signed by `key` ("" = unsigned); returns the tag's oid. */
function tag(t: Scenario, name: string, key: string): string {
  const sign = key === "" ? ["-a"] : ["-s"];
  git(t.repo, "-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`, "tag", "-f", ...sign, "-m", name, name);
  return git(t.repo, "rev-parse", name);
}

/** A commit no advertised ref reaches (kept by refs/hidden/<name>): the host can only inject it. */
function hiddenCommit(t: Scenario, name: string, content: string): string {
  git(t.repo, "checkout", "-q", "--detach");
  const h = commit(t.repo, "file", content);
  git(t.repo, "update-ref", `refs/hidden/${name}`, h);
  git(t.repo, "checkout", "-q", "main");
  return h;
}

/** The published tree is exactly `git archive` of `hash`. */
function expectTreeOf(t: Scenario, dir: string, hash: string): void {
  expect(snapshot(dir)).toEqual(archive(t.repo, hash, join(t.dir, "archive")));
}

/** The scenario's repo served by an evil host (which may inject objects: allowAnySHA1InWant). */
function evilHost(t: Scenario, protocolV2 = true): EvilHost {
  git(t.repo, "config", "uploadpack.allowAnySHA1InWant", "true");
  return startEvilHost({ projectRoot: t.dir, protocolV2 });
}

/** A lie: `name` is listed as peeling to `peeled`. */
const peelsTo = (name: string, peeled: string) => (r: AdvertisedRef) => (r.name === name ? { ...r, peeled } : r);

/** A log line reporting the refusal: the loop's (with the verdict) or an --also-link ref's (in its error). */
const isLie = (l: Record<string, unknown>) => l.verdict === "host-lied" || String(l.error ?? "").includes("(host-lied)");
const hostLied = (gs: Running) => gs.logs().some(isLie);
const VERIFY = (result: string) => `git_sync_verify_count_total{result="${result}"}`;

interface StatusDoc {
  verify: { result: string; hash: string } | null;
  lastError: string;
  links?: Array<{ name: string; lastError: string; hash: string }>;
}

async function status(port: number): Promise<StatusDoc> {
  return JSON.parse((await httpGet(port, "/status")).body) as StatusDoc;
}

test.skipIf(noSsh).concurrent("a host that lies about a signed tag's peeled commit cannot get the unsigned commit it put in the pack published (tag mode, protocol v2); a tag that moves between poll and fetch publishes the newer one", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  const c1 = commit(t.repo, "file", "release one\n");
  const t1 = tag(t, "v1", key);
  const evil = hiddenCommit(t, "evil", "evil\n");
  const host = evilHost(t);
  try {
    const port = freePort();
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--ref=v1", "--period=100ms", "--verify-signatures=tag", `--allowed-signers-file=${signers}`, "--error-file=error.json", `--http-bind=127.0.0.1:${port}`, "--http-metrics", "-v", "2"]);
    await t.waitHash(c1, 15_000, gs);

    host.inject = [evil];
    host.lie = peelsTo("refs/tags/v1", evil);
    await waitFor("the lie refused (or the evil commit published)", () => hostLied(gs) || t.hash() === evil);
    expect(t.hash()).toBe(c1);
    const errorFile = join(t.root, "error.json");
    await waitFor("the error file naming the lie", () => readOr(errorFile)?.includes("host-lied"));
    expect(readOr(errorFile)).toContain(`not publishing ${evil}`);
    // Remembered: later polls report it again without a fetch.
    await waitFor("the refusal re-reported from memory", () => gs.logs().filter((l) => l.verdict === "host-lied" && String(l.msg).includes("before")).length >= 3);
    const s = await status(port);
    expect(s.verify?.result).toBe("host-lied");
    expect(s.verify?.hash).toBe(evil);
    expect(await metric(port, VERIFY("host-lied"))).toBe(1);
    // An operator's view names it as what it is: not a signature verdict.
    const cli = await runBinary(["status", `--http-bind=127.0.0.1:${port}`]);
    expect(cli.stdout).toMatch(/ref check: +host-lied: /);
    expect(t.hash()).toBe(c1);
    expectTreeOf(t, t.link, c1);

    // The host tells the truth again, and v1 moves twice: the poll sees t2, the fetch gets t3.
    host.lie = null;
    host.inject = [];
    const c2 = commit(t.repo, "file", "release two\n");
    const t2 = tag(t, "v1", key);
    let c3 = "";
    let t3 = "";
    host.afterListing = (listed) => {
      if (!listed.some((r) => r.oid === t2)) return false;
      c3 = commit(t.repo, "file", "release three\n");
      t3 = tag(t, "v1", key);
      return true;
    };
    await waitFor("the newer tag published", () => c3 !== "" && t.hash() === c3);
    // Logged before the publish; the line reaches this test through a pipe, maybe later.
    await waitFor("the move logged", () => gs.logs().some((l) => l.msg === "ref moved between poll and fetch" && l.polled === t2 && l.fetched === t3));
    expect(gs.logs().some((l) => isLie(l) && l.hash !== t1)).toBe(false);
    expectTreeOf(t, t.link, c3);
    expect(c2).not.toBe(c3);
  } finally {
    host.stop();
  }
});

test.skipIf(noSsh).concurrent("a protocol-v0 host whose ^{} line rolls a tag back to an older signed commit is refused (commit mode)", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  signCommits(t, key);
  const older = commit(t.repo, "file", "older, signed\n");
  const current = commit(t.repo, "file", "current, signed\n");
  tag(t, "v1", "");
  const host = evilHost(t, false);
  try {
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--ref=v1", "--depth=0", "--period=100ms", "--verify-signatures=commit", `--allowed-signers-file=${signers}`]);
    await t.waitHash(current, 15_000, gs);
    host.lie = peelsTo("refs/tags/v1", older);
    await waitFor("the lie refused (or the rollback published)", () => hostLied(gs) || t.hash() === older);
    expect(t.hash()).toBe(current);
    const line = gs.logs().find((l) => l.verdict === "host-lied")!;
    expect(String(line.error)).toContain(`not publishing ${older}`);
    expectTreeOf(t, t.link, current);
  } finally {
    host.stop();
  }
});

test.skipIf(noSsh).concurrent("a local repo whose packed-refs ^ line was edited cannot get an unsigned ancestor published (file:// and plain path, tag mode)", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  const unsigned = git(t.repo, "rev-parse", "HEAD");
  const c1 = commit(t.repo, "file", "tagged\n");
  const t1 = tag(t, "v1", key);
  git(t.repo, "pack-refs", "--all");
  const packed = join(t.repo, ".git", "packed-refs");
  const honest = readFileSync(packed, "utf8");
  expect(honest).toContain(`${t1} refs/tags/v1\n^${c1}\n`);
  writeFileSync(packed, honest.replace(`^${c1}\n`, `^${unsigned}\n`));

  for (const [i, repo] of [t.repo, `file://${t.repo}`].entries()) {
    const root = join(t.dir, `root${i}`);
    const args = ["--one-time", `--repo=${repo}`, `--root=${root}`, "--link=link", "--ref=v1", "--depth=0", "--verify-signatures=tag", `--allowed-signers-file=${signers}`];
    const r = await runBinary(args, { env: t.env });
    expect({ repo, code: r.code, published: linkHash(join(root, "link")) }).toEqual({ repo, code: 1, published: "" });
    expect(r.stderr).toContain(`not publishing ${unsigned}`);
    expect(r.stderr).toContain("(host-lied)");
  }

  // The same repo with its packed-refs as git wrote it: the signed tag's commit, file for file.
  writeFileSync(packed, honest);
  const root = join(t.dir, "root-honest");
  mkdirSync(root);
  const ok = await runBinary(["--one-time", `--repo=file://${t.repo}`, `--root=${root}`, "--link=link", "--ref=v1", "--depth=0", "--verify-signatures=tag", `--allowed-signers-file=${signers}`], { env: t.env });
  expect(ok.code).toBe(0);
  expect(linkHash(join(root, "link"))).toBe(c1);
  expectTreeOf(t, join(root, "link"), c1);
});

test.skipIf(noSsh).concurrent("a semver: ref whose newest tag the host says peels to a signed commit it injected, not the tagged one, is refused (tag-and-commit)", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  signCommits(t, key);
  const c1 = commit(t.repo, "file", "1.0.0\n");
  tag(t, "v1.0.0", key);
  const host = evilHost(t);
  try {
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--ref=semver:>=1.0.0", "--period=100ms", "--verify-signatures=tag-and-commit", `--allowed-signers-file=${signers}`, "--error-file=error.json"]);
    await t.waitHash(c1, 15_000, gs);
    // Signed by the trusted key, but never released: no tag points at it.
    const wip = hiddenCommit(t, "wip", "work in progress\n");
    commit(t.repo, "file", "1.1.0\n");
    const t2 = tag(t, "v1.1.0", key);
    host.inject = [wip];
    host.lie = peelsTo("refs/tags/v1.1.0", wip);
    await waitFor("the lie refused (or the wip commit published)", () => hostLied(gs) || t.hash() === wip);
    expect(t.hash()).toBe(c1);
    expect(readOr(join(t.root, "error.json"))).toContain(`${t2} peels to`);
    // Remembered: the next polls fetch nothing.
    await waitFor("the refusal re-reported from memory", () => gs.logs().filter((l) => l.verdict === "host-lied").length >= 3);
    expect(gs.logs().filter((l) => l.verdict === "host-lied" && !String(l.msg).includes("before")).length).toBe(1);
    expectTreeOf(t, t.link, c1);
  } finally {
    host.stop();
  }
});

test.concurrent("with --also-link and no --verify-signatures, a ref the host says peels to a commit it injected is refused for that link alone", async () => {
  await using t = await scenario();
  const tagged = commit(t.repo, "file", "release\n");
  const t2 = tag(t, "v2", "");
  const evil = hiddenCommit(t, "evil", "evil\n");
  const host = evilHost(t);
  host.inject = [evil];
  host.lie = peelsTo("refs/tags/v2", evil);
  try {
    const port = freePort();
    const rel = join(t.root, "rel");
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--ref=main", "--also-link=rel=v2", "--period=100ms", "--error-file=error.json", `--http-bind=127.0.0.1:${port}`, "--http-metrics"]);
    await t.waitHash(tagged, 15_000, gs);
    await waitFor("the lie refused (or the evil commit published)", () => hostLied(gs) || linkHash(rel) === evil);
    expect(linkHash(rel)).toBe("");
    expect(t.hash()).toBe(tagged);
    const s = await status(port);
    expect(s.links?.[0]?.lastError).toContain(`${t2} peels to ${tagged}`);
    await waitFor("the error file naming the lie", () => readOr(join(t.root, "error.json"))?.includes("(host-lied)"));
    expect(await metric(port, VERIFY("host-lied"))).toBe(1);
    expectTreeOf(t, t.link, tagged);

    // The host tells the truth: the tag's own commit is published at rel.
    host.lie = null;
    await waitFor("rel published", () => linkHash(rel) === tagged);
    expectTreeOf(t, rel, tagged);
  } finally {
    host.stop();
  }
});

test.skipIf(noSsh).concurrent("copy mode: a host that lies about a signed tag's peeled commit cannot get its injected commit copied into --link", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  const c1 = commit(t.repo, "file", "release one\n");
  tag(t, "v1", key);
  const evil = hiddenCommit(t, "evil", "evil\n");
  const host = evilHost(t);
  const copied = () => readOr(join(t.link, ".git-sync-hash"))?.trim() ?? "";
  try {
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--link-mode=copy", "--ref=v1", "--period=100ms", "--verify-signatures=tag", `--allowed-signers-file=${signers}`]);
    await waitFor("first copy", () => copied() === c1);
    host.inject = [evil];
    host.lie = peelsTo("refs/tags/v1", evil);
    await waitFor("the lie refused (or the evil commit copied)", () => hostLied(gs) || copied() === evil);
    expect(copied()).toBe(c1);
    expectTreeOf(t, t.link, c1);
  } finally {
    host.stop();
  }
});

test.skipIf(noSsh).concurrent("the cheap poll is no way around the policy: a tag re-pointed at an unsigned tag is refused whether the host lies that it still peels to the published commit or it really does", async () => {
  await using t = await scenario();
  const { key, signers } = trustKey(t);
  const c1 = commit(t.repo, "file", "release one\n");
  tag(t, "v1", key);
  const host = evilHost(t);
  try {
    const gs = t.spawn([`--repo=${host.url}/repo`, `--root=${t.root}`, "--link=link", "--ref=v1", "--period=100ms", "--verify-signatures=tag", `--allowed-signers-file=${signers}`]);
    await t.waitHash(c1, 15_000, gs);

    // An unsigned tag of another commit, listed as peeling to the one published.
    const evil = commit(t.repo, "file", "evil\n");
    const bad = tag(t, "v1", "");
    host.lie = peelsTo("refs/tags/v1", c1);
    await waitFor("the lie refused (or the evil commit published)", () => hostLied(gs) || t.hash() === evil);
    expect(t.hash()).toBe(c1);
    expect(gs.logs().find((l) => l.verdict === "host-lied")?.hash).toBe(bad);

    // Honestly: an unsigned tag made again of the published commit.
    host.lie = null;
    git(t.repo, "checkout", "-q", c1);
    const retag = tag(t, "v1", "");
    await waitFor("the unsigned tag refused", () => gs.logs().some((l) => l.verdict === "unsigned" && l.hash === retag));
    expect(t.hash()).toBe(c1);
    expectTreeOf(t, t.link, c1);
  } finally {
    host.stop();
  }
});
