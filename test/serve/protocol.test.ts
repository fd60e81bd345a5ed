// The mirror's protocol code as tables (src/serve/protocol.ts): what is advertised, and which
// requests reach upload-pack. The black-box side is test/e2e/serve-git.test.ts and
// test/adversary/serve-git.test.ts.
import { describe, expect, test } from "bun:test";
import { judgeV0, judgeV2, lsRefs, parseRequest, pkt, v0Advertisement, v2Capabilities, type Advertisement } from "../../src/serve/protocol.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const T = "c".repeat(40);
const ad: Advertisement = {
  head: { hash: A, symref: "refs/heads/main" },
  refs: [
    { name: "refs/heads/main", oid: A, hash: A },
    { name: "refs/tags/v1", oid: T, hash: A },
  ],
  objectFormat: "sha1",
  shallow: [A],
};
const served = (o: string) => o === A || o === T;
const lines = (...ls: string[]) => parseRequest(new TextEncoder().encode(ls.map((l) => (/^000[012]$/.test(l) ? l : pkt(l + "\n"))).join("")));
const v2fetch = (...args: string[]) => lines("command=fetch", "object-format=sha1", "0001", ...args, "0000");

describe("advertisements", () => {
  test("v0: the service line, HEAD with capabilities and symref, refs, peeled tags, shallow commits", () => {
    const text = v0Advertisement(ad, 1);
    const got = parseRequest(new TextEncoder().encode(text));
    expect(got[0]).toBe("# service=git-upload-pack");
    expect(got[2]!.startsWith(`${A} HEAD\0`)).toBe(true);
    expect(got[2]).toContain("symref=HEAD:refs/heads/main");
    expect(got[2]).not.toContain("include-tag");
    expect(got[2]).not.toContain("deepen-since");
    expect(got.slice(3)).toEqual([`${A} refs/heads/main`, `${T} refs/tags/v1`, `${A} refs/tags/v1^{}`, `shallow ${A}`, "0000"]);
    expect(v0Advertisement(ad, 0)).toContain("deepen-since");
  });

  test("v2: capabilities without filter or ref-in-want; ls-refs honours peel, symrefs and ref-prefix", () => {
    const caps = parseRequest(new TextEncoder().encode(v2Capabilities(ad)));
    expect(caps).toContain("fetch=shallow");
    expect(caps).toContain("ls-refs");
    expect(caps.some((c) => c.includes("filter") || c.includes("ref-in-want"))).toBe(false);
    const all = parseRequest(new TextEncoder().encode(lsRefs(ad, ["peel", "symrefs"])));
    expect(all).toEqual([`${A} HEAD symref-target:refs/heads/main`, `${A} refs/heads/main`, `${T} refs/tags/v1 peeled:${A}`, "0000"]);
    const tags = parseRequest(new TextEncoder().encode(lsRefs(ad, ["ref-prefix refs/tags/"])));
    expect(tags).toEqual([`${T} refs/tags/v1`, "0000"]);
  });
});

describe("requests", () => {
  test.each([
    ["a served commit at the mirror's depth", v2fetch(`want ${A}`, "deepen 1", "done"), "pack"],
    ["the served tag object", v2fetch(`want ${T}`, "deepen 1", "done"), "pack"],
    ["a shallow client's fetch without depth", v2fetch(`want ${A}`, `shallow ${B}`, "done"), "pack"],
    ["an object not served", v2fetch(`want ${B}`, "deepen 1", "done"), "not our ref"],
    ["more history than held", v2fetch(`want ${A}`, "deepen 2", "done"), "holds only the last 1 commit"],
    ["full history", v2fetch(`want ${A}`, "done"), "holds only the last 1 commit"],
    ["unshallow", v2fetch(`want ${A}`, "deepen 2147483647", "done"), "holds only the last 1 commit"],
    ["deepen-since on a shallow mirror", v2fetch(`want ${A}`, "deepen-since 1700000000", "done"), "holds only"],
    ["a filter", v2fetch(`want ${A}`, "deepen 1", "filter blob:none", "done"), "does not offer filter"],
    ["want-ref", v2fetch("want-ref refs/heads/main", "deepen 1", "done"), "does not offer want-ref"],
    ["deepen-not", v2fetch(`want ${A}`, "deepen-not refs/heads/secret", "done"), "does not offer deepen-not"],
    ["sideband-all", v2fetch(`want ${A}`, "deepen 1", "sideband-all", "done"), "does not offer sideband-all"],
    ["an unknown command", lines("command=object-info", "0001", `oid ${A}`, "0000"), "does not offer"],
    ["--unshallow with a shallow line (would unshallow any commit named)", v2fetch(`want ${A}`, `shallow ${B}`, "deepen 2147483647", "done"), "does not unshallow"],
    ["a depth that wraps in git's int", v2fetch(`want ${A}`, `shallow ${B}`, "deepen 6442450943", "done"), "malformed deepen"],
    ["two commands in one body", [...v2fetch(`want ${A}`, "deepen 1"), ...lines("command=ls-refs", "0000")], "one command per request"],
  ])("v2 fetch: %s", (_, req, expected) => {
    const v = judgeV2(req, served, 1);
    if (expected === "pack") expect(v.kind).toBe("pack");
    else expect(v.kind === "refused" && v.message).toContain(expected);
  });

  test("v2: include-tag is dropped before upload-pack sees the request; the rest is passed on", () => {
    const v = judgeV2(v2fetch(`want ${A}`, "include-tag", "ofs-delta", "deepen 1", "done"), served, 1);
    expect(v.kind).toBe("pack");
    const body = v.kind === "pack" && v.body !== null ? parseRequest(new TextEncoder().encode(v.body)) : [];
    expect(body).toEqual(["command=fetch", "object-format=sha1", "0001", `want ${A}`, "ofs-delta", "deepen 1", "done", "0000"]);
  });

  test("v2 ls-refs is answered in-process", () => {
    expect(judgeV2(lines("command=ls-refs", "0001", "peel", "ref-prefix HEAD", "0000"), served, 1)).toEqual({ kind: "ls-refs", args: ["peel", "ref-prefix HEAD"] });
  });

  test.each([
    ["a served want with v0 capabilities", lines(`want ${A} multi_ack_detailed side-band-64k thin-pack ofs-delta agent=git/2.39`, "deepen 1", "0000", "done"), "pack"],
    ["include-tag (not offered)", lines(`want ${A} include-tag`, "deepen 1", "0000", "done"), "does not offer include-tag"],
    ["a filter", lines(`want ${A}`, "filter blob:none", "deepen 1", "0000"), "does not offer filter"],
    ["an object not served", lines(`want ${B}`, "deepen 1", "0000"), "not our ref"],
    ["full history", lines(`want ${A}`, "0000", "done"), "holds only"],
    ["a capability smuggled after a tab", lines(`want ${A} ofs-delta agent=git/2.39\tinclude-tag`, "deepen 1", "0000"), "whitespace"],
    ["capabilities on a later want", lines(`want ${A}`, `want ${T} ofs-delta`, "deepen 1", "0000"), "capabilities after the first"],
  ])("v0: %s", (_, req, expected) => {
    const v = judgeV0(req, served, 1);
    if (expected === "pack") expect(v.kind).toBe("pack");
    else expect(v.kind === "refused" && v.message).toContain(expected);
  });

  test("a full mirror unshallows nothing it is told is shallow, but serves infinite depth to a complete clone", () => {
    expect(judgeV2(v2fetch(`want ${A}`, `shallow ${B}`, "deepen 2147483647", "done"), served, 0).kind).toBe("refused");
    expect(judgeV0(lines(`want ${A}`, `shallow ${B}`, "deepen 2147483647", "0000"), served, 0).kind).toBe("refused");
    expect(judgeV2(v2fetch(`want ${A}`, "deepen 2147483647", "done"), served, 0).kind).toBe("pack");
  });

  test("a full mirror (--depth=0) serves full history", () => {
    expect(judgeV2(v2fetch(`want ${A}`, "done"), served, 0).kind).toBe("pack");
    expect(judgeV0(lines(`want ${A} deepen-since`, "deepen-since 1", "0000"), served, 0).kind).toBe("pack");
  });

  test.each([
    ["a length that is not hex", new TextEncoder().encode("zzzzwant")],
    ["a line longer than the body", new TextEncoder().encode("00ffwant")],
    ["a length under 4", new TextEncoder().encode("0003")],
    ["bytes that are not UTF-8", new Uint8Array([0x30, 0x30, 0x30, 0x36, 0xff, 0xfe])],
  ])("malformed pkt-lines are refused: %s", (_, buf) => {
    expect(() => parseRequest(buf)).toThrow();
  });
});
