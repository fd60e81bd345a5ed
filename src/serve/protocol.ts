// git's smart-HTTP protocol as the mirror speaks it (docs/serve.md). The advertisement (v0's ref
// list, v2's capabilities and `ls-refs`) is written here, in-process, from what the links serve:
// a poll of the mirror starts no process, and nothing a git process could list (root's branch,
// a refused commit, the keep refs) is ever shown. A fetch is read here before any git runs: every
// `want` must be a commit or tag the mirror serves (or served a moment ago), and requests for
// features the mirror does not offer, or for more history than it holds, get git's `ERR` line
// with a sentence saying why and what to do instead.
import { VERSION } from "../version.ts";

/** One ref the mirror advertises: its full name, its object (a commit or an annotated tag) and the commit it peels to. */
export interface ServedRef {
  name: string;
  oid: string;
  hash: string;
}

/** What is advertised: HEAD (the main link's commit; a symref when --ref names a branch) and the refs. */
export interface Advertisement {
  head: { hash: string; symref: string } | null;
  refs: ServedRef[];
  objectFormat: "sha1" | "sha256";
  /**
   * The mirror's shallow commits that the served refs reach (root/.git/shallow, less any commit
   * not served): v0 lists them after the refs, as upload-pack does, so a client knows the mirror's
   * history ends there. v2 clients learn it from the fetch's shallow-info.
   */
  shallow: string[];
}

const AGENT = `agent=git-sync-bun/${VERSION}`;

/** The pkt-line framing: a 4-hex-digit length (itself included), then the data. */
export function pkt(line: string): string {
  return (Buffer.byteLength(line) + 4).toString(16).padStart(4, "0") + line;
}
export const FLUSH = "0000";
const DELIM = "0001";

export class PktError extends Error {}

/**
 * A request body as pkt-lines: flush and delim become "0000"/"0001" markers. Lines are git's own
 * text (hashes, keywords, ref names); a line that is not valid UTF-8 is refused as malformed.
 */
export function parseRequest(buf: Uint8Array): string[] {
  const out: string[] = [];
  const dec = new TextDecoder("utf-8", { fatal: true });
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) throw new PktError("truncated pkt-line");
    const head = String.fromCharCode(...buf.subarray(i, i + 4));
    if (!/^[0-9a-f]{4}$/i.test(head)) throw new PktError("malformed pkt-line length");
    const n = parseInt(head, 16);
    if (n === 0 || n === 1 || n === 2) {
      out.push(head);
      i += 4;
      continue;
    }
    if (n < 4 || i + n > buf.length) throw new PktError("truncated pkt-line");
    let line: string;
    try {
      line = dec.decode(buf.subarray(i + 4, i + n));
    } catch {
      throw new PktError("pkt-line is not text");
    }
    out.push(line.endsWith("\n") ? line.slice(0, -1) : line);
    i += n;
  }
  return out;
}

/** git's error line: the client prints "remote error: <message>" (v0 and v2 alike). */
export function errLine(message: string): string {
  return pkt(`ERR ${message}\n`);
}

// ---- advertisements

/** The v0 capabilities: what upload-pack offers, less include-tag, filters and unadvertised wants. */
function v0Capabilities(ad: Advertisement, mirrorDepth: number): string {
  const caps = ["multi_ack", "thin-pack", "side-band", "side-band-64k", "ofs-delta", "shallow", "no-progress", "multi_ack_detailed", "no-done"];
  // A full mirror can answer history by date and deepen a shallow clone; a shallow one cannot.
  if (mirrorDepth === 0) caps.push("deepen-since", "deepen-relative");
  if (ad.head?.symref) caps.push(`symref=HEAD:${ad.head.symref}`);
  caps.push(`object-format=${ad.objectFormat}`, AGENT);
  return caps.join(" ");
}

/** GET info/refs for protocol v0/v1: the service line, then HEAD and every ref (tags peeled). */
export function v0Advertisement(ad: Advertisement, mirrorDepth: number): string {
  const lines: string[] = [];
  if (ad.head) lines.push(`${ad.head.hash} HEAD`);
  for (const r of ad.refs) {
    lines.push(`${r.oid} ${r.name}`);
    if (r.oid !== r.hash) lines.push(`${r.hash} ${r.name}^{}`);
  }
  if (lines.length === 0) lines.push(`${"0".repeat(ad.objectFormat === "sha1" ? 40 : 64)} capabilities^{}`);
  lines[0] += `\0${v0Capabilities(ad, mirrorDepth)}`;
  for (const oid of ad.shallow) lines.push(`shallow ${oid}`);
  return pkt("# service=git-upload-pack\n") + FLUSH + lines.map((l) => pkt(l + "\n")).join("") + FLUSH;
}

/** GET info/refs for protocol v2: the capability advertisement. `fetch=shallow`: no filter, no ref-in-want. */
export function v2Capabilities(ad: Advertisement): string {
  return [pkt("version 2\n"), pkt(AGENT + "\n"), pkt("ls-refs\n"), pkt("fetch=shallow\n"), pkt("server-option\n"), pkt(`object-format=${ad.objectFormat}\n`), FLUSH].join("");
}

/** v2 `ls-refs`, answered from the advertisement with the arguments git sends (peel, symrefs, ref-prefix). */
export function lsRefs(ad: Advertisement, args: string[]): string {
  const peel = args.includes("peel");
  const symrefs = args.includes("symrefs");
  const prefixes = args.filter((a) => a.startsWith("ref-prefix ")).map((a) => a.slice("ref-prefix ".length));
  const wanted = (name: string) => prefixes.length === 0 || prefixes.some((p) => name.startsWith(p));
  let out = "";
  if (ad.head && wanted("HEAD")) out += pkt(`${ad.head.hash} HEAD${symrefs && ad.head.symref ? ` symref-target:${ad.head.symref}` : ""}\n`);
  for (const r of ad.refs) if (wanted(r.name)) out += pkt(`${r.oid} ${r.name}${peel && r.oid !== r.hash ? ` peeled:${r.hash}` : ""}\n`);
  return out + FLUSH;
}

// ---- requests

export type Verdict =
  /** Run upload-pack with this body (the request less lines the mirror drops), or null: the request as it came. */
  | { kind: "pack"; body: string | null; wants: string[] }
  /** Answer in-process (v2 ls-refs). */
  | { kind: "ls-refs"; args: string[] }
  /** Answer with git's ERR line. */
  | { kind: "refused"; message: string };

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function refuse(message: string): Verdict {
  return { kind: "refused", message };
}

/** What a shallow mirror says to a request for more history than it holds. */
function tooDeep(mirrorDepth: number): Verdict {
  return refuse(
    `this mirror holds only the last ${mirrorDepth} commit${mirrorDepth === 1 ? "" : "s"} of history (git-sync --depth=${mirrorDepth}): ` +
      `fetch with --depth=${mirrorDepth} or less, or run the mirror with --depth=0 to serve full history`,
  );
}

interface Shape {
  wants: string[];
  shallow: number;
  deepen: number | null;
  deepenSince: boolean;
  deepenRelative: boolean;
}

/** The checks both protocol versions share: wants the mirror serves, history it holds. */
function judge(s: Shape, allowed: (oid: string) => boolean, mirrorDepth: number): Verdict | null {
  if (s.wants.length === 0) return refuse("no want lines in the request");
  for (const w of s.wants) {
    // git's own words for a want the server does not offer.
    if (!allowed(w)) return refuse(`upload-pack: not our ref ${w}`);
  }
  if (s.deepen === INFINITE_DEPTH && s.shallow > 0) {
    return refuse("this mirror does not unshallow a clone (--unshallow): clone it again without --depth");
  }
  if (mirrorDepth > 0) {
    if (s.deepenSince || s.deepenRelative) return tooDeep(mirrorDepth);
    if (s.deepen !== null && s.deepen > mirrorDepth) return tooDeep(mirrorDepth);
    // No depth and no shallow commits: a full clone, or a fetch into a complete repository.
    if (s.deepen === null && s.shallow === 0) return tooDeep(mirrorDepth);
  }
  return null;
}

/**
 * git's "infinite" depth (INFINITE_DEPTH, what --unshallow sends). In a complete repository,
 * upload-pack answers it by unshallowing every commit the client names on a `shallow` line,
 * reachable or not, and sends their parents unchecked: a client that knows a refused commit's id
 * would get its history. judge() refuses it with shallow lines; larger numbers wrap in git's int.
 */
const INFINITE_DEPTH = 0x7fffffff;

function parseDepth(v: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(v)) return null;
  const n = Number(v);
  return n <= INFINITE_DEPTH ? n : null;
}

// Lines v0 and v2 spell alike.
const SHARED = new Set(["have", "shallow", "deepen", "deepen-since"]);

/** Records one of the SHARED lines in `s`; a refusal when it is malformed. */
function takeShared(word: string, rest: string, s: Shape): Verdict | null {
  if (word === "deepen-since") {
    s.deepenSince = true;
  } else if (word === "deepen") {
    s.deepen = parseDepth(rest);
    if (s.deepen === null) return refuse("malformed deepen line");
  } else {
    if (!OID.test(rest)) return refuse(`malformed ${word} line`);
    if (word === "shallow") s.shallow++;
  }
  return null;
}

// Capabilities a v0 client may name on its first want: exactly those v0Advertisement offers.
const V0_CAPS = new Set(["multi_ack", "thin-pack", "side-band", "side-band-64k", "ofs-delta", "shallow", "no-progress", "multi_ack_detailed", "no-done", "deepen-since", "deepen-relative"]);

/** A v0/v1 POST git-upload-pack: wants (+caps) and shallow/deepen, flush, haves, `done`. */
export function judgeV0(lines: string[], allowed: (oid: string) => boolean, mirrorDepth: number): Verdict {
  const s: Shape = { wants: [], shallow: 0, deepen: null, deepenSince: false, deepenRelative: false };
  let first = true;
  for (const line of lines) {
    if (line === FLUSH || line === "done") continue;
    // git splits capabilities at any whitespace: `agent=x<TAB>include-tag` would turn on a
    // capability this check never saw. git itself sends single spaces only.
    if (/[\t\n\r\v\f]/.test(line)) return refuse("whitespace other than single spaces in a request line");
    const sp = line.indexOf(" ");
    const word = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    if (word === "want") {
      const [oid = "", ...caps] = rest.split(" ");
      if (!OID.test(oid)) return refuse("malformed want line");
      if (first) {
        for (const c of caps) {
          const name = c.split("=")[0]!;
          if (name === "agent" || name === "object-format" || name === "session-id") continue;
          if (!V0_CAPS.has(name) || (mirrorDepth > 0 && (name === "deepen-since" || name === "deepen-relative"))) return refuse(`this mirror does not offer ${name}`);
          if (name === "deepen-relative") s.deepenRelative = true;
        }
        first = false;
      } else if (caps.length > 0) return refuse("capabilities after the first want line");
      s.wants.push(oid);
    } else if (SHARED.has(word)) {
      const bad = takeShared(word, rest, s);
      if (bad) return bad;
    } else {
      // deepen-not names refs (the mirror lists its own only), filter is not offered, anything
      // else is not v0 git.
      return refuse(`this mirror does not offer ${word}`);
    }
  }
  return judge(s, allowed, mirrorDepth) ?? { kind: "pack", body: null, wants: s.wants };
}

// v2 `fetch` arguments passed to upload-pack as they are; include-tag is dropped (below).
const V2_FETCH_ARGS = new Set(["thin-pack", "no-progress", "ofs-delta", "done", "wait-for-done"]);
// v2 capability lines a client sends before the delimiter.
const V2_CAPABILITY = /^(?:agent|object-format|server-option|session-id)=/;

/**
 * A v2 POST: capability lines (command=...), delim, arguments, flush. ls-refs is answered here;
 * fetch is checked and handed to upload-pack. include-tag is dropped: it would send annotated
 * tags from all of root/.git that point at a sent commit, and the mirror serves only its refs.
 */
export function judgeV2(lines: string[], allowed: (oid: string) => boolean, mirrorDepth: number): Verdict {
  const delim = lines.indexOf(DELIM);
  const flush = lines.indexOf(FLUSH);
  if (flush !== lines.length - 1) return refuse("one command per request, ending with a flush");
  const caps = lines.slice(0, delim < 0 ? flush : delim);
  const args = delim < 0 ? [] : lines.slice(delim + 1, flush);
  const command = caps[0]?.startsWith("command=") ? caps[0].slice("command=".length) : "";
  for (const c of caps.slice(1)) if (!V2_CAPABILITY.test(c)) return refuse(`unknown capability ${JSON.stringify(c.split("=")[0])}`);
  if (command === "ls-refs") {
    for (const a of args) if (!(a === "peel" || a === "symrefs" || a === "unborn" || a.startsWith("ref-prefix "))) return refuse(`unexpected ls-refs argument ${JSON.stringify(a.split(" ")[0])}`);
    return { kind: "ls-refs", args };
  }
  if (command !== "fetch") return refuse(`this mirror does not offer ${JSON.stringify(command)}`);
  const s: Shape = { wants: [], shallow: 0, deepen: null, deepenSince: false, deepenRelative: false };
  const kept: string[] = [];
  for (const a of args) {
    const sp = a.indexOf(" ");
    const word = sp < 0 ? a : a.slice(0, sp);
    const rest = sp < 0 ? "" : a.slice(sp + 1);
    if (word === "include-tag") continue;
    if (word === "want") {
      if (!OID.test(rest)) return refuse("malformed want line");
      s.wants.push(rest);
    } else if (SHARED.has(word)) {
      const bad = takeShared(word, rest, s);
      if (bad) return bad;
    } else if (word === "deepen-relative") {
      s.deepenRelative = true;
    } else if (!V2_FETCH_ARGS.has(a)) {
      // want-ref, filter, sideband-all, packfile-uris, deepen-not: not offered by fetch=shallow.
      return refuse(`this mirror does not offer ${word}`);
    }
    kept.push(a);
  }
  const verdict = judge(s, allowed, mirrorDepth);
  if (verdict) return verdict;
  const body = [...caps.map((c) => pkt(c + "\n")), DELIM, ...kept.map((a) => pkt(a + "\n")), FLUSH].join("");
  return { kind: "pack", body, wants: s.wants };
}
