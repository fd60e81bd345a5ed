// Table tests of the pure parts of src/verify: allowed_signers lines, ssh-keygen's time syntax,
// namespace pattern lists, and splitting objects the way git does.
import { describe, expect, test } from "bun:test";
import { bytes, latin1, readBatch, splitCommit, splitTag } from "../../src/verify/objects.ts";
import { matchPatternList, parseAllowedSigners, parseSSHTime } from "../../src/verify/ssh.ts";

// An ed25519 public key (ssh-keygen -t ed25519).
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFiALZqIBECZ6WPdFgAzU6+Pu7cMS80u/PI3wqBWXerS";

describe("allowed_signers lines", () => {
  const ok: Array<[string, { principals: string; namespaces: string | null; validAfter: number | null; validBefore: number | null }]> = [
    [`a@example.com ${KEY}`, { principals: "a@example.com", namespaces: null, validAfter: null, validBefore: null }],
    [`a@example.com,b@example.com ${KEY} a comment`, { principals: "a@example.com,b@example.com", namespaces: null, validAfter: null, validBefore: null }],
    [`"a b@example.com" namespaces="git,file" ${KEY}`, { principals: "a b@example.com", namespaces: "git,file", validAfter: null, validBefore: null }],
    [`a@example.com valid-after="20200101Z",valid-before="20300101000000Z" ${KEY}`, { principals: "a@example.com", namespaces: null, validAfter: 1577836800, validBefore: 1893456000 }],
    [`  *@example.com\tnamespaces="git"\t${KEY}`, { principals: "*@example.com", namespaces: "git", validAfter: null, validBefore: null }],
  ];
  test.each(ok)("%s", (line, want) => {
    const [s] = parseAllowedSigners(`# comment\n\n${line}\n`);
    expect({ principals: s!.principals, namespaces: s!.namespaces, validAfter: s!.validAfter, validBefore: s!.validBefore }).toEqual(want);
    expect(s!.line).toBe(3);
  });

  const bad: Array<[string, string]> = [
    [`a@example.com cert-authority ${KEY}`, "cert-authority is not supported"],
    [`a@example.com restrict ${KEY}`, "unsupported option restrict"],
    [`a@example.com namespaces=git ${KEY}`, "can't parse options"],
    [`a@example.com valid-after="2020" ${KEY}`, "invalid time"],
    [`a@example.com ssh-dss AAAAB3NzaC1kc3M=`, "unsupported key type ssh-dss"],
    [`a@example.com ssh-ed25519 !!!`, "the public key is not base64"],
    [`a@example.com ssh-rsa ${KEY.split(" ")[1]}`, "does not match the key"],
    ["a@example.com", "no public key"],
    [`a@example.com "unterminated ${KEY}`, "unterminated quote"],
  ];
  test.each(bad)("%s", (line, want) => {
    let err: unknown;
    try {
      parseAllowedSigners(`a@example.com ${KEY}\n${line}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ line: 2 });
    expect((err as Error).message).toContain(want);
  });
});

describe("ssh-keygen times", () => {
  test.each([
    ["20240102Z", Date.UTC(2024, 0, 2) / 1000],
    ["202401021530Z", Date.UTC(2024, 0, 2, 15, 30) / 1000],
    ["20240102153045z", Date.UTC(2024, 0, 2, 15, 30, 45) / 1000],
    ["20240102", new Date(2024, 0, 2).getTime() / 1000],
  ] as const)("%s", (text, want) => expect(parseSSHTime(text)).toBe(want));
  test.each(["2024", "2024010", "20240102T1530", "yesterday"])("rejects %s", (text) => expect(() => parseSSHTime(text)).toThrow("invalid time"));
});

describe("namespace pattern lists (match.c)", () => {
  test.each([
    ["git", "git", true],
    ["git", "file,git", true],
    ["git", "g*", true],
    ["git", "g?t", true],
    ["git", "file", false],
    ["git", "*,!git", false],
    ["git", "!file", false],
  ] as const)("%s in %s", (ns, list, want) => expect(matchPatternList(ns, list)).toBe(want));
});

describe("splitting objects as git does", () => {
  const commit = [
    "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "author a <a@e> 1700000000 +0000",
    "committer c <c@e> 1700000100 +0100",
    "gpgsig -----BEGIN SSH SIGNATURE-----",
    " AAAA",
    " ",
    " -----END SSH SIGNATURE-----",
    "mergetag object 1234",
    "",
    "message",
    "gpgsig not a header in the message",
    "",
  ].join("\n");

  test("commit: the gpgsig header and its continuation lines are the signature, the rest the payload", () => {
    const s = splitCommit(commit);
    expect(s.signature).toBe("-----BEGIN SSH SIGNATURE-----\nAAAA\n\n-----END SSH SIGNATURE-----\n");
    expect(latin1(s.payload)).toBe(commit.replace(/gpgsig -----BEGIN[\s\S]*?-----END SSH SIGNATURE-----\n/, ""));
    expect(s.timestamp).toBe(1700000100);
  });

  test("commit in a SHA-256 repo: gpgsig-sha256 is the signature, gpgsig stays in the payload", () => {
    const s = splitCommit(commit.replace("gpgsig -----", "gpgsig-sha256 -----"), true);
    expect(s.signature).toStartWith("-----BEGIN SSH SIGNATURE-----");
    expect(splitCommit(commit, true).signature).toBe("");
  });

  test("unsigned commit: no signature, payload is the whole object", () => {
    const plain = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ncommitter c <c@e> 1 +0000\n\nmsg\n";
    expect(splitCommit(plain)).toEqual({ payload: bytes(plain), signature: "", timestamp: 1 });
  });

  test("tag: the last line-initial signature block", () => {
    const body = "object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\ntagger t <t@e> 1700000200 +0000\n\nsays -----BEGIN PGP SIGNATURE----- inline\n";
    const sig = "-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n";
    const s = splitTag(body + sig);
    expect(latin1(s.payload)).toBe(body);
    expect(s.signature).toBe(sig);
    expect(s.timestamp).toBe(1700000200);
    expect(splitTag(body).signature).toBe("");
  });

  test("bytes survive: latin1 in, the same bytes out", () => {
    const raw = Uint8Array.from([0x63, 0xc3, 0xa9, 0xff, 0x0a]);
    expect(bytes(latin1(raw))).toEqual(raw);
  });

  test("cat-file --batch output with several objects and a missing one", () => {
    const out = "aaaa commit 3\nabc\nbbbb missing\ncccc tag 2\nxy\n";
    const m = readBatch(out);
    expect(m[0]).toEqual({ oid: "aaaa", type: "commit", content: "abc" });
    expect(m[2]?.content).toBe("xy");
    expect(m[1]).toBeNull();
    expect(m).toHaveLength(3);
  });
});
