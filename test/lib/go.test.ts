// Go value syntax (behaviour.md 2.1): every example given there plus the edges people hit.
import { describe, expect, it } from "bun:test";
import { formatGoDuration, goQuote, goUnquote, parseGoBool, parseGoDuration, parseGoFloat, parseGoInt } from "../../src/lib/go.ts";

describe("parseGoDuration valid", () => {
  it.each<[string, number]>([
    ["100ms", 100],
    ["1m30s", 90_000],
    ["0.5s", 500],
    ["1h", 3_600_000],
    ["2h45m", 9_900_000],
    ["-1s", -1000],
    ["+1s", 1000],
    ["0", 0],
    ["-0", 0],
    ["1.5s", 1500],
    [".5s", 500],
    ["1.s", 1000],
    ["10s", 10_000],
    ["1000ns", 0.001],
    ["3us", 0.003],
    ["3µs", 0.003],
    ["3μs", 0.003],
    ["1h1m1s1ms", 3_661_001],
    ["0s", 0],
  ])("%p -> %p ms", (input, ms) => {
    expect(parseGoDuration(input)).toBeCloseTo(ms, 9);
  });
});

describe("parseGoDuration invalid", () => {
  it.each<[string, string]>([
    ["", 'time: invalid duration ""'],
    ["10", 'time: missing unit in duration "10"'],
    ["1S", 'time: unknown unit "S" in duration "1S"'],
    ["1 s", 'time: unknown unit " s" in duration "1 s"'],
    ["1d", 'time: unknown unit "d" in duration "1d"'],
    ["s", 'time: invalid duration "s"'],
    [".s", 'time: invalid duration ".s"'],
    ["-", 'time: invalid duration "-"'],
    ["1.5.5s", 'time: missing unit in duration "1.5.5s"'],
    ["1s5", 'time: missing unit in duration "1s5"'],
    ["00", 'time: missing unit in duration "00"'],
    ["3000000h", 'time: invalid duration "3000000h"'],
  ])("%p", (input, msg) => {
    expect(() => parseGoDuration(input)).toThrow(msg);
  });
});

describe("parseGoBool", () => {
  it.each<[string, boolean]>([
    ["1", true], ["t", true], ["T", true], ["TRUE", true], ["true", true], ["True", true],
    ["0", false], ["f", false], ["F", false], ["FALSE", false], ["false", false], ["False", false],
  ])("%p -> %p", (input, want) => {
    expect(parseGoBool(input)).toBe(want);
  });
  it.each(["yes", "on", "", "tRUE", "2", " true"])("%p is invalid", (input) => {
    expect(() => parseGoBool(input)).toThrow(`strconv.ParseBool: parsing ${goQuote(input)}: invalid syntax`);
  });
});

describe("parseGoInt valid (base 0)", () => {
  it.each<[string, number]>([
    ["0", 0], ["42", 42], ["-7", -7], ["+7", 7],
    ["010", 8], ["0o10", 8], ["0O10", 8], ["0x10", 16], ["0X1f", 31], ["0b101", 5], ["0B11", 3],
    ["1_000", 1000], ["0x_ff", 255], ["0_7", 7],
    ["9223372036854775807", Number(9223372036854775807n)], ["-9223372036854775808", Number(-9223372036854775808n)],
  ])("%p -> %p", (input, want) => {
    expect(parseGoInt(input)).toBe(want);
  });
});

describe("parseGoInt invalid", () => {
  it.each<[string, string]>([
    ["", "invalid syntax"], ["abc", "invalid syntax"], ["08", "invalid syntax"], ["0x", "invalid syntax"],
    ["1.5", "invalid syntax"], ["_1", "invalid syntax"], ["1_", "invalid syntax"], ["1__0", "invalid syntax"],
    ["0b2", "invalid syntax"], [" 1", "invalid syntax"], ["-", "invalid syntax"], ["1e3", "invalid syntax"],
    ["9223372036854775808", "value out of range"], ["-9223372036854775809", "value out of range"],
    ["0x8000000000000000", "value out of range"],
  ])("%p -> %p", (input, why) => {
    expect(() => parseGoInt(input)).toThrow(`strconv.ParseInt: parsing ${goQuote(input)}: ${why}`);
  });
});

describe("parseGoFloat", () => {
  it.each<[string, number]>([
    ["0.1", 0.1], ["1e-1", 0.1], ["3", 3], [".5", 0.5], ["1.", 1], ["+2", 2], ["-1.5", -1.5],
    ["1_000.5", 1000.5], ["0x1p-2", 0.25], ["1E2", 100],
  ])("%p -> %p", (input, want) => {
    expect(parseGoFloat(input)).toBe(want);
  });
  it.each(["Inf", "-inf", "+Infinity"])("%p is infinite", (input) => {
    expect(Number.isFinite(parseGoFloat(input))).toBe(false);
  });
  it.each<[string, string]>([
    ["", "invalid syntax"], ["abc", "invalid syntax"], ["1s", "invalid syntax"], ["_1", "invalid syntax"],
    ["1__0", "invalid syntax"], ["1e", "invalid syntax"], ["1e400", "value out of range"],
  ])("%p -> %p", (input, why) => {
    expect(() => parseGoFloat(input)).toThrow(`strconv.ParseFloat: parsing ${goQuote(input)}: ${why}`);
  });
});

describe("formatGoDuration", () => {
  it.each<[number, string]>([
    [0, "0s"], [10_000, "10s"], [90_000, "1m30s"], [3_600_000, "1h0m0s"], [100, "100ms"], [1500, "1.5s"],
    [120_000, "2m0s"], [-1000, "-1s"], [0.001, "1µs"], [0.000001, "1ns"],
  ])("%p ms -> %p", (ms, want) => {
    expect(formatGoDuration(ms)).toBe(want);
  });
});

describe("goQuote", () => {
  it.each<[string, string]>([
    ["abc", '"abc"'], ['a"b', '"a\\"b"'], ["a\\b", '"a\\\\b"'], ["\n\t", '"\\n\\t"'], ["\x01", '"\\x01"'], ["é", '"é"'],
  ])("%p -> %p", (input, want) => {
    expect(goQuote(input)).toBe(want);
  });
});

describe("goUnquote", () => {
  it.each(["abc", 'a"b', "a\\b", "fatal: x\nfatal: y\n\nPlease", "\x01\x07\t\r\v\f\b", "é ✓", ""])("%p survives goQuote", (s) => {
    expect(goUnquote(goQuote(s))).toBe(s);
  });
  it.each<[string, string]>([
    ['"\\u00e9"', "é"], ['"\\U0001F600"', "😀"], ['"\\101"', "A"], ['"\\x41"', "A"],
  ])("%s -> %p", (q, want) => {
    expect(goUnquote(q)).toBe(want);
  });
  it.each(['"a', 'a"', '"a"b"', '"\\q"', '"\\x4"', '"\\\'"', '"a\nb"', ""])("%p is not a Go string", (q) => {
    expect(goUnquote(q)).toBeNull();
  });
});
