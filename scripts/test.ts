// `npm test`: lint, typecheck, build the binary, then every test (unit tables and black-box).
//   --tests-only        skip lint, typecheck and build (dist/git-sync must exist for the black-box tests)
//   other arguments     passed to `bun test` (e.g. `npm test -- test/config`)
// Tests that need a tool this machine lacks (sshd, gpg, podman, ...; test/helpers/prereqs.ts has
// the list) are skipped, and one line at the end names what was missing and how to get it. As
// root with apt-get it installs the missing Debian packages first; GIT_SYNC_TEST_INSTALL=0 turns
// that off. Under GIT_SYNC_REQUIRE_TOOLS=1 / GIT_SYNC_REQUIRE_IMAGE=1 (.ci/run) a gap fails instead.
// Ends with a plain "N passed, N failed" line, which CI systems read without knowing bun.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TOOLS, missingTools, which } from "../test/helpers/prereqs.ts";

const run = (argv: string[]) => {
  console.log(`$ ${argv.join(" ")}`);
  const p = Bun.spawnSync(argv, { stdio: ["inherit", "inherit", "inherit"], env: process.env });
  if (p.exitCode !== 0) process.exit(p.exitCode ?? 1);
};
const testsOnly = process.argv.includes("--tests-only");
const extra = process.argv.slice(2).filter((a) => a !== "--tests-only");
const bin = (name: string) => `${import.meta.dir}/../node_modules/.bin/${name}`;

// A non-root Debian shell has no sbin directories on PATH, yet sshd is /usr/sbin/sshd. Add each
// next to its bin directory, so a PATH stripped on purpose (no /usr/bin either) stays stripped.
const path = (process.env.PATH ?? "").split(":");
for (const dir of ["/usr/local/bin", "/usr/bin", "/bin"]) {
  const sbin = dir.replace(/bin$/, "sbin");
  if (path.includes(dir) && !path.includes(sbin)) path.splice(path.indexOf(dir) + 1, 0, sbin);
}
process.env.PATH = path.join(":");

installTools();
if (!which("git")) {
  console.error("git is required to run the tests (apt-get install git)");
  process.exit(1);
}

if (!testsOnly) {
  run([bin("oxlint"), "src", "scripts", "test", "bench"]);
  run([bin("tsc"), "--noEmit", "-p", "."]);
  run([process.execPath, `${import.meta.dir}/build.ts`]);
}

// Each test process notes its skips in one file; bun's JUnit report says how many tests each
// test file skipped.
const scratch = mkdtempSync(join(tmpdir(), "gs-npm-test-"));
const skipNotes = join(scratch, "skips");
const junit = join(scratch, "junit.xml");
process.env.GIT_SYNC_TEST_SKIPS = skipNotes;
const report = extra.some((a) => a.startsWith("--reporter")) ? [] : ["--reporter=junit", `--reporter-outfile=${junit}`];

// bun 1.4 ignores a bunfig [test] timeout and a setDefaultTimeout() in a shared helper only
// reaches some files under --parallel; the command line reaches every test.
const argv = [process.execPath, "test", "--parallel=2", "--timeout=60000", ...extra];
console.log(`$ ${argv.join(" ")}`);
const tests = Bun.spawn([...argv, ...report], { stdio: ["inherit", "pipe", "pipe"], env: process.env });
const counts = { pass: 0, fail: 0, skip: 0 };
async function relay(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream) {
  const dec = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    out.write(chunk);
    pending += dec.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^\s*(\d+) (pass|fail|skip)$/.exec(line);
      if (m) counts[m[2] as keyof typeof counts] = Number(m[1]);
    }
  }
}
await Promise.all([relay(tests.stdout, process.stdout), relay(tests.stderr, process.stderr)]);
const code = await tests.exited;
console.log("");
const skipped = skipSummary();
if (skipped) console.log(skipped);
rmSync(scratch, { recursive: true, force: true });
console.log(`${counts.pass} passed, ${counts.fail} failed${counts.skip ? `, ${counts.skip} skipped` : ""}`);
process.exit(code);

/** As root with apt-get, install the Debian packages of the missing tools; say so in one line. */
function installTools(): void {
  if (process.env.GIT_SYNC_TEST_INSTALL === "0" || process.getuid?.() !== 0 || !which("apt-get")) return;
  const packages = new Set<string>(which("git") ? [] : ["git"]);
  for (const name of missingTools()) {
    const t = TOOLS[name];
    if ("apt" in t) packages.add(t.apt);
  }
  if (packages.size === 0) return;
  const list = [...packages].sort();
  // Debian's packages start their services where an init runs them (openssh-server's sshd on a
  // systemd host): say so rather than do it quietly. The tests start sshd of their own.
  const service = list.includes("openssh-server") ? "; where systemd runs, openssh-server also starts its sshd service" : "";
  console.log(`installing test tools: ${list.join(" ")} (apt-get${service})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args: string[]) => Bun.spawnSync(["apt-get", ...args], { env, stdout: "ignore", stderr: "pipe" });
  // A fresh machine has no package lists yet; an install that fails only costs the skips.
  let p = apt(["install", "-y", "-qq", "--no-install-recommends", ...list]);
  if (p.exitCode !== 0) {
    apt(["update", "-qq"]);
    p = apt(["install", "-y", "-qq", "--no-install-recommends", ...list]);
  }
  if (p.exitCode !== 0) console.log(`apt-get install failed; the tests that need them will skip:\n${p.stderr.toString().trim()}`);
}

/** "skipped 7 tests: sshd missing (apt-get install openssh-server), ..." from the notes and the report. */
function skipSummary(): string {
  if (counts.skip === 0) return "";
  const reasonsByFile = new Map<string, Set<string>>();
  const notes = existsSync(skipNotes) ? readFileSync(skipNotes, "utf8") : "";
  for (const line of notes.split("\n").filter(Boolean)) {
    const [file = "", reason = ""] = line.split("\t");
    const abs = resolve(import.meta.dir, "..", file);
    if (!reasonsByFile.has(abs)) reasonsByFile.set(abs, new Set());
    reasonsByFile.get(abs)!.add(reason);
  }
  // Skipped tests per file, from the JUnit report (a <testcase ... file="..."> with <skipped />).
  const skippedIn = new Map<string, number>();
  const xml = existsSync(junit) ? readFileSync(junit, "utf8") : "";
  for (const m of xml.matchAll(/<testcase [^>]*\bfile="([^"]*)"[^>]*>\s*<skipped/g)) {
    const abs = resolve(m[1]!);
    skippedIn.set(abs, (skippedIn.get(abs) ?? 0) + 1);
  }
  let explained = 0;
  const reasons = new Set<string>();
  for (const [file, rs] of reasonsByFile) {
    explained += skippedIn.get(file) ?? 0;
    for (const r of rs) reasons.add(r);
  }
  const others = counts.skip - explained;
  const parts = [...reasons];
  if (others > 0) parts.push(`${others} by the tests themselves`);
  return `skipped ${counts.skip} test${counts.skip === 1 ? "" : "s"}: ${parts.join(", ")}`;
}
