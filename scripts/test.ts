// `npm test`: lint, typecheck, build the binary, then every test (unit tables and black-box).
// Extra arguments are passed to `bun test` (e.g. `npm test -- test/config`).
// Ends with a plain "N passed, N failed" line, which CI systems read without knowing bun.
const run = (argv: string[]) => {
  console.log(`$ ${argv.join(" ")}`);
  const p = Bun.spawnSync(argv, { stdio: ["inherit", "inherit", "inherit"], env: process.env });
  if (p.exitCode !== 0) process.exit(p.exitCode ?? 1);
};
const extra = process.argv.slice(2);
const bin = (name: string) => `${import.meta.dir}/../node_modules/.bin/${name}`;
run([bin("oxlint"), "src", "scripts", "test", "bench"]);
run([bin("tsc"), "--noEmit", "-p", "."]);
run([process.execPath, `${import.meta.dir}/build.ts`]);

// bun 1.4 ignores a bunfig [test] timeout and a setDefaultTimeout() in a shared helper only
// reaches some files under --parallel; the command line reaches every test.
const argv = [process.execPath, "test", "--parallel=2", "--timeout=60000", ...extra];
console.log(`$ ${argv.join(" ")}`);
const tests = Bun.spawn(argv, { stdio: ["inherit", "pipe", "pipe"], env: process.env });
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
console.log(`\n${counts.pass} passed, ${counts.fail} failed${counts.skip ? `, ${counts.skip} skipped` : ""}`);
process.exit(code);
