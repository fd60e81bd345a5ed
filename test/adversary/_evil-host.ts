// A git smart-HTTP host that lies, for the adversarial tests: `git http-backend` behind Bun.serve
// (as test/servers/git-http.ts runs it), with its answers rewritten on the way out. It can
// - lie in the ref listing: protocol v2 `ls-refs` lines (`peeled:<oid>`) and the v0
//   advertisement (`<oid> <name>^{}` lines), to git-sync's in-process poll and to git alike;
// - inject objects into the pack: every fetch request gets extra `want` lines, so the pack
//   carries commits no fetched ref points at (the repo needs uploadpack.allowAnySHA1InWant);
// - move a ref right after it answered a listing, so the fetch that follows sees a newer one.
import { pkt } from "../../src/repo/smart-http.ts";
import { runHttpBackend } from "../servers/git-http.ts";

export interface AdvertisedRef {
  name: string;
  oid: string;
  /** What the listing says the ref peels to (annotated tags); absent for commits. */
  peeled?: string;
}

export interface EvilHost {
  /** e.g. "http://127.0.0.1:12345"; repos are <url>/<path under projectRoot>. */
  url: string;
  /** Rewrites each listed ref (null: list it as it is). Changeable at any time. */
  lie: ((ref: AdvertisedRef) => AdvertisedRef) | null;
  /** Objects every fetch also asks for (they arrive in the pack). */
  inject: string[];
  /**
   * Called with each listing's refs (as sent) after it is computed and before it is sent, until
   * it returns true: e.g. to move a ref once the poll has seen it, before git's fetch asks.
   */
  afterListing: ((listed: AdvertisedRef[]) => boolean) | null;
  /** How many listings (v2 ls-refs or v0 advertisements) were answered. */
  listings: number;
  stop(): void;
}

export interface EvilHostOptions {
  projectRoot: string;
  /** False: answer protocol v0 only (the advertisement carries the refs). */
  protocolV2?: boolean;
}

/** pkt-lines with their raw payloads; flush/delim/end as "0000"/"0001"/"0002" markers. */
function splitPkts(buf: Uint8Array): Array<{ marker: string } | { data: string }> {
  const out: Array<{ marker: string } | { data: string }> = [];
  const text = new TextDecoder("latin1");
  let i = 0;
  while (i + 4 <= buf.length) {
    const n = parseInt(text.decode(buf.subarray(i, i + 4)), 16);
    if (n < 4) {
      out.push({ marker: text.decode(buf.subarray(i, i + 4)) });
      i += 4;
      continue;
    }
    out.push({ data: text.decode(buf.subarray(i + 4, i + n)) });
    i += n;
  }
  return out;
}

function joinPkts(pkts: Array<{ marker: string } | { data: string }>): Uint8Array<ArrayBuffer> {
  const s = pkts.map((p) => ("marker" in p ? p.marker : pkt(p.data))).join("");
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export function startEvilHost(opts: EvilHostOptions): EvilHost {
  const host: EvilHost = { url: "", lie: null, inject: [], afterListing: null, listings: 0, stop: () => {} };
  let listed: AdvertisedRef[] = [];
  const lie = (r: AdvertisedRef) => {
    const out = host.lie ? host.lie(r) : r;
    listed.push(out);
    return out;
  };

  /** v2 ls-refs lines: "<oid> <name>[ symref-target:<t>][ peeled:<oid>]". */
  const rewriteLsRefs = (body: Uint8Array) =>
    joinPkts(
      splitPkts(body).map((p) => {
        if ("marker" in p) return p;
        const [oid, name, ...attrs] = p.data.replace(/\n$/, "").split(" ");
        const peeled = attrs.find((a) => a.startsWith("peeled:"))?.slice("peeled:".length);
        const r = lie({ name: name!, oid: oid!, ...(peeled ? { peeled } : {}) });
        const rest = attrs.filter((a) => !a.startsWith("peeled:"));
        if (r.peeled) rest.push(`peeled:${r.peeled}`);
        return { data: [r.oid, name, ...rest].join(" ") + "\n" };
      }),
    );

  /** v0 advertisement: "# service" line, flush, "<oid> <name>[\0caps]" lines with "<name>^{}" after tags, flush. */
  const rewriteV0 = (body: Uint8Array) => {
    type Item = { pkt: { marker: string } | { data: string } } | { ref: AdvertisedRef; caps: string | undefined };
    const items: Item[] = [];
    for (const p of splitPkts(body)) {
      if ("marker" in p || p.data.startsWith("#")) {
        items.push({ pkt: p });
        continue;
      }
      const [refPart, caps] = p.data.replace(/\n$/, "").split("\0");
      const sp = refPart!.indexOf(" ");
      const oid = refPart!.slice(0, sp);
      const name = refPart!.slice(sp + 1);
      const prev = items.at(-1);
      // A "^{}" line is the real peel of the ref just listed; the rewritten ref decides what is sent.
      if (name.endsWith("^{}") && prev && "ref" in prev) prev.ref.peeled = oid;
      else items.push({ ref: { name, oid }, caps });
    }
    const pkts = items.flatMap((item) => {
      if ("pkt" in item) return [item.pkt];
      const r = lie(item.ref);
      const line = { data: `${r.oid} ${r.name}${item.caps !== undefined ? `\0${item.caps}` : ""}\n` };
      return r.peeled ? [line, { data: `${r.peeled} ${r.name}^{}\n` }] : [line];
    });
    return joinPkts(pkts);
  };

  /** Extra wants: after the delim of a v2 fetch, or after the first want of a v0 request. */
  const injectWants = (body: Uint8Array<ArrayBuffer>, v2: boolean) => {
    if (host.inject.length === 0) return body;
    const pkts = splitPkts(body);
    const at = v2 ? pkts.findIndex((p) => "marker" in p && p.marker === "0001") : pkts.findIndex((p) => "data" in p && p.data.startsWith("want "));
    if (at < 0) return body;
    pkts.splice(at + 1, 0, ...host.inject.map((oid) => ({ data: `want ${oid}\n` })));
    return joinPkts(pkts);
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      let body: Uint8Array<ArrayBuffer> = new Uint8Array(await req.arrayBuffer());
      if (req.headers.get("content-encoding") === "gzip") body = new Uint8Array(Bun.gunzipSync(body));
      const proto = opts.protocolV2 === false ? null : req.headers.get("git-protocol");
      const text = new TextDecoder("latin1").decode(body);
      const isLsRefs = req.method === "POST" && text.includes("command=ls-refs");
      const isFetch = req.method === "POST" && url.pathname.endsWith("/git-upload-pack") && !isLsRefs;
      const isV0Listing = req.method === "GET" && url.pathname.endsWith("/info/refs") && !proto;
      if (isFetch) body = injectWants(body, proto !== null);
      const cgi = await runHttpBackend(req, body, { projectRoot: opts.projectRoot, protocolV2: opts.protocolV2, contentEncoding: null });
      const { status, headers } = cgi;
      let payload = cgi.body;
      if (status === 200 && (isLsRefs || isV0Listing)) {
        listed = [];
        payload = isLsRefs ? rewriteLsRefs(payload) : rewriteV0(payload);
        host.listings++;
        if (host.afterListing?.(listed)) host.afterListing = null;
      }
      return new Response(payload, { status, headers });
    },
  });
  host.url = `http://127.0.0.1:${server.port}`;
  host.stop = () => void server.stop(true);
  return host;
}
