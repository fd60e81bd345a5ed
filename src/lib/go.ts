// Go-compatible value syntax. git-sync is a Go program and its users write values the way
// Go parses them (strconv.ParseBool, ParseInt base 0, time.ParseDuration), so we parse and
// print exactly that way. Durations are carried as milliseconds (fractions allowed).

const BOOLS: Record<string, boolean> = {
  "1": true, t: true, T: true, TRUE: true, true: true, True: true,
  "0": false, f: false, F: false, FALSE: false, false: false, False: false,
};

export function parseGoBool(s: string): boolean {
  const v = BOOLS[s];
  if (v === undefined) throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
  return v;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** strconv.ParseInt(s, 0, 64): sign, then decimal, 0x hex, 0o/leading-0 octal or 0b binary; `_` between digits. */
export function parseGoInt(s: string): number {
  const bad = () => new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
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
    throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  }
  return Number(n);
}

/** strconv.ParseFloat(s, 64) for the forms people write: 1, 0.1, .5, 1e-1, +2. */
export function parseGoFloat(s: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s.replace(/_/g, ""))) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  return Number(s.replace(/_/g, ""));
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

/** time.ParseDuration, returning milliseconds. */
export function parseGoDuration(s: string): number {
  const bad = () => new Error(`time: invalid duration ${JSON.stringify(s)}`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw bad();
  let total = 0;
  const group = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== "") {
    const m = group.exec(rest);
    if (!m) {
      if (/^(\d+\.?\d*|\.\d+)/.test(rest) && !/^(\d+\.?\d*|\.\d+)[a-zA-Zµμ]/.test(rest)) {
        throw new Error(`time: missing unit in duration ${JSON.stringify(s)}`);
      }
      if (/^(\d+\.?\d*|\.\d+)/.test(rest)) throw new Error(`time: unknown unit in duration ${JSON.stringify(s)}`);
      throw bad();
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
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

/** strconv.Quote, close enough for error texts: JSON escaping is what Go does for printable text. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
