// --log-format (issue 21) through the binary: JSON lines wherever stderr is not a terminal (every
// Pod), text for a person at a terminal, either on request. `script` (util-linux) gives the
// binary a real pseudo-terminal; its transcript is what the terminal showed.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { missing } from "../helpers/prereqs.ts";
import { BIN, gitEnv, jsonLines, readOr, scenario, type Scenario } from "../helpers/index.ts";

const TEXT_LINE = /^\d\d:\d\d:\d\d\.\d{3} (INFO |ERROR|V\d   ) /;
const ESC = "\x1b[";

const noTerminal = missing("script");

function quote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** Run the binary on a pseudo-terminal; `out` is what it printed there (stdout and stderr), LF line ends. */
async function onTerminal(t: Scenario, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const cmd = [BIN, ...args].map(quote).join(" ");
  const p = Bun.spawn(["script", "-qfec", cmd, "/dev/null"], { env: gitEnv({ ...t.env, ...env }), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  clearTimeout(timer);
  return { code, out: out.replace(/\r\n/g, "\n") };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

test.concurrent("JSON lines when stderr is not a terminal, by default and with --log-format=json", async () => {
  await using t = await scenario();
  for (const extra of [[], ["--log-format=json"]]) {
    const r = await t.syncOk(...extra);
    expect(lines(r.stderr).filter((l) => !l.startsWith('{"logger":'))).toEqual([]);
    expect(jsonLines(r.stderr).map((l) => l.msg)).toContain("exiting after one sync");
  }
});

test.skipIf(noTerminal).concurrent("text lines on a terminal by default", async () => {
  await using t = await scenario();
  const r = await onTerminal(t, ["--one-time", ...t.args()]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  starting up  version=/m);
  expect(r.out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  exiting after one sync  status=0$/m);
  expect(lines(r.out).filter((l) => l.startsWith("{"))).toEqual([]);
  // No TERM in the test environment: consola's colours stay off.
  expect(r.out).not.toContain(ESC);
});

test.skipIf(noTerminal).concurrent("a container's terminal (a Pod with tty: true) keeps JSON lines by default", async () => {
  await using t = await scenario();
  const r = await onTerminal(t, ["--one-time", ...t.args()], { KUBERNETES_SERVICE_HOST: "10.0.0.1" });
  expect(r.code).toBe(0);
  expect(jsonLines(r.out).map((l) => l.msg)).toEqual(expect.arrayContaining(["starting up", "exiting after one sync"]));
  expect(lines(r.out).filter((l) => TEXT_LINE.test(l))).toEqual([]);
  const text = await onTerminal(t, ["--one-time", "--log-format=text", ...t.args(`--root=${join(t.dir, "root2")}`)], { KUBERNETES_SERVICE_HOST: "10.0.0.1" });
  expect(text.out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  starting up  version=/m);
});

test.skipIf(noTerminal).concurrent("--log-format=json on a terminal prints JSON lines", async () => {
  await using t = await scenario();
  const r = await onTerminal(t, ["--one-time", "--log-format=json", ...t.args()]);
  expect(r.code).toBe(0);
  expect(jsonLines(r.out).map((l) => l.msg)).toEqual(expect.arrayContaining(["starting up", "exiting after one sync"]));
  expect(lines(r.out).filter((l) => TEXT_LINE.test(l))).toEqual([]);
});

test.skipIf(noTerminal).concurrent("colour on a terminal with TERM set, none under NO_COLOR", async () => {
  await using t = await scenario();
  const colored = await onTerminal(t, ["--one-time", ...t.args()], { TERM: "xterm" });
  expect(colored.code).toBe(0);
  expect(colored.out).toContain(ESC);
  const plain = await onTerminal(t, ["--one-time", ...t.args()], { TERM: "xterm", NO_COLOR: "1" });
  expect(plain.code).toBe(0);
  expect(plain.out).not.toContain(ESC);
  expect(plain.out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  starting up  /m);
});

test.concurrent("--log-format=text shows a failing git's stderr as indented lines; the error file stays JSON", async () => {
  await using t = await scenario();
  const missing = join(t.dir, "missing");
  const r = await t.run(["--one-time", `--repo=${missing}`, `--root=${t.root}`, "--log-format=text", "--error-file=error.json"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR too many failures, aborting  failCount=1 maxFailures=0$/m);
  expect(r.stderr).toContain(
    [
      "    stderr:",
      `      fatal: '${missing}' does not appear to be a git repository`,
      "      fatal: Could not read from remote repository.",
      "",
      "      Please make sure you have the correct access rights",
      "      and the repository exists.",
    ].join("\n"),
  );
  expect(r.stderr).not.toContain("\\n");
  expect(r.stderr).not.toContain(ESC);
  expect(lines(r.stderr).filter((l) => l.startsWith("{"))).toEqual([]);

  const errorFile = JSON.parse(readOr(join(t.root, "error.json")) ?? "null") as Record<string, unknown>;
  expect(Object.keys(errorFile)).toEqual(["Msg", "Err", "Args"]);
  expect(errorFile.Msg).toBe("too many failures, aborting");
  expect(errorFile.Err).toContain(`stderr: "fatal: '${missing}' does not appear to be a git repository\\nfatal: Could not read`);
});

test.concurrent("--log-format=text: a hook's terminal escapes (retitle, clear screen) are shown escaped, never sent raw", async () => {
  await using t = await scenario();
  const hook = join(t.dir, "hook.sh");
  writeFileSync(hook, "#!/bin/sh\nprintf 'out \\033]0;pwned\\007\\033[2J\\n'\nprintf 'err \\033]52;c;Y2xpcA==\\007\\n' >&2\nexit 1\n", { mode: 0o755 });
  const r = await t.run(["--one-time", ...t.args(`--exechook-command=${hook}`, "--log-format=text")]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("err \\u001b]52;c;Y2xpcA==\\u0007");
  expect(r.stderr).toContain("out \\u001b]0;pwned\\u0007\\u001b[2J");
  expect(r.stderr).not.toContain("\u001b");
  expect(r.stderr).not.toContain("\u0007");
});

test.concurrent("GITSYNC_LOG_FORMAT=text picks text, and -v applies as in JSON", async () => {
  await using t = await scenario();
  const text = await t.run(["--one-time", ...t.args("-v=5")], { env: { GITSYNC_LOG_FORMAT: "text" } });
  const json = await t.run(["--one-time", ...t.args("-v=5", `--root=${join(t.dir, "root2")}`)]);
  expect(text.code).toBe(0);
  expect(json.code).toBe(0);
  // The same lines by level and message, whatever the format.
  const fromText = new Set(
    lines(text.stderr)
      .filter((l) => TEXT_LINE.test(l))
      .map((l) => l.slice(13).replace(/^(\S+)\s+(.*?)(?: {2}.*)?$/, "$1 $2").replace(/^INFO /, "V0 ")),
  );
  const fromJSON = new Set(jsonLines(json.stderr).map((l) => `${"level" in l ? `V${String(l.level)}` : "ERROR"} ${String(l.msg)}`));
  expect(fromText).toEqual(fromJSON);
  expect(fromText.has("V5 running command")).toBe(true);
  expect([...fromText].some((l) => /^V[6-9]/.test(l))).toBe(false);
});

test.concurrent.each([
  [["--log-format=yaml"], {}],
  [["--log-format="], {}],
  [[], { GITSYNC_LOG_FORMAT: "JSON" }],
  [[], { GITSYNC_LOG_FORMAT: "" }],
])("reject log format %j %j with exit 1 and its message", async (extra, env) => {
  await using t = await scenario();
  const r = await t.run(["--one-time", ...t.args(...extra)], { env });
  expect(r.code).toBe(1);
  expect(r.stderr.split("\n")[0]).toBe('invalid flag: --log-format must be one of "json" or "text"');
});
