// Listing a remote's refs over git's smart HTTP from inside this process: the poll of an http(s)
// repo starts no program at all. Protocol v2 `ls-refs` with `ref-prefix` asks only for the refs
// --ref can mean (the server does the filtering); a server without v2 answers the v0
// advertisement, which lists every ref and is used as it is. Connections are kept alive by fetch.
//
// It sends what git would send: the credential git would be given for the host (as Basic auth,
// up front rather than after a 401), http.extraHeader, and trusts the same CA (http.sslCAInfo,
// GIT_SSL_CAINFO) or none (http.sslVerify=false, GIT_SSL_NO_VERIFY). Any setting that changes how
// git talks HTTP and that we do not reproduce (proxies, client certificates, cookies, URL
// rewrites, per-URL http.<url>.* sections, credential settings, protocol.version) makes
// smartHTTPSettings say no, and the poll uses `git ls-remote` instead.
import { readFileSync } from "node:fs";
import { readBounded } from "../lib/bounded-body.ts";
import { VERSION } from "../version.ts";
import type { GitConfigEntry } from "./context.ts";
import type { RefListing } from "./remote.ts";

export interface HTTPCredential {
  username: string;
  password: string;
}

export interface SmartHTTPSettings {
  /** The repo URL without a trailing slash. */
  url: string;
  extraHeaders: Array<[string, string]>;
  tls: { ca?: string; rejectUnauthorized?: boolean };
}

/**
 * The largest ref listing read. `ls-refs` with ref-prefix is a few lines; a v0 advertisement
 * lists every ref, a few MiB for the largest repos (under 100 bytes a ref, twice that for a
 * peeled tag: 32 MiB is well over 150,000 refs). Past it the poll fails and the attempt fetches with git,
 * as for any in-process failure (remote.ts), so a legitimately larger listing still syncs.
 */
export const MAX_LISTING = 32 << 20;

type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string };

// git's http.* settings that do not change the request a ref listing makes.
const HARMLESS_HTTP_KEYS = new Set(["extraheader", "sslcainfo", "sslverify", "postbuffer", "lowspeedlimit", "lowspeedtime", "maxrequests", "minsessions", "version", "useragent"]);
const UNSUPPORTED_ENV = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_SSL_CERT", "GIT_SSL_KEY", "GIT_SSL_CAPATH", "GIT_SSL_VERSION", "GIT_SSL_CIPHER_LIST"];

export function smartHTTPSettings(repo: string, gitConfig: GitConfigEntry[], env: Record<string, string | undefined>): Verdict<SmartHTTPSettings> {
  if (!/^https?:\/\//i.test(repo)) return { ok: false, reason: "not an http(s) repo" };
  const no = (reason: string): Verdict<SmartHTTPSettings> => ({ ok: false, reason });
  for (const name of UNSUPPORTED_ENV) if (env[name]) return no(`$${name} is set`);

  const settings: SmartHTTPSettings = { url: repo.replace(/\/+$/, ""), extraHeaders: [], tls: {} };
  let caFile = env.GIT_SSL_CAINFO ?? "";
  if (env.GIT_SSL_NO_VERIFY) settings.tls.rejectUnauthorized = false;
  for (const [key, value] of gitConfig) {
    const [section, ...rest] = key.split(".");
    const name = rest.pop() ?? "";
    const subsection = rest.join(".");
    if (section === "url" || section === "credential") return no(`git config ${key}`);
    if (section === "protocol" && name === "version" && value !== "2") return no(`git config ${key}`);
    if (section !== "http") continue;
    if (subsection !== "" || !HARMLESS_HTTP_KEYS.has(name)) return no(`git config ${key}`);
    if (name === "extraheader") {
      // An empty value clears the list, as in git.
      if (value === "") settings.extraHeaders = [];
      else {
        const colon = value.indexOf(":");
        if (colon <= 0) return no(`git config ${key} is not "Name: value"`);
        settings.extraHeaders.push([value.slice(0, colon).trim(), value.slice(colon + 1).trim()]);
      }
    } else if (name === "sslcainfo") {
      caFile = value;
    } else if (name === "sslverify") {
      settings.tls.rejectUnauthorized = !/^(false|no|off|0)$/i.test(value);
    }
  }
  if (caFile !== "") {
    try {
      settings.tls.ca = readFileSync(caFile, "utf8");
    } catch (e) {
      return no(`can't read CA file: ${(e as Error).message}`);
    }
  }
  return { ok: true, value: settings };
}

/** The pkt-line framing of git's wire protocol: a 4-hex-digit length (itself included), then data. */
export function pkt(line: string): string {
  const n = Buffer.byteLength(line) + 4;
  return n.toString(16).padStart(4, "0") + line;
}

/** Split a pkt-line stream into lines; flush (0000), delim (0001) and response-end (0002) become null. */
export function parsePktLines(buf: Uint8Array): Array<string | null> {
  const out: Array<string | null> = [];
  const text = new TextDecoder();
  let i = 0;
  while (i + 4 <= buf.length) {
    const n = parseInt(text.decode(buf.subarray(i, i + 4)), 16);
    if (Number.isNaN(n)) throw new Error("malformed pkt-line from server");
    if (n < 4) {
      out.push(null);
      i += 4;
      continue;
    }
    if (i + n > buf.length) throw new Error("truncated pkt-line from server");
    const line = text.decode(buf.subarray(i + 4, i + n)).replace(/\n$/, "");
    if (line.startsWith("ERR ")) throw new Error(`remote error: ${line.slice(4)}`);
    out.push(line);
    i += n;
  }
  return out;
}

/** The v0 advertisement after the service line: "<oid> <name>[\0caps]", peeled tags as "<name>^{}". */
export function parseV0Advertisement(lines: Array<string | null>): RefListing {
  const listing: RefListing = { refs: new Map(), symrefs: new Map() };
  for (const line of lines) {
    if (line === null) continue;
    const [refPart, caps = ""] = line.split("\0");
    const sp = refPart!.indexOf(" ");
    if (sp < 0) continue;
    const oid = refPart!.slice(0, sp);
    const name = refPart!.slice(sp + 1);
    for (const cap of caps.split(" ")) {
      const m = /^symref=([^:]+):(.+)$/.exec(cap);
      if (m) listing.symrefs.set(m[1]!, m[2]!);
    }
    if (name === "capabilities^{}") continue; // an empty repo
    if (name.endsWith("^{}")) {
      const base = listing.refs.get(name.slice(0, -3));
      if (base) base.peeled = oid;
    } else listing.refs.set(name, { oid });
  }
  return listing;
}

/** v2 ls-refs lines: "<oid> <name>[ symref-target:<t>][ peeled:<oid>]". */
export function parseLsRefs(lines: Array<string | null>): RefListing {
  const listing: RefListing = { refs: new Map(), symrefs: new Map() };
  for (const line of lines) {
    if (line === null) continue;
    const [oid, name, ...attrs] = line.split(" ");
    if (!oid || !name) continue;
    const ref: { oid: string; peeled?: string } = { oid };
    for (const a of attrs) {
      if (a.startsWith("symref-target:")) listing.symrefs.set(name, a.slice("symref-target:".length));
      else if (a.startsWith("peeled:")) ref.peeled = a.slice("peeled:".length);
    }
    listing.refs.set(name, ref);
  }
  return listing;
}

export class SmartHTTP {
  /** Learned from the first advertisement; v2 servers are then asked with one POST per poll. */
  private protocol: "unknown" | "v2" | "v0" = "unknown";

  constructor(private readonly settings: SmartHTTPSettings) {}

  async listRefs(prefixes: string[], credential: HTTPCredential | null, deadline: number): Promise<RefListing> {
    if (this.protocol === "v2") return await this.lsRefs(prefixes, credential, deadline);
    const lines = await this.advertisement(credential, deadline);
    if (lines[0] === "version 2") {
      if (!lines.includes("ls-refs") && !lines.some((l) => l?.startsWith("ls-refs="))) throw new Error("server speaks protocol v2 without ls-refs");
      const format = lines.find((l) => l?.startsWith("object-format="));
      if (format && format !== "object-format=sha1") throw new Error(`server repo has ${format}`);
      this.protocol = "v2";
      return await this.lsRefs(prefixes, credential, deadline);
    }
    this.protocol = "v0";
    return parseV0Advertisement(lines);
  }

  /**
   * GET info/refs: v2 capabilities or the v0 ref list, after a "# service=" line and a flush,
   * which v0 servers always send and v2 servers may leave out (git's remote-curl accepts both).
   */
  private async advertisement(credential: HTTPCredential | null, deadline: number): Promise<Array<string | null>> {
    const body = await this.request("GET", `${this.settings.url}/info/refs?service=git-upload-pack`, "application/x-git-upload-pack-advertisement", null, credential, deadline);
    const lines = parsePktLines(body);
    if (lines[0] === "# service=git-upload-pack" && lines[1] === null) return lines.slice(2);
    if (lines[0] === "version 2") return lines;
    throw new Error("not a git smart HTTP advertisement");
  }

  private async lsRefs(prefixes: string[], credential: HTTPCredential | null, deadline: number): Promise<RefListing> {
    const req = pkt("command=ls-refs\n") + pkt(`agent=git/git-sync-bun-${VERSION}\n`) + "0001" + pkt("peel\n") + pkt("symrefs\n") + prefixes.map((p) => pkt(`ref-prefix ${p}\n`)).join("") + "0000";
    const body = await this.request("POST", `${this.settings.url}/git-upload-pack`, "application/x-git-upload-pack-result", req, credential, deadline);
    return parseLsRefs(parsePktLines(body));
  }

  private async request(method: string, url: string, want: string, body: string | null, credential: HTTPCredential | null, deadline: number): Promise<Uint8Array> {
    const headers: Record<string, string> = { "Git-Protocol": "version=2", Accept: want, "User-Agent": `git/git-sync-bun-${VERSION}` };
    if (body !== null) headers["Content-Type"] = "application/x-git-upload-pack-request";
    if (credential) headers.Authorization = "Basic " + Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
    for (const [k, v] of this.settings.extraHeaders) headers[k] = v;
    const res = await fetch(url, {
      method,
      headers,
      body,
      // git follows redirects on the first request only; rather than guess, let git handle them.
      redirect: "manual",
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      tls: this.settings.tls,
    });
    const refuse = async (why: string): Promise<never> => {
      await res.body?.cancel().catch(() => {});
      throw new Error(`${method} ${redactPath(url)}: ${why}`);
    };
    if (res.status !== 200) return await refuse(`HTTP ${res.status}`);
    const type = res.headers.get("content-type") ?? "";
    if (!type.startsWith(want)) return await refuse(`unexpected content type ${JSON.stringify(type)}`);
    // The fetch's signal bounds the time, including the body's.
    return await readBounded(res, { maxBytes: MAX_LISTING, what: `the answer to ${method} ${redactPath(url)}` });
  }
}

/** The URL without its query, for messages (the repo URL itself carries no userinfo here). */
function redactPath(url: string): string {
  return url.replace(/\?.*$/, "");
}
