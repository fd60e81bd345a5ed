// The `--git-config` / `--git-config-add` list grammar (behaviour.md 3 step 11), ported from
// upstream's rune-by-rune parser so that its quirks survive: the first character of an unquoted
// key or value is always literal, unquoted keys have no escapes, a trailing comma is fine.
import { goQuote } from "../lib/go.ts";

/** Reads code points one at a time, like upstream's rune channel. */
class Runes {
  private i = 0;
  private readonly cps: string[];
  constructor(s: string) {
    this.cps = [...s];
  }
  next(): string | undefined {
    return this.cps[this.i++];
  }
}

function unescape(r: Runes): string {
  const c = r.next();
  if (c === undefined) throw new Error("unterminated escape sequence");
  switch (c) {
    case "n":
      return "\n";
    case "t":
      return "\t";
    case '"':
    case ",":
    case "\\":
      return c;
    default:
      throw new Error(`unrecognized escape sequence: \\${c}`);
  }
}

/** A quoted string whose opening quote was already read. */
function parseQString(r: Runes): string {
  let buf = "";
  for (let c = r.next(); c !== undefined; c = r.next()) {
    if (c === "\\") buf += unescape(r);
    else if (c === '"') return buf;
    else buf += c;
  }
  throw new Error(`unterminated string: "${buf}`);
}

function parseQKey(r: Runes): string {
  const key = parseQString(r);
  const c = r.next();
  if (c === undefined) throw new Error(`unexpected end of key: ${goQuote(key)}`);
  if (c !== ":") throw new Error(`unexpected character after quoted key: ${goQuote(key)}${c}`);
  return key;
}

function parseKey(first: string, r: Runes): string {
  let buf = first;
  for (let c = r.next(); c !== undefined; c = r.next()) {
    if (c === ":") return buf;
    buf += c;
  }
  throw new Error(`unexpected end of key: ${goQuote(buf)}`);
}

function parseQVal(r: Runes): string {
  const val = parseQString(r);
  const c = r.next();
  if (c !== undefined && c !== ",") throw new Error(`unexpected character after quoted value ${goQuote(val)}${c}`);
  return val;
}

function parseVal(first: string, r: Runes): string {
  let buf = first;
  for (let c = r.next(); c !== undefined; c = r.next()) {
    if (c === "\\") buf += unescape(r);
    else if (c === ",") return buf;
    else buf += c;
  }
  return buf;
}

/** Parse `k:v,"quoted.key":"quoted value",...` into ordered [key, value] pairs; throws on bad input. */
export function parseGitConfigList(s: string): Array<[string, string]> {
  const r = new Runes(s);
  const out: Array<[string, string]> = [];
  for (;;) {
    const k0 = r.next();
    if (k0 === undefined) break;
    const key = k0 === '"' ? parseQKey(r) : parseKey(k0, r);
    const v0 = r.next();
    if (v0 === undefined) throw new Error(`key ${goQuote(key)}: no value`);
    try {
      out.push([key, v0 === '"' ? parseQVal(r) : parseVal(v0, r)]);
    } catch (e) {
      throw new Error(`key ${goQuote(key)}: ${(e as Error).message}`, { cause: e });
    }
  }
  return out;
}
