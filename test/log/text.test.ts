// --log-format (issue 21): which format and colour a start picks, and the text layout of the
// same fields the JSON line has. The compiled binary's side is test/e2e/logs-text.test.ts.
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failureText } from "../../src/lib/exec.ts";
import { Duration } from "../../src/lib/go.ts";
import { chooseColor, chooseLogFormat, createLogger, registerSecret, type LogFormat } from "../../src/log/logger.ts";
import { unfold } from "../../src/log/text.ts";

describe("chooseLogFormat", () => {
  it.each<[LogFormat | "auto", boolean, LogFormat]>([
    ["auto", true, "text"],
    ["auto", false, "json"],
    ["json", true, "json"],
    ["json", false, "json"],
    ["text", true, "text"],
    ["text", false, "text"],
  ])("asked %p, stderr a person's terminal %p -> %p", (asked, terminal, want) => {
    expect(chooseLogFormat(asked, terminal)).toBe(want);
  });
});

describe("chooseColor", () => {
  it.each<[LogFormat, boolean, Record<string, string>, boolean]>([
    ["text", true, {}, true],
    ["text", true, { NO_COLOR: "1" }, false],
    ["text", true, { NO_COLOR: "" }, true],
    ["text", false, {}, false],
    ["json", true, {}, false],
  ])("%p, terminal %p, env %j -> %p", (format, terminal, env, want) => {
    expect(chooseColor(format, terminal, env)).toBe(want);
  });
});

const GIT_STDERR = "fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
const FAILED = failureText("git fetch file:///x HEAD", { code: 128, stdout: "", stderr: GIT_STDERR, timedOut: false, signal: null, ms: 5 });

describe("unfold", () => {
  it.each<[string, string, string[]]>([
    ["one line", "can't lock root", ["can't lock root"]],
    ["own line breaks", "a\nb", ["a", "b"]],
    [
      "a command's failure",
      FAILED,
      [
        "Run(git fetch file:///x HEAD): exit status 128",
        "stderr:",
        "  fatal: '/x' does not appear to be a git repository",
        "  fatal: Could not read from remote repository.",
        "",
        "  Please make sure you have the correct access rights",
        "  and the repository exists.",
      ],
    ],
    ["a timeout with no output", 'Run(git fetch): context deadline exceeded: { stdout: "", stderr: "" }', ["Run(git fetch): context deadline exceeded"]],
    ["stdout and stderr", 'Run(hook): exit status 1: { stdout: "out", stderr: "err" }', ["Run(hook): exit status 1", "stdout:", "  out", "stderr:", "  err"]],
    [
      "failures joined by --also-link",
      '2 of 2 refs failed: --link (main): Run(a): exit status 1: { stdout: "", stderr: "x" }; dev (dev): Run(b): exit status 1: { stdout: "", stderr: "y" }',
      ["2 of 2 refs failed: --link (main): Run(a): exit status 1", "stderr:", "  x", "dev (dev): Run(b): exit status 1", "stderr:", "  y"],
    ],
    ["a malformed quote stays as it is", 'Run(a): { stdout: "\\q", stderr: "" }', ['Run(a): { stdout: "\\q", stderr: "" }']],
  ])("%s", (_name, text, want) => {
    expect(unfold(text)).toEqual(want);
  });
});

const TEXT_HEAD = /^\d\d:\d\d:\d\d\.\d{3} /;

function textLogger(format: LogFormat, verbosity = 0, errorFile = "") {
  const out: string[] = [];
  const log = createLogger({ verbosity, errorFile, format, color: false, write: (l) => void out.push(l) });
  return { log, out };
}

describe("text lines", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("an info line: time, level, message, then key=value pairs", () => {
    const { log, out } = textLogger("text");
    log.info("update required", { ref: "HEAD", local: "", remote: "abc123", wait: new Duration(10_000), n: 3, ok: true, list: ["a", "b"], none: undefined });
    expect(out).toHaveLength(1);
    const line = out[0]!;
    expect(line).toMatch(TEXT_HEAD);
    expect(line.slice(13)).toBe('INFO  update required  ref=HEAD local="" remote=abc123 wait=10s n=3 ok=true list=["a","b"] none=null\n');
  });

  it("a hook runner's line names its logger", () => {
    const { log, out } = textLogger("text");
    log.named("exechook").info("running exechook", { hash: "abc" });
    expect(out[0]!.slice(13)).toBe("INFO  [exechook] running exechook  hash=abc\n");
  });

  it("values with spaces or quotes are quoted, keys the JSON line owns are dropped", () => {
    const { log, out } = textLogger("text");
    log.info("git version", { version: "git version 2.39.5", msg: "dropped", level: 7, q: 'a"b' });
    expect(out[0]!.slice(13)).toBe('INFO  git version  version="git version 2.39.5" q="a\\"b"\n');
  });

  it("the -v scale applies as in JSON: V-levels above it print nothing", () => {
    const { log, out } = textLogger("text", 2);
    log.v(2, "fetching", { ref: "HEAD" });
    log.v(3, "syncing");
    expect(out.map((l) => l.slice(13))).toEqual(["V2    fetching  ref=HEAD\n"]);
  });

  it("multi-line values are indented lines under the message", () => {
    const { log, out } = textLogger("text", 6);
    log.v(6, "command result", { stdout: "line 1\nline 2\n", stderr: "", time: new Duration(3) });
    expect(out[0]!.slice(13)).toBe('V6    command result  stderr="" time=3ms\n  stdout:\n    line 1\n    line 2\n');
  });

  it("an error line unfolds git's stderr instead of escaping it", () => {
    const { log, out } = textLogger("text");
    log.error(new Error(FAILED), "too many failures, aborting", { failCount: 1 });
    expect(out[0]!.slice(13)).toBe(
      [
        "ERROR too many failures, aborting  failCount=1",
        "  error: Run(git fetch file:///x HEAD): exit status 128",
        "    stderr:",
        "      fatal: '/x' does not appear to be a git repository",
        "      fatal: Could not read from remote repository.",
        "",
        "      Please make sure you have the correct access rights",
        "      and the repository exists.",
        "",
      ].join("\n"),
    );
  });

  it("an error line without an error has no error lines", () => {
    const { log, out } = textLogger("text");
    log.error(null, "repo contains lock file", { path: "/git/.git/shallow.lock" });
    expect(out[0]!.slice(13)).toBe("ERROR repo contains lock file  path=/git/.git/shallow.lock\n");
  });

  it("secrets and URL user info are scrubbed from unfolded output too", () => {
    const secret = 'pw"with-quote-7Qz';
    registerSecret(secret);
    const { log, out } = textLogger("text");
    const err = failureText("git fetch https://u:tok@h/r", { code: 128, stdout: "", stderr: `fatal: https://u:tok@h/r said ${secret}\n`, timedOut: false, signal: null, ms: 1 });
    log.error(new Error(err), "error syncing repo, will retry");
    expect(out[0]).not.toContain("tok@");
    expect(out[0]).not.toContain("with-quote");
    expect(out[0]).toContain("      fatal: https://REDACTED@h/r said REDACTED\n");
  });

  it("a secret with a quote, a backslash or a control character is scrubbed from JSON lines and the error file too", () => {
    const dir = mkdtempSync(join(tmpdir(), "gs-log-"));
    dirs.push(dir);
    const errorFile = join(dir, "error.json");
    for (const secret of ['pw"quote-8Kd', "pw\\slash-3Jx", "pw\ttab-5Lm"]) {
      registerSecret(secret);
      const { log, out } = textLogger("json", 0, errorFile);
      const err = failureText("git fetch", { code: 128, stdout: "", stderr: `fatal: said ${secret}\n`, timedOut: false, signal: null, ms: 1 });
      log.error(new Error(err), "error syncing repo, will retry");
      const canary = secret.slice(3);
      for (const text of [out[0]!, readFileSync(errorFile, "utf8")]) {
        expect(text).toContain("REDACTED");
        expect(text).not.toContain(canary.slice(1, 6));
        expect(JSON.stringify(JSON.parse(text))).not.toContain(canary.slice(1, 6));
      }
    }
  });

  it("a multi-line secret is scrubbed from unfolded output, where it spans lines", () => {
    const secret = "line-one-4Tq\nline-two-9Wp";
    registerSecret(secret);
    const { log, out } = textLogger("text");
    const err = failureText("git fetch", { code: 128, stdout: "", stderr: `fatal: key ${secret} refused\n`, timedOut: false, signal: null, ms: 1 });
    log.error(new Error(err), "error syncing repo, will retry");
    log.error(new Error(`plain ${secret} text`), "another");
    log.info("a value", { v: `x ${secret} y` });
    expect(out.join("\n")).not.toMatch(/one-4Tq|two-9Wp/);
    expect(out.join("\n")).toContain("REDACTED");
  });

  it("control characters from a host or a hook reach the terminal escaped, never raw", () => {
    const { log, out } = textLogger("text");
    const evil = "\u001b]0;pwned\u0007\u001b[2J\u009b31m\r";
    const err = failureText("hook", { code: 1, stdout: `out ${evil}\n`, stderr: `err ${evil}\r\n`, timedOut: false, signal: null, ms: 1 });
    log.error(new Error(err), `msg ${evil}`, { k: evil, multi: `a\n${evil}\nb` });
    log.info(evil, { [evil]: 1 });
    const text = out.join("\n");
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain("\\u001b]0;pwned\\u0007");
    expect(text).toContain("      err \\u001b]0;pwned");
  });

  it("the error file stays JSON in text mode", () => {
    const dir = mkdtempSync(join(tmpdir(), "gs-log-"));
    dirs.push(dir);
    const errorFile = join(dir, "error.json");
    const { log, out } = textLogger("text", 0, errorFile);
    log.error(new Error(FAILED), "too many failures, aborting", { failCount: 1 });
    expect(out[0]).toMatch(TEXT_HEAD);
    expect(JSON.parse(readFileSync(errorFile, "utf8"))).toEqual({ Msg: "too many failures, aborting", Err: FAILED, Args: { failCount: 1 } });
  });

  it("format json is the JSON line", () => {
    const { log, out } = textLogger("json");
    log.info("update required", { ref: "HEAD" });
    const obj = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(["logger", "ts", "caller", "level", "msg", "ref"]);
  });
});
