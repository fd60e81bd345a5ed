// `npm test`: lint, typecheck, build the binary, then every test (unit tables and black-box).
// Extra arguments are passed to `bun test` (e.g. `npm test -- test/config`).
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
run([process.execPath, "test", "--parallel=2", ...extra]);
