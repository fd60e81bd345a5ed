// Log lines for people (--log-format=text, the default when stderr is a terminal): the fields of
// the JSON line laid out to be read rather than parsed.
//
//   14:43:06.046 ERROR too many failures, aborting  failCount=1 maxFailures=0
//     error: Run(git fetch file:///nope HEAD ...): exit status 128
//       stderr:
//         fatal: '/nope' does not appear to be a git repository
//
// The output a failed command printed, which the JSON line carries escaped inside a string
// (`{ stdout: "…", stderr: "…" }`, lib/exec.ts failureText), and any multi-line value come out
// as indented lines under the message. No caller: it is noise at a terminal.
import { goUnquote } from "../lib/go.ts";

export interface TextLine {
  /** The JSON line's ts, `YYYY-MM-DD HH:MM:SS.uuuuuu`; the time of day is shown. */
  ts: string;
  /** "" for the main logger. */
  name: string;
  /** null for an error line. */
  level: number | null;
  msg: string;
  /** An error line's error text, or null when it has none. */
  error: string | null;
  /** Key/value pairs as the JSON line has them, after JSON's own conversions (a Duration is "10s"). */
  kv: Array<[string, unknown]>;
}

export interface TextStyle {
  /** Colour the time, level, logger name and keys (never messages or values). */
  color: boolean;
  /** Applied to every message, value and error piece before it is laid out (logger.ts scrub). */
  scrub: (s: string) => string;
}

type Paint = (s: string) => string;

interface Palette {
  time: Paint;
  error: Paint;
  info: Paint;
  debug: Paint;
  name: Paint;
  key: Paint;
}

const same: Paint = (s) => s;
const PLAIN: Palette = { time: same, error: same, info: same, debug: same, name: same, key: same };
let colored: Palette | undefined;

function palette(color: boolean): Palette {
  if (!color) return PLAIN;
  // consola's colours, loaded with the first coloured line: consola/utils loads node:tty, which
  // a JSON start does not need. They add nothing under NO_COLOR or TERM=dumb.
  if (!colored) {
    const { colors } = require("consola/utils") as typeof import("consola/utils");
    colored = { time: colors.gray, error: colors.red, info: colors.cyan, debug: colors.gray, name: colors.magenta, key: colors.dim };
  }
  return colored;
}

// failureText's tail: ": { stdout: <Go-quoted>, stderr: <Go-quoted> }".
const QUOTED = String.raw`"(?:[^"\\]|\\.)*"`;
const CAPTURED_SOURCE = String.raw`:? ?\{ stdout: (${QUOTED}), stderr: (${QUOTED}) \}`;
const CAPTURED = new RegExp(CAPTURED_SOURCE, "g");
const HAS_CAPTURED = new RegExp(CAPTURED_SOURCE);

/**
 * A text as lines: its own line breaks, and each `{ stdout: "…", stderr: "…" }` it holds
 * unquoted into a `stdout:`/`stderr:` heading with the captured lines two spaces further in
 * (empty streams left out). Several failures joined by "; " each start a line.
 */
export function unfold(text: string, scrub: (s: string) => string = (s) => s): string[] {
  const lines: string[] = [];
  let at = 0;
  for (const m of text.matchAll(CAPTURED)) {
    const streams = [["stdout", goUnquote(m[1]!)], ["stderr", goUnquote(m[2]!)]] as const;
    if (streams.some(([, s]) => s === null)) continue;
    lines.push(...text.slice(at, m.index).replace(/^; /, "").split("\n"));
    for (const [name, body] of streams) {
      // Scrubbed whole, before the split: a secret may span lines.
      const shown = scrub(body!).replace(/\s+$/, "");
      if (shown !== "") lines.push(`${name}:`, ...shown.split("\n").map((l) => (l === "" ? "" : `  ${l}`)));
    }
    at = m.index + m[0].length;
  }
  const rest = text.slice(at).replace(/^; /, "");
  if (rest !== "" || lines.length === 0) lines.push(...rest.replace(/\s+$/, "").split("\n"));
  return lines;
}

const BARE = /^[^\s"=\\]+$/;

// C0 and C1 controls but the tab, and DEL: what a git host or a hook could print to move the
// cursor, clear the screen, retitle the window or write the clipboard (OSC 52). JSON escapes them;
// so does this, as \u001b, before anything is laid out.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** `s` with every control character but the tab written as a JSON escape (`\u001b`). */
export function visible(s: string): string {
  return s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A value on the message line, logfmt-style: bare when it can be, else JSON-quoted. */
function inline(v: unknown): string {
  if (typeof v === "string") return BARE.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? "null";
}

/** Strings that need lines of their own: several lines, or a command's captured output. */
function needsBlock(v: unknown): v is string {
  return typeof v === "string" && (v.replace(/\s+$/, "").includes("\n") || HAS_CAPTURED.test(v));
}

function indent(lines: string[], by: string): string[] {
  return lines.map((l) => (l === "" ? "" : by + l));
}

function levelLabel(level: number | null, p: Palette): string {
  if (level === null) return p.error("ERROR");
  if (level === 0) return p.info("INFO ");
  return p.debug(`V${level}`.padEnd(5));
}

/**
 * A value under the head line. Text holding a command's failure reads like an error (its first
 * line beside the key, the output below); other text starts on a line of its own.
 */
function block(key: string, text: string, p: Palette, scrub: (s: string) => string, clean: (s: string) => string): string[] {
  // Scrubbed before it is split (a secret may span lines), made visible line by line after.
  const lines = unfold(scrub(text), scrub).map((l) => clean(l.replace(/\r$/, "")));
  const label = `  ${p.key(key + ":")}`;
  if (key !== "error" && !HAS_CAPTURED.test(text)) return [label, ...indent(lines, "    ")];
  const [first = "", ...more] = lines;
  return [`${label} ${first}`.trimEnd(), ...indent(more, "    ")];
}

/** One log entry as text: a head line, then indented lines for the error and multi-line values. */
export function formatText(line: TextLine, style: TextStyle): string {
  const p = palette(style.color);
  // Every piece of the entry passes here, so nothing it holds reaches the terminal raw.
  const clean = (s: string) => visible(style.scrub(s));
  const name = line.name === "" ? "" : `${p.name(`[${clean(line.name)}]`)} `;
  const pairs: string[] = [];
  const blocks: string[] = [];
  for (const [k, v] of line.kv) {
    if (needsBlock(v)) blocks.push(...block(clean(k), v, p, style.scrub, clean));
    else pairs.push(`${p.key(clean(k) + "=")}${clean(inline(v))}`);
  }
  const kv = pairs.length > 0 ? "  " + pairs.join(" ") : "";
  const head = `${p.time(line.ts.slice(11, 23))} ${levelLabel(line.level, p)} ${name}${clean(line.msg)}${kv}`;
  const error = line.error === null ? [] : block("error", line.error, p, style.scrub, clean);
  return [head, ...error, ...blocks].join("\n");
}
