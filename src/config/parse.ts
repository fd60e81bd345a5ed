// Env lookup and a pflag-compatible argv pre-pass (behaviour.md 2.1). citty neither accumulates
// repeated flags nor rejects unknown ones, and git-sync users rely on pflag's exact quirks
// (`--one-time false` leaves `false` behind, `-v3`, `-repo=x` is an error), so we do it ourselves.
import { goQuote, parseGoBool, parseGoDuration, parseGoFloat, parseGoInt } from "../lib/go.ts";
import { OPTIONS, findOption, findShort, type OptionSpec, type OptionValue, type OptionValues } from "./options.ts";
import type { Credential } from "./types.ts";

/** A fatal problem found before validation: an unparsable env value (exit 1) or a flag error (exit 2). */
export class ParseFailure extends Error {
  constructor(
    readonly code: 1 | 2,
    message: string,
    /** Lines already printed before the failure (env deprecation notices). */
    readonly warnings: string[] = [],
  ) {
    super(message);
  }
}

export interface ParseState {
  values: OptionValues;
  /** Flags set on the command line (pflag's `Changed`). */
  changed: Set<string>;
  /** Options whose value came from a set env var. */
  fromEnv: Set<string>;
  /** Plain stderr lines, in the order upstream prints them. */
  warnings: string[];
  /** Ignored positional arguments. */
  args: string[];
}

const TYPE_WORD = { bool: "bool", int: "int", duration: "duration", float: "float" } as const;

/** Parse one scalar the way the Go flag value would; throws Go's error text. */
function parseScalar(o: OptionSpec, raw: string): OptionValue {
  switch (o.type) {
    case "bool":
      return parseGoBool(raw);
    case "int":
      return parseGoInt(raw);
    case "duration":
      return parseGoDuration(raw);
    case "float":
      return parseGoFloat(raw);
    default:
      return raw;
  }
}

function defaults(): OptionValues {
  const v: Record<string, OptionValue> = {};
  for (const o of OPTIONS) v[o.name] = Array.isArray(o.default) ? [...(o.default as readonly string[])] : (o.default as OptionValue);
  return v as OptionValues;
}

/**
 * Apply env values over the defaults, in table order. Every set name (even empty) counts and the
 * last one in the list wins; alt names print a deprecation line (upstream's env.go).
 */
export function readEnv(env: Record<string, string | undefined>): ParseState {
  const st: ParseState = { values: defaults(), changed: new Set(), fromEnv: new Set(), warnings: [], args: [] };
  const values = st.values as Record<string, OptionValue>;
  for (const o of OPTIONS as readonly OptionSpec[]) {
    const [primary, ...alts] = o.env;
    if (primary === undefined) continue;
    let found = 0;
    let winner = "";
    let raw = "";
    if (env[primary] !== undefined) {
      found++;
      winner = primary;
      raw = env[primary];
    }
    for (const alt of alts) {
      const val = env[alt];
      if (val === undefined) continue;
      st.warnings.push(`env $${alt} has been deprecated, use $${primary} instead`);
      found++;
      winner = alt;
      raw = val;
    }
    if (found === 0) continue;
    if (found > 1) st.warnings.push(`env $${primary} was overridden by $${winner}`);
    st.fromEnv.add(o.name);
    if (o.type === "string-array") {
      // A trailing newline in a header list is normal; a ":"-list keeps Go's strings.Split result.
      values[o.name] = o.envSplit === "\n" ? raw.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "") : raw.split(o.envSplit ?? ",");
    } else if (o.type === "credential-array") {
      // Upstream quirk (behaviour.md 2.1): an unparsable env credential is silently dropped.
      try {
        values[o.name] = parseCredentials(raw);
      } catch {
        values[o.name] = [];
      }
    } else if (o.type === "string") {
      values[o.name] = raw;
    } else {
      try {
        values[o.name] = parseScalar(o, raw);
      } catch (e) {
        throw new ParseFailure(1, `FATAL: invalid ${TYPE_WORD[o.type]} env ${winner}=${goQuote(raw)}: ${(e as Error).message}`, st.warnings);
      }
    }
  }
  return st;
}

/** pflag's `Set`: parse, store, mark changed, then the deprecation line. */
function setFlag(st: ParseState, o: OptionSpec, raw: string): void {
  const values = st.values as Record<string, OptionValue>;
  try {
    if (o.type === "string-array") {
      // First command-line use replaces the default/env list, later uses append.
      const cur = st.changed.has(o.name) ? (values[o.name] as string[]) : [];
      values[o.name] = [...cur, raw];
    } else if (o.type === "credential-array") {
      // Credentials always append, even to the env-provided list.
      values[o.name] = [...(values[o.name] as Credential[]), ...parseCredentials(raw)];
    } else if (!(o.flagIgnoresEmpty && raw === "")) {
      values[o.name] = parseScalar(o, raw);
    }
  } catch (e) {
    const label = o.short ? `-${o.short}, --${o.name}` : `--${o.name}`;
    // pflag quotes the value; a malformed credential still keeps its password to itself.
    const shown = o.type === "credential-array" ? raw.replace(/("password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"REDACTED"') : raw;
    throw new ParseFailure(2, `invalid argument ${goQuote(shown)} for ${goQuote(label)} flag: ${(e as Error).message}`);
  }
  st.changed.add(o.name);
  if (o.deprecated) st.warnings.push(`Flag --${o.name} has been deprecated, ${o.deprecated}`);
}

function parseLong(st: ParseState, s: string, rest: string[]): string[] {
  let name = s.slice(2);
  if (name === "" || name[0] === "-" || name[0] === "=") throw new ParseFailure(2, `bad flag syntax: ${s}`);
  const eq = name.indexOf("=");
  const attached = eq >= 0 ? name.slice(eq + 1) : undefined;
  if (eq >= 0) name = name.slice(0, eq);
  const o = findOption(name);
  if (!o) throw new ParseFailure(2, `unknown flag: --${name}`);
  let value: string;
  if (attached !== undefined) value = attached;
  else if (o.type === "bool") value = "true";
  else if (rest.length > 0) {
    value = rest[0]!;
    rest = rest.slice(1);
  } else throw new ParseFailure(2, `flag needs an argument: ${s}`);
  setFlag(st, o, value);
  return rest;
}

/** One letter of a `-abc` group; returns the letters left and the remaining args. */
function parseOneShort(st: ParseState, shorts: string, rest: string[]): [string, string[]] {
  const c = shorts[0]!;
  let left = shorts.slice(1);
  const o = findShort(c);
  if (!o) throw new ParseFailure(2, `unknown shorthand flag: ${goRuneQuote(c)} in -${shorts}`);
  let value: string;
  if (shorts.length > 2 && shorts[1] === "=") {
    value = shorts.slice(2);
    left = "";
  } else if (o.type === "bool") value = "true";
  else if (shorts.length > 1) {
    value = shorts.slice(1);
    left = "";
  } else if (rest.length > 0) {
    value = rest[0]!;
    rest = rest.slice(1);
  } else throw new ParseFailure(2, `flag needs an argument: ${goRuneQuote(c)} in -${shorts}`);
  setFlag(st, o, value);
  return [left, rest];
}

/** Go's %q for a byte/rune: 'v'. */
function goRuneQuote(c: string): string {
  return c === "'" ? "'\\''" : c === "\\" ? "'\\\\'" : `'${c}'`;
}

/** The argv pass (argv without the program name). Throws ParseFailure(2) like pflag's ExitOnError. */
export function parseArgv(st: ParseState, argv: readonly string[]): void {
  let rest = [...argv];
  while (rest.length > 0) {
    const s = rest[0]!;
    rest = rest.slice(1);
    if (s.length < 2 || s[0] !== "-") {
      st.args.push(s);
      continue;
    }
    if (s[1] === "-") {
      if (s.length === 2) {
        st.args.push(...rest);
        return;
      }
      rest = parseLong(st, s, rest);
    } else {
      let shorts = s.slice(1);
      // pflag hands the same arg list to every letter of a group, so "-hv 3" reads 3 for -v.
      const base = rest;
      while (shorts.length > 0) [shorts, rest] = parseOneShort(st, shorts, base);
    }
  }
}

const CRED_FIELDS = ["url", "username", "password", "password-file"] as const;

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "object" ? "object" : typeof v;
}

function decodeCredential(v: unknown): Credential {
  const c: Credential = { url: "", username: "", password: "", passwordFile: "" };
  if (v === null) return c;
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new Error(`json: cannot unmarshal ${jsonKind(v)} into Go value of type main.credential`);
  }
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    // encoding/json matches field names case-insensitively.
    const field = CRED_FIELDS.find((f) => f === k) ?? CRED_FIELDS.find((f) => f.toLowerCase() === k.toLowerCase());
    if (!field) throw new Error(`json: unknown field ${goQuote(k)}`);
    if (val === null) continue;
    if (typeof val !== "string") {
      throw new Error(`json: cannot unmarshal ${jsonKind(val)} into Go struct field credential.${field} of type string`);
    }
    if (field === "password-file") c.passwordFile = val;
    else c[field] = val;
  }
  return c;
}

/** `--credential` / GITSYNC_CREDENTIAL (behaviour.md 6.2): an object or a list of them; "" is nothing. */
export function parseCredentials(raw: string): Credential[] {
  const s = raw.trim();
  if (s === "") return [];
  if (s[0] !== "{" && s[0] !== "[") throw new Error("not a JSON object or list");
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch (e) {
    throw new Error(`invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (Array.isArray(parsed)) return parsed.map(decodeCredential);
  return [decodeCredential(parsed)];
}
