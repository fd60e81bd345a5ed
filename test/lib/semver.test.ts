// `--ref=semver:RANGE`: which tag a range follows (src/lib/semver.ts), by tables.
import { describe, expect, it } from "bun:test";
import { isVersionTag, pickSemverTag, rangeError, semverRange } from "../../src/lib/semver.ts";

const tags = (...names: string[]) => names.map((n) => `refs/tags/${n}`);

describe("pickSemverTag", () => {
  it.each<[string, string[], string | null]>([
    // The highest in range wins, wherever it is listed.
    [">=1.2.0 <2.0.0", tags("v1.1.0", "v1.2.0", "v1.10.0", "v1.9.9", "v2.0.0"), "refs/tags/v1.10.0"],
    ["^1", tags("1.0.0", "1.4.2", "2.0.0"), "refs/tags/1.4.2"],
    ["~1.2", tags("1.2.0", "1.2.9", "1.3.0"), "refs/tags/1.2.9"],
    ["*", tags("v0.1.0", "v3.0.0"), "refs/tags/v3.0.0"],
    // A leading v is allowed, with or without it in the range.
    [">=v1.0.0", tags("v1.0.0", "v1.0.1"), "refs/tags/v1.0.1"],
    // Pre-releases only when the range names one of the same major.minor.patch.
    [">=1.0.0", tags("1.0.0", "1.1.0-rc.1"), "refs/tags/1.0.0"],
    [">=1.1.0-rc.1", tags("1.0.0", "1.1.0-rc.1", "1.1.0-rc.2"), "refs/tags/1.1.0-rc.2"],
    [">=1.1.0-rc.1", tags("1.1.0-rc.2", "1.2.0-beta.1"), "refs/tags/1.1.0-rc.2"],
    [">=1.1.0-rc.1", tags("1.1.0-rc.2", "1.1.0"), "refs/tags/1.1.0"],
    // Pre-release identifiers compare numerically when numeric.
    [">=1.0.0-alpha.1 <1.0.0", tags("1.0.0-alpha.9", "1.0.0-alpha.10"), "refs/tags/1.0.0-alpha.10"],
    [">=1.0.0", tags("2.0.0-rc.1"), null],
    // Build metadata does not order versions; equal precedence: the greater ref name.
    [">=1.0.0", tags("1.0.0+a", "1.0.0+b"), "refs/tags/1.0.0+b"],
    [">=1.0.0", tags("1.0.0+b", "1.0.0+a"), "refs/tags/1.0.0+b"],
    [">=1.0.0", tags("v1.0.0", "1.0.0"), "refs/tags/v1.0.0"],
    [">=1.0.0", tags("1.0.0+build.1", "1.0.1"), "refs/tags/1.0.1"],
    // Garbage tags are ignored, not errors.
    [">=1.0.0", tags("latest", "1.2", "01.2.3", "1.2.3.4", "v1.2.3-", "V1.2.3", "release-1.5.0", "1.0.0"), "refs/tags/1.0.0"],
    [">=1.0.0", tags("latest", "stable"), null],
    // Only tags, only directly under refs/tags/.
    [">=1.0.0", ["refs/heads/2.0.0", "refs/tags/rel/3.0.0", "refs/tags/1.0.0", "refs/tags/1.0.0^{}"], "refs/tags/1.0.0"],
    [">=1.0.0", [], null],
    ["<1.0.0 || >=3.0.0", tags("0.9.0", "2.0.0", "3.1.0"), "refs/tags/3.1.0"],
    ["1.2.3 - 1.4", tags("1.2.2", "1.4.9", "1.5.0"), "refs/tags/1.4.9"],
  ])("%s of %j", (range, names, want) => {
    expect(pickSemverTag(range, names)).toBe(want);
  });
});

describe("isVersionTag", () => {
  it.each<[string, boolean]>([
    ["1.2.3", true],
    ["v1.2.3", true],
    ["0.0.0", true],
    ["1.2.3-rc.1", true],
    ["1.2.3-0a.1", true],
    ["1.2.3+build.7", true],
    ["1.2.3-beta+exp.sha.5114f85", true],
    ["01.2.3", false],
    ["1.02.3", false],
    ["1.2.3-01", false],
    ["1.2", false],
    ["vv1.2.3", false],
    ["1.2.3+", false],
    ["garbage", false],
  ])("%s", (name, want) => expect(isVersionTag(name)).toBe(want));
});

describe("rangeError", () => {
  it.each([">=1.2.0 <2.0.0", ">= 1.2.0", "^1", "~1.2", "~>1.2", "1.x", "1.2.X", "*", "x", "1.2.3 - 2.0", "^1 || ^2", "=1.2.3", "v1.2.3", ">=1.0.0-rc.1", "<1.0.0-0"])("accepts %s", (r) => {
    expect(rangeError(r)).toBe("");
  });
  it.each(["", " ", "garbage", "foo bar", "!!", ">=1.2.3.4", "1.2.3 -2", ">>1", "^01.2"])("refuses %j", (r) => {
    expect(rangeError(r)).not.toBe("");
  });
});

describe("semverRange", () => {
  it.each<[string, string | null]>([
    ["semver:>=1.0.0", ">=1.0.0"],
    ["semver:", ""],
    ["main", null],
    ["refs/tags/semver", null],
  ])("%s", (ref, want) => expect(semverRange(ref)).toBe(want));
});
