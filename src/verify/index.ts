// --verify-signatures (ours): publish only commits (or annotated tags) a trusted key signed.
// The sync calls `check` after the fetch and before anything is published; a refusal throws
// VerifyRefused, which the loop treats like a gate refusal (no --max-failures budget) but counts
// as a failure for readiness. A refused ref state is remembered: polls that find the ref where it
// was re-report the refusal without fetching or verifying again, until the ref moves or a key
// file changes (rotation from a Secret).
//
// With or without signatures, `checkAnswer` holds the host to its poll answer: when the poll named
// the very object the fetch got, the commit it said that object peels to must be the one it does
// peel to in our own objects, or the host lied ("host-lied", refused and remembered the same way).
import { statSync, readFileSync } from "node:fs";
import type { Git } from "../git/runner.ts";
import type { Logger } from "../log/logger.ts";
import { verifyCount } from "../state/metrics.ts";
import type { SyncState, VerifyState } from "../state/sync-state.ts";
import { readBatch, signatureFormat, splitCommit, splitTag, type SignedObject } from "./objects.ts";
import { parseAllowedSigners, verifySSH, type AllowedSigner } from "./ssh.ts";
import type { Key } from "openpgp";

export type VerifyMode = "commit" | "tag" | "tag-and-commit";

export interface VerifyConfig {
  /** "" = off. */
  mode: VerifyMode | "";
  allowedSignersFile: string;
  trustedKeysFile: string;
}

export type VerdictResult = "good" | "unsigned" | "unknown-key" | "bad-signature" | "key-expired" | "wrong-namespace" | "outside-validity" | "not-a-tag" | "unsupported" | "host-lied" | "bad-tree";

export interface Verdict {
  result: VerdictResult;
  object: "commit" | "tag";
  oid: string;
  signer: string;
  fingerprint: string;
  reason: string;
}

/** The signature check (or the host's answer) refused the hash: the content was refused, git worked. */
export class VerifyRefused extends Error {
  constructor(
    message: string,
    readonly verdict: Verdict,
    /** Re-reported from memory, not checked again. */
    readonly remembered = false,
  ) {
    super(message);
  }

  /** The log line's message. */
  get why(): string {
    if (this.verdict.result === "bad-tree") {
      return this.remembered ? "the commit's tree was refused before, not publishing; retried when the ref moves" : "the commit's tree is refused, not publishing";
    }
    if (this.verdict.result === "host-lied") {
      return this.remembered
        ? "the host's ref listing did not match what it sent before, not publishing; retried when the ref moves"
        : "the host's ref listing does not match what it sent, not publishing";
    }
    return this.remembered ? "signature check failed before, not publishing; retried when the ref moves or a key file changes" : "signature check failed, not publishing";
  }
}

/** What a poll said a ref names (repo/remote.ts RemoteRef): `hash` differs from `oid` only when it claims a peel. */
export interface Answer {
  name: string;
  oid: string;
  hash: string;
}

/** A key file we cannot use, named with its line: exit 1 at startup. */
export class VerifyInputError extends Error {}

/** A key file re-read when its inode, size or mtime change. */
class KeyFile<T> {
  private stamp = "";
  private value: T | null = null;
  constructor(
    readonly flag: string,
    readonly path: string,
    private readonly parse: (text: string) => T | Promise<T>,
  ) {}

  /** Cheap: one stat. */
  currentStamp(): string {
    try {
      const st = statSync(this.path);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      return `error:${(e as NodeJS.ErrnoException).code ?? ""}`;
    }
  }

  async get(): Promise<T> {
    const stamp = this.currentStamp();
    if (this.value !== null && stamp === this.stamp) return this.value;
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      throw new VerifyInputError(`can't read ${this.flag} ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      this.value = await this.parse(text);
    } catch (e) {
      const line = (e as { line?: number }).line;
      throw new VerifyInputError(`invalid ${this.flag} ${this.path}${line ? `:${line}` : ""}: ${(e as Error).message}`, { cause: e });
    }
    this.stamp = stamp;
    return this.value;
  }
}

const DESCRIBE: Record<Exclude<VerdictResult, "good" | "host-lied" | "bad-tree">, string> = {
  unsigned: "is not signed",
  "unknown-key": "is signed by a key that is not trusted",
  "bad-signature": "has a bad signature",
  "key-expired": "is signed by an expired key",
  "wrong-namespace": "is signed for another purpose",
  "outside-validity": "is signed by a key outside its validity",
  "not-a-tag": "is not an annotated tag",
  unsupported: "has a signature of a kind we can't check",
};

export class Verifier {
  private readonly ssh: KeyFile<AllowedSigner[]> | null;
  private readonly pgp: KeyFile<Key[]> | null;
  /** The last refusal, by the ref state a poll would report: the object and the commit it peels to (for a lie, the one claimed). */
  private refused: { oid: string; hash: string; stamp: string; error: VerifyRefused } | null = null;

  private constructor(
    private readonly config: VerifyConfig,
    private readonly log: Logger,
    private readonly state: SyncState,
  ) {
    this.ssh = config.allowedSignersFile ? new KeyFile("--allowed-signers-file", config.allowedSignersFile, parseAllowedSigners) : null;
    this.pgp = config.trustedKeysFile
      ? new KeyFile("--trusted-keys-file", config.trustedKeysFile, async (text) => (await import("./openpgp.ts")).parseTrustedKeys(text))
      : null;
  }

  /**
   * Reads both key files now, so bad input fails startup (VerifyInputError). Without
   * --verify-signatures the verifier checks no signature, only the host's answers (checkAnswer).
   */
  static async create(config: VerifyConfig, log: Logger, state: SyncState): Promise<Verifier> {
    const v = new Verifier(config, log, state);
    if (config.mode === "") return v;
    const ssh = await v.ssh?.get();
    const pgp = await v.pgp?.get();
    log.v(1, "verifying signatures", { mode: config.mode, allowedSigners: ssh?.length ?? 0, trustedKeys: pgp?.length ?? 0 });
    return v;
  }

  private stamp(): string {
    return `${this.ssh?.currentStamp() ?? ""}|${this.pgp?.currentStamp() ?? ""}`;
  }

  /** The refusal of exactly this ref state, while no key file changed; null = check it. */
  remembered(oid: string, hash: string): VerifyRefused | null {
    const r = this.refused;
    if (r === null || r.oid !== oid || r.hash !== hash || r.stamp !== this.stamp()) return null;
    return new VerifyRefused(r.error.message, r.error.verdict, true);
  }

  /**
   * The poll's answer against what the fetch got (`fetched`: the object and the commit it peels
   * to in root's objects). When the poll named that object and said it peels to another commit,
   * the host lied: refused as "host-lied". A poll that named another object saw the ref before
   * it moved (the fetch is newer), and one that claimed no peel said nothing to hold it to.
   */
  checkAnswer(polled: Answer | null, fetched: { oid: string; hash: string }): void {
    if (polled && polled.oid !== fetched.oid) this.log.v(2, "ref moved between poll and fetch", { polled: polled.oid, fetched: fetched.oid });
    if (!polled || polled.oid !== fetched.oid || polled.hash === polled.oid || polled.hash === fetched.hash) return;
    const known = this.remembered(polled.oid, polled.hash);
    if (known) throw known;
    const v: Verdict = {
      result: "host-lied",
      object: fetched.oid === fetched.hash ? "commit" : "tag",
      oid: fetched.oid,
      signer: "",
      fingerprint: "",
      reason: `the host listed ${polled.name} as ${polled.oid} peeling to ${polled.hash}, but ${polled.oid} peels to ${fetched.hash}`,
    };
    throw this.refuse(v, polled, `not publishing ${polled.hash}: ${v.reason} (host-lied)`);
  }

  /**
   * A tree git-sync will not publish (TreeRefused: git's fsck on fetch, or copy mode's name
   * checks), as a "bad-tree" verdict: recorded, and remembered for the ref state the poll saw
   * (`answer`), so polls that find the ref where it was fetch nothing until it moves.
   */
  refuseTree(answer: Answer | null, fetched: { oid: string; hash: string } | null, why: string): VerifyRefused {
    // Keyed as the next poll will name the ref: what was fetched, else what the poll said.
    const { oid, hash } = fetched ?? answer ?? { oid: "", hash: "" };
    const v: Verdict = { result: "bad-tree", object: "commit", oid: hash, signer: "", fingerprint: "", reason: why };
    return this.refuse(v, { oid, hash }, `not publishing ${hash || "the fetched commit"}: ${why} (bad-tree)`);
  }

  /**
   * Every refusal: recorded (metric, /status) and remembered under `state`, the ref state a poll
   * would report (unless unknown), until the ref moves or a key file changes (`stamp`).
   */
  private refuse(v: Verdict, state: { oid: string; hash: string }, message: string, stamp = this.stamp()): VerifyRefused {
    this.record(v, state.hash);
    const error = new VerifyRefused(message, v);
    if (state.oid !== "") this.refused = { oid: state.oid, hash: state.hash, stamp, error };
    return error;
  }

  /**
   * Check what the ref names: `oid` is the fetched ref's own object (an annotated tag, or the
   * commit), `hash` the commit it peels to. Throws VerifyRefused unless every signature the
   * mode asks for is good. One `git cat-file --batch` reads the objects, and peels `oid` itself:
   * the signed tag (or commit) must lead to exactly the commit that is published. Null without
   * --verify-signatures.
   */
  async check(git: Git, root: string, deadline: number, oid: string, hash: string): Promise<Verdict | null> {
    const { mode } = this.config;
    if (mode === "") return null;
    const known = this.remembered(oid, hash);
    if (known) throw known;
    const stamp = this.stamp();
    const [signers, keys] = [await this.ssh?.get(), await this.pgp?.get()];
    const wanted = mode === "commit" ? [`${oid}^{commit}`] : [oid, `${oid}^{commit}`];
    const out = await git.run(["cat-file", "--batch"], { cwd: root, deadline, stdin: wanted.join("\n") + "\n", latin1: true });
    const objects = readBatch(out.stdout);
    const peeled = objects[wanted.length - 1];
    if (!peeled || peeled.type !== "commit") throw new Error(`can't peel ${oid} to a commit to check its signature`);
    // fetch.ts peeled the same object; a difference means our own object store changed under us.
    if (peeled.oid !== hash) throw new Error(`${oid} peels to ${peeled.oid}, not to ${hash}: not publishing`);

    let verdict: Verdict | null = null;
    if (mode !== "commit") {
      const tag = objects[0];
      if (!tag) throw new Error(`can't read object ${oid} to check its signature`);
      verdict =
        tag.type === "tag"
          ? await this.verifyObject("tag", oid, splitTag(tag.content), signers ?? [], keys ?? [])
          : { result: "not-a-tag", object: "tag", oid, signer: "", fingerprint: "", reason: `--verify-signatures=${mode} needs --ref to name an annotated tag; it names a ${tag.type}` };
    }
    if (mode !== "tag" && (verdict === null || verdict.result === "good")) {
      verdict = await this.verifyObject("commit", hash, splitCommit(peeled.content, hash.length === 64), signers ?? [], keys ?? []);
    }
    const v = verdict!;
    if (v.result === "good") {
      this.record(v, hash);
      this.refused = null;
      this.log.info("signature verified", { object: v.object, hash: v.oid, signer: v.signer, fingerprint: v.fingerprint, commit: hash });
      return v;
    }
    // The key files as they were read for this check: a rotation while it ran is seen next poll.
    throw this.refuse(v, { oid, hash }, `not publishing ${hash}: ${v.object} ${v.oid} ${DESCRIBE[v.result as keyof typeof DESCRIBE]} (${v.result}): ${v.reason}`, stamp);
  }

  private async verifyObject(object: "commit" | "tag", oid: string, o: SignedObject, signers: AllowedSigner[], keys: Key[]): Promise<Verdict> {
    const base = { object, oid, signer: "", fingerprint: "" };
    if (o.signature === "") return { ...base, result: "unsigned", reason: `no signature on ${object} ${oid}` };
    const format = signatureFormat(o.signature);
    if (format === "ssh") {
      // git hands ssh-keygen the committer/tagger time as -Overify-time; without one, now.
      const time = o.timestamp ?? Math.floor(Date.now() / 1000);
      const r = verifySSH(o.payload, o.signature, signers, time);
      if (r.result === "good") return { ...base, result: "good", signer: r.principal, fingerprint: r.fingerprint, reason: "" };
      const hint = this.ssh ? "" : " (no --allowed-signers-file is given)";
      return { ...base, result: r.result, fingerprint: r.fingerprint, reason: r.reason + hint };
    }
    if (format === "openpgp") {
      const { verifyPGP } = await import("./openpgp.ts");
      const r = await verifyPGP(o.payload, o.signature, keys);
      if (r.result === "good") return { ...base, result: "good", signer: r.signer, fingerprint: r.fingerprint, reason: "" };
      const hint = this.pgp ? "" : " (no --trusted-keys-file is given)";
      return { ...base, result: r.result, fingerprint: r.fingerprint, reason: r.reason + hint };
    }
    return { ...base, result: "unsupported", reason: format === "x509" ? "X.509 (gpgsm) signatures are not supported" : "the signature is in no format git knows" };
  }

  private record(v: Verdict, hash: string): void {
    verifyCount.inc({ result: v.result });
    const s: VerifyState = { result: v.result, object: v.object, oid: v.oid, hash, signer: v.signer, fingerprint: v.fingerprint, reason: v.reason, time: Date.now() };
    this.state.verify = s;
  }
}
