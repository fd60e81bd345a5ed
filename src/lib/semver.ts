// `--ref=semver:RANGE` (ours): follow the highest release tag in a range. Matching and ordering
// are Bun.semver's (built into the runtime, node-semver's semantics: a pre-release matches only
// a range that names a pre-release of the same major.minor.patch), so there is no dependency to
// keep up to date. Two things Bun.semver is lenient about are checked here first: it reads an
// unparsable range as "*" (so a typo would follow every tag), and it accepts versions such as
// "01.2.3", which SemVer 2.0 forbids. A range must parse by node-semver's grammar, and a tag
// name must be a strict SemVer 2.0 version with an optional leading "v"; other tags are ignored.

export const SEMVER_PREFIX = "semver:";

/** The range of a `semver:` ref, or null for any other ref. */
export function semverRange(ref: string): string | null {
  return ref.startsWith(SEMVER_PREFIX) ? ref.slice(SEMVER_PREFIX.length) : null;
}

// https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
const NUM = "(?:0|[1-9]\\d*)";
const PRE_ID = `(?:${NUM}|\\d*[a-zA-Z-][0-9a-zA-Z-]*)`;
const STRICT = new RegExp(`^v?${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?$`);

/** A tag name that is a SemVer 2.0 version, "v" prefix allowed ("v1.2.3", "1.0.0-rc.1+build.5"). */
export function isVersionTag(name: string): boolean {
  return STRICT.test(name);
}

// node-semver's range grammar (https://github.com/npm/node-semver#range-grammar): partial
// versions with x/X/* wildcards, an optional "v" or "=", operators, ~ ^ and hyphen ranges.
const XR = `(?:[xX*]|${NUM})`;
const PARTIAL = `v?${XR}(?:\\.${XR}(?:\\.${XR}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?)?)?`;
const SIMPLE = new RegExp(`^(?:<=|>=|<|>|=|~>|~|\\^)?${PARTIAL}$`);
const HYPHEN = new RegExp(`^${PARTIAL}\\s+-\\s+${PARTIAL}$`);

/** Why `range` is not a range we accept, or "" when it is. */
export function rangeError(range: string): string {
  if (range.trim() === "") return "the range is empty (use semver:* to follow every release)";
  for (const alt of range.split("||")) {
    const part = alt.trim();
    // "" between two ||s means any version in node-semver; keep that.
    if (part === "" || HYPHEN.test(part)) continue;
    // An operator may be followed by spaces (">= 1.2.0"): glue it to its version first.
    const words = part.replace(/(<=|>=|<|>|=|~>|~|\^)\s+/g, "$1").split(/\s+/);
    const bad = words.find((w) => !SIMPLE.test(w));
    if (bad !== undefined) return `${JSON.stringify(bad)} is not a version, a partial version or a comparator`;
  }
  return "";
}

/**
 * The tag to follow: of `refNames` (full names; anything not directly under refs/tags/, peeled
 * "^{}" entries and non-SemVer names are ignored), the highest version that satisfies `range`.
 * Versions of equal precedence (1.0.0+a and 1.0.0+b, v1.0.0 and 1.0.0; build metadata does not
 * order versions) are told apart by the greater ref name in byte order, so the choice does not
 * depend on the order a server lists refs in. Null when no tag matches.
 */
export function pickSemverTag(range: string, refNames: Iterable<string>): string | null {
  let best: { name: string; version: string } | null = null;
  for (const name of refNames) {
    if (!name.startsWith("refs/tags/")) continue;
    const version = name.slice("refs/tags/".length);
    if (!isVersionTag(version) || !Bun.semver.satisfies(version, range)) continue;
    if (best === null) {
      best = { name, version };
      continue;
    }
    const order = Bun.semver.order(version, best.version);
    if (order > 0 || (order === 0 && name > best.name)) best = { name, version };
  }
  return best?.name ?? null;
}
