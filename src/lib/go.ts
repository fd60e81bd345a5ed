// Go-compatible value syntax. git-sync is a Go program and its users write values the way
// Go parses them (strconv.ParseBool, ParseInt base 0, time.ParseDuration), so we parse and
// print exactly that way. Durations are carried as milliseconds (fractions allowed).

const BOOLS: Record<string, boolean> = {
  "1": true, t: true, T: true, TRUE: true, true: true, True: true,
  "0": false, f: false, F: false, FALSE: false, false: false, False: false,
};

export function parseGoBool(s: string): boolean {
  const v = BOOLS[s];
  if (v === undefined) throw new Error(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
  return v;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** strconv.ParseInt(s, 0, 64): sign, then decimal, 0x hex, 0o/leading-0 octal or 0b binary; `_` between digits. */
export function parseGoInt(s: string): number {
  const bad = () => new Error(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  let body = s;
  let sign = 1n;
  if (body.startsWith("+") || body.startsWith("-")) {
    if (body[0] === "-") sign = -1n;
    body = body.slice(1);
  }
  if (body === "") throw bad();
  let base = 10;
  let digits = body;
  const lower = body.toLowerCase();
  if (lower.startsWith("0x")) [base, digits] = [16, body.slice(2)];
  else if (lower.startsWith("0o")) [base, digits] = [8, body.slice(2)];
  else if (lower.startsWith("0b")) [base, digits] = [2, body.slice(2)];
  else if (body.length > 1 && body[0] === "0") [base, digits] = [8, body.slice(1)];
  // Go literal syntax: `_` only between digits, or right after a base prefix.
  const D = { 2: "[01]", 8: "[0-7]", 10: "[0-9]", 16: "[0-9a-fA-F]" }[base]!;
  const prefixed = base !== 10;
  if (!new RegExp(`^${prefixed ? "_?" : ""}${D}+(_${D}+)*$`).test(digits)) throw bad();
  digits = digits.replace(/_/g, "");
  let n = 0n;
  for (const ch of digits) n = n * BigInt(base) + BigInt(parseInt(ch, 16));
  n *= sign;
  if (n > INT64_MAX || n < INT64_MIN) {
    throw new Error(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  }
  return Number(n);
}

/** strconv's underscoreOK: `_` only between digits, or between a base prefix and a digit. */
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s.startsWith("-") || s.startsWith("+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1]!)) {
    i = 2;
    saw = "0";
    hex = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseFloat(s, 64): decimal and hex floats, `_` separators, inf/infinity/nan. */
export function parseGoFloat(s: string): number {
  const syntax = () => new Error(`strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`);
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === "nan") return Number.NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  if (s.includes("_") && !underscoreOK(s)) throw syntax();
  const t = s.replace(/_/g, "");
  let v: number;
  const hexm = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(t);
  if (hexm) {
    const [, sign, int = "", frac = ""] = hexm;
    if (int === "" && frac === "") throw syntax();
    const mant = parseInt(int + frac || "0", 16) / 16 ** frac.length;
    v = (sign === "-" ? -1 : 1) * mant * 2 ** Number(hexm[4]);
  } else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
    v = Number(t);
  } else {
    throw syntax();
  }
  if (!Number.isFinite(v)) throw new Error(`strconv.ParseFloat: parsing ${goQuote(s)}: value out of range`);
  return v;
}

const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

/** time's own quote(): ASCII as is (with `"` and `\\` escaped), everything else as \x bytes. */
function timeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80 || c < 0x20) {
      for (const b of new TextEncoder().encode(ch)) out += "\\x" + b.toString(16).padStart(2, "0");
    } else {
      if (ch === '"' || ch === "\\") out += "\\";
      out += ch;
    }
  }
  return out + '"';
}

/**
 * time.ParseDuration, returning milliseconds. A port of Go's loop (not a regex) so the error
 * texts match: `missing unit`, `unknown unit "d"`, `invalid duration`.
 */
export function parseGoDuration(orig: string): number {
  const invalid = () => new Error(`time: invalid duration ${timeQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw invalid();
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  let totalNs = 0;
  while (s !== "") {
    if (!(s[0] === "." || isDigit(s[0]))) throw invalid();
    let i = 0;
    while (isDigit(s[i])) i++;
    const intPart = s.slice(0, i);
    s = s.slice(i);
    let fracPart = "";
    let post = false;
    if (s[0] === ".") {
      s = s.slice(1);
      let j = 0;
      while (isDigit(s[j])) j++;
      fracPart = s.slice(0, j);
      post = j > 0;
      s = s.slice(j);
    }
    if (intPart === "" && !post) throw invalid();
    let u = 0;
    // Units are everything up to the next digit or dot, so "1 s" has the unit " s".
    while (u < s.length && !(s[u] === "." || isDigit(s[u]))) u++;
    if (u === 0) throw new Error(`time: missing unit in duration ${timeQuote(orig)}`);
    const unit = s.slice(0, u);
    s = s.slice(u);
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${timeQuote(unit)} in duration ${timeQuote(orig)}`);
    totalNs += Number(`${intPart || "0"}.${fracPart || "0"}`) * scale;
    // Go keeps nanoseconds in an int64; anything past ~292 years overflows.
    if (totalNs > 2 ** 63) throw invalid();
  }
  const ms = totalNs / 1e6;
  return neg ? -ms : ms;
}

/** time.Duration.String(): "1h0m0s", "1m30s", "1.5s", "100ms", "0s". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  const neg = ms < 0;
  let ns = Math.round(Math.abs(ms) * 1e6);
  const sign = neg ? "-" : "";
  if (ns < 1e9) {
    // Sub-second values use the largest unit that keeps an integer part.
    const [unit, div] = ns < 1e3 ? ["ns", 1] : ns < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
    return sign + trimFloat(ns / (div as number)) + unit;
  }
  const h = Math.floor(ns / 3.6e12);
  ns -= h * 3.6e12;
  const m = Math.floor(ns / 6e10);
  ns -= m * 6e10;
  const secs = trimFloat(ns / 1e9) + "s";
  if (h > 0) return `${sign}${h}h${m}m${secs}`;
  if (m > 0) return `${sign}${m}m${secs}`;
  return sign + secs;
}

function trimFloat(n: number): string {
  return String(Number(n.toFixed(9)));
}

/** A duration that logs the way Go prints it. */
export class Duration {
  constructor(readonly ms: number) {}
  toJSON(): string {
    return formatGoDuration(this.ms);
  }
  toString(): string {
    return formatGoDuration(this.ms);
  }
}

/** strconv.Quote for the error texts we reproduce: Go escapes, printable Unicode kept. */
export function goQuote(s: string): string {
  const named: Record<string, string> = {
    "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
    '"': '\\"', "\\": "\\\\",
  };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (named[ch] !== undefined) out += named[ch];
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

const ESCAPE = String.raw`\\(?:([abfnrtv"\\])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))`;
const QUOTED = new RegExp(String.raw`^"(?:[^"\\\n]|${ESCAPE.replace(/\((?!\?)/g, "(?:")})*"$`);
const NAMED: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

/**
 * strconv.Unquote for a double-quoted Go string; null if `q` is not one. `\xHH` is read as a code
 * point, which is how goQuote writes control characters (Go would read a byte).
 */
export function goUnquote(q: string): string | null {
  if (!QUOTED.test(q)) return null;
  return q.slice(1, -1).replace(new RegExp(ESCAPE, "g"), (_all, named?: string, x?: string, u?: string, U?: string, oct?: string) => {
    if (named !== undefined) return NAMED[named] ?? named;
    const code = parseInt((x ?? u ?? U ?? oct)!, oct !== undefined ? 8 : 16);
    return code > 0x10ffff ? "\uFFFD" : String.fromCodePoint(code);
  });
}
