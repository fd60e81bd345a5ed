// The one logger (behaviour.md 8). Lines are JSON objects on stderr in git-sync's key order:
//   info:  {"logger","ts","caller","level","msg",...kv}
//   error: {"logger","ts","caller","msg","error",...kv}      (no "level" key)
// or, with --log-format=text (the default when stderr is a terminal), the same fields laid out
// for people (text.ts). consola carries the lines to a reporter of ours; its throttling is off
// because it collapses repeated lines, which would hide a loop that fails the same way every period.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { mkdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { goQuote } from "../lib/go.ts";
import { refuseSymlinkOnPath, symlinkOnPath, writeExclusive } from "../lib/no-follow.ts";
import { writeStderr } from "../lib/stdio.ts";
import { redactURLsInText, scrubSecrets } from "./redact.ts";
import { formatText } from "./text.ts";

export type KV = Record<string, unknown>;

export interface Logger {
  /** Log `msg` at verbosity `level` (printed iff level <= -v). */
  v(level: number, msg: string, kv?: KV): void;
  /** V0 shorthand. */
  info(msg: string, kv?: KV): void;
  /** Error lines are always printed; the main logger also writes them to the error file. */
  error(err: unknown, msg: string, kv?: KV): void;
  enabled(level: number): boolean;
  /** A logger with another name (hook runners); it never writes the error file. */
  named(name: string): Logger;
}

export type LogFormat = "json" | "text";

export interface LogSink {
  verbosity: number;
  /** Absolute path, or "" for none. The error file is JSON whatever the format. */
  errorFile: string;
  /** Default "json". */
  format?: LogFormat;
  /** Text format only: colour the time, level, logger name and keys. */
  color?: boolean;
  write(line: string): void;
}

/**
 * --log-format: what the user asked for, or ("auto") text for a person at a terminal and JSON
 * for everything else. Every Pod's stderr is a pipe or a file, so it keeps upstream's JSON lines.
 */
export function chooseLogFormat(asked: LogFormat | "auto", personsTerminal: boolean): LogFormat {
  if (asked !== "auto") return asked;
  return personsTerminal ? "text" : "json";
}

/** Colour only text on a terminal, and never under NO_COLOR (https://no-color.org). */
export function chooseColor(format: LogFormat, stderrIsTerminal: boolean, env: Record<string, string | undefined>): boolean {
  return format === "text" && stderrIsTerminal && !env.NO_COLOR;
}

const secrets = new Set<string>();

/**
 * Secrets are scrubbed from every line and from the error file, whatever code logged them. A
 * secret can also reach a text escaped: git's output is Go-quoted inside an error's text, and a
 * JSON line escapes again. So the escaped spellings of a secret that has `"`, `\` or a control
 * character are registered too, or the scrubber would miss it exactly where it is printed.
 */
export function registerSecret(s: string): void {
  if (s.length < 4) return;
  const quoted = goQuote(s).slice(1, -1);
  for (const form of [s, quoted, jsonInner(s), jsonInner(quoted)]) secrets.add(form);
}

const jsonInner = (s: string): string => JSON.stringify(s).slice(1, -1);

/**
 * What every text git-sync shows goes through (log lines, the error file, /status): URLs lose
 * their user info and query (redact.ts), and every registered secret is replaced.
 */
export function scrub(s: string): string {
  const out = redactURLsInText(s);
  return secrets.size === 0 ? out : scrubSecrets(out, secrets);
}

/** scrub applied to every string in a log value (keys too: a git config key can hold a URL). */
function scrubValue(v: unknown): unknown {
  if (typeof v === "string") return scrub(v);
  if (Array.isArray(v)) return v.map(scrubValue);
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrub(k), scrubValue(x)]));
  }
  return v;
}

export function errorText(err: unknown): string {
  if (err === null || err === undefined) return "";
  if (err instanceof Error) return err.message;
  return String(err);
}

const UTC_NAMES = /^:?(?:(?:Etc\/)?(?:UTC|UCT|GMT|Zulu|Universal)|UTC0|GMT0)?$/;

/**
 * Whether local time is UTC, decided without asking the Date API: the first local-time
 * conversion loads ICU's time zone data, ~4 ms of every start. TZ unset means /etc/localtime,
 * and no /etc/localtime (distroless) means UTC, as in glibc.
 */
function localTimeIsUTC(): boolean {
  const tz = process.env.TZ;
  if (tz !== undefined) return UTC_NAMES.test(tz);
  try {
    return UTC_NAMES.test(readlinkSync("/etc/localtime").replace(/^.*zoneinfo\//, ""));
  } catch (e) {
    // Missing: UTC. A plain file (not a link): we can't tell, so let Date work it out.
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

let utc: boolean | undefined;

function timestamp(): string {
  const d = new Date();
  utc ??= localTimeIsUTC();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const micros = d.getMilliseconds() * 1000 + (Math.floor(performance.now() * 1000) % 1000);
  const [y, mo, day, h, mi, sec] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${p(mo + 1)}-${p(day)} ${p(h)}:${p(mi)}:${p(sec)}.${p(micros, 6)}`;
}

// Best effort, as behaviour.md 8.1 allows: the first stack frame outside this file.
function caller(): { file: string; line: number } {
  const stack = new Error().stack?.split("\n") ?? [];
  for (const frame of stack.slice(1)) {
    const m = /([^/\\( ]+\.ts|[^/\\( ]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (m && !m[1]!.startsWith("logger.ts") && !frame.includes("consola")) {
      return { file: m[1]!, line: Number(m[2]) };
    }
  }
  return { file: "main.ts", line: 0 };
}

function jsonValue(v: unknown): unknown {
  if (v instanceof Error) return scrub(v.message);
  if (v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  return scrubValue(v);
}

function appendKV(obj: Record<string, unknown>, kv: KV | undefined): void {
  if (!kv) return;
  for (const [k, v] of Object.entries(kv)) {
    if (!(k in obj)) obj[k] = jsonValue(v);
  }
}

/**
 * Written atomically: tmp file beside the target, rename over it (behaviour.md 4.8). Never through
 * a symlink placed in root or a link (lib/no-follow.ts): the temp file is created with O_EXCL and
 * 0644 before the rename, which replaces a symlink at the name itself instead of following it.
 */
export function writeErrorFile(path: string, content: string): void {
  const dir = dirname(path);
  refuseSymlinkOnPath(dir, "error-file");
  try {
    mkdirSync(dir, { mode: 0o775 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const tmp = join(dir, `tmp-err-${process.pid}-${Math.random().toString(36).slice(2)}`);
  // Values are scrubbed before they are encoded; this pass catches what a caller wrote raw.
  writeExclusive(tmp, scrub(content), { mode: 0o644, exact: true });
  renameSync(tmp, path);
}

export function deleteErrorFile(path: string): void {
  // Through a symlink on its directory this would delete a file outside root and the links.
  if (path && symlinkOnPath(dirname(path)) === "") rmSync(path, { force: true });
}

function errorFileContent(msg: string, err: unknown, kv: KV | undefined): string {
  const args: Record<string, unknown> = {};
  for (const k of Object.keys(kv ?? {}).sort()) args[k] = jsonValue(kv![k]);
  return JSON.stringify({ Msg: scrub(msg), Err: scrub(errorText(err)), Args: args });
}

interface Entry {
  name: string;
  level: number | null;
  msg: string;
  err?: unknown;
  kv?: KV;
  errorFile: boolean;
}

/** The JSON line: upstream's contract, byte for byte. */
function render(e: Entry): string {
  const obj: Record<string, unknown> = { logger: e.name, ts: timestamp(), caller: caller() };
  if (e.level !== null) obj.level = e.level;
  obj.msg = scrub(e.msg);
  if (e.level === null) obj.error = e.err === undefined || e.err === null ? null : scrub(errorText(e.err));
  appendKV(obj, e.kv);
  return scrub(JSON.stringify(obj));
}

/** The same fields for people; keys the JSON line would drop (its own) are dropped here too. */
function renderText(e: Entry, color: boolean): string {
  const own = e.level === null ? ["logger", "ts", "caller", "msg", "error"] : ["logger", "ts", "caller", "level", "msg"];
  const kv = Object.entries(e.kv ?? {})
    .filter(([k]) => !own.includes(k))
    // Through JSON, so a value reads as in the JSON line (a Duration as "10s").
    .map(([k, v]): [string, unknown] => [k, JSON.parse(JSON.stringify(jsonValue(v)) ?? "null")]);
  const error = e.level === null && e.err !== null && e.err !== undefined ? errorText(e.err) : null;
  return formatText({ ts: timestamp(), name: e.name, level: e.level, msg: e.msg, error, kv }, { color, scrub });
}

class SinkLogger implements Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly consola: ConsolaInstance,
    private readonly name: string,
  ) {}

  enabled(level: number): boolean {
    return level <= this.sink.verbosity;
  }

  v(level: number, msg: string, kv?: KV): void {
    if (!this.enabled(level)) return;
    this.consola.log({ entry: { name: this.name, level, msg, kv, errorFile: false } as Entry });
  }

  info(msg: string, kv?: KV): void {
    this.v(0, msg, kv);
  }

  error(err: unknown, msg: string, kv?: KV): void {
    const errorFile = this.name === "" && this.sink.errorFile !== "";
    this.consola.error({ entry: { name: this.name, level: null, msg, err, kv, errorFile } as Entry });
  }

  named(name: string): Logger {
    return new SinkLogger(this.sink, this.consola, name);
  }
}

export function createLogger(sink: LogSink): Logger {
  // The format is read per line: the process logger exists before the flags are known.
  const line = (e: Entry) => (sink.format === "text" ? renderText(e, sink.color === true) : render(e)) + "\n";
  const instance = createConsola({
    level: 999,
    throttle: 0,
    reporters: [
      {
        log(obj: LogObject) {
          const entry = (obj.args[0] as { entry?: Entry } | undefined)?.entry;
          if (!entry) return;
          sink.write(line(entry));
          if (entry.errorFile) {
            try {
              writeErrorFile(sink.errorFile, errorFileContent(entry.msg, entry.err, entry.kv));
            } catch (e) {
              sink.write(line({ name: "", level: null, msg: "can't write error file", err: e, kv: { path: sink.errorFile }, errorFile: false }));
            }
          }
        },
      },
    ],
  });
  return new SinkLogger(sink, instance, "");
}

/** The process logger: stderr, verbosity and error file settable once config is known. */
export const stderrSink: LogSink = {
  verbosity: 0,
  errorFile: "",
  format: "json",
  color: false,
  write(line: string) {
    writeStderr(line);
  },
};

export const log: Logger = createLogger(stderrSink);

