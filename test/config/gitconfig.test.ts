// The --git-config grammar (behaviour.md 3 step 11), quirks included.
import { describe, expect, it } from "bun:test";
import { parseGitConfigList } from "../../src/config/gitconfig.ts";

describe("parseGitConfigList valid", () => {
  it.each<[string, Array<[string, string]>]>([
    ["", []],
    ["k:v", [["k", "v"]]],
    ["k:v,", [["k", "v"]]],
    [
      "http.postBuffer:10485760,sect.k1:\"a val\",sect.k2:another val",
      [["http.postBuffer", "10485760"], ["sect.k1", "a val"], ["sect.k2", "another val"]],
    ],
    ['"url.https://x/.insteadOf":git@x:', [["url.https://x/.insteadOf", "git@x:"]]],
    ["k1:v\\n\\t\\\\\\\"\\,1", [["k1", 'v\n\t\\",1']]],
    ['k:"",', [["k", ""]]],
    ['k:"a,b\\"c"', [["k", 'a,b"c']]],
    ['"k\\"q":v', [['k"q', "v"]]],
    // Unquoted keys keep `\` and `,` literally.
    ["a\\b:v", [["a\\b", "v"]]],
    ["a,b:v", [["a,b", "v"]]],
    // The first character of an unquoted key or value is literal, even `\`, `,` or `:`.
    ["k:\\n", [["k", "\\n"]]],
    ["k:,x", [["k", ",x"]]],
    [":k:v", [[":k", "v"]]],
    ["k:v:w", [["k", "v:w"]]],
    ["k: v ", [["k", " v "]]],
    ["a:1,b:2,c:3", [["a", "1"], ["b", "2"], ["c", "3"]]],
    ["safe.directory:*", [["safe.directory", "*"]]],
    ["k:é", [["k", "é"]]],
  ])("%p", (input, want) => {
    expect(parseGitConfigList(input)).toEqual(want);
  });
});

describe("parseGitConfigList errors", () => {
  it.each<[string, string]>([
    ["k", 'unexpected end of key: "k"'],
    ["k:", 'key "k": no value'],
    ["k:v,x", 'unexpected end of key: "x"'],
    ['"k"', 'unexpected end of key: "k"'],
    ['"k"x:v', 'unexpected character after quoted key: "k"x'],
    ['"k', 'unterminated string: "k'],
    ['k:"v', 'key "k": unterminated string: "v'],
    ['k:"v"x', 'key "k": unexpected character after quoted value "v"x'],
    ["k:v\\q", 'key "k": unrecognized escape sequence: \\q'],
    ["k:v\\", 'key "k": unterminated escape sequence'],
    ['"k\\q":v', "unrecognized escape sequence: \\q"],
    [",", 'unexpected end of key: ","'],
  ])("%p", (input, msg) => {
    expect(() => parseGitConfigList(input)).toThrow(msg);
  });
});
