// `npm start`: build the binary, then run it.
//   npm start                 mirror this project's own repository into .demo/ and keep it in sync
//   npm start -- <flags...>   the real CLI, e.g. npm start -- --repo=https://... --root=/tmp/x --one-time
import { existsSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "dist", "git-sync");
const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdio: ["inherit", "inherit", "inherit"], env: process.env });
if (build.exitCode !== 0) process.exit(build.exitCode ?? 1);

let args = process.argv.slice(2);
const demo = args.length === 0;
const link = join(root, ".demo", "git-sync");
if (demo) {
  args = [`--repo=${root}`, `--root=${join(root, ".demo", "root")}`, `--link=${link}`, "--period=5s", "-v=1"];
  console.log(`Mirroring this repository (${root}, its HEAD) into .demo/ every 5s.`);
  console.log(`The synced tree appears at ${link}; commit something and watch it move. Ctrl-C stops.\n`);
}

const child = Bun.spawn([bin, ...args], { stdio: ["inherit", "inherit", "inherit"], env: process.env });
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));

if (demo) {
  let last = "";
  const timer = setInterval(() => {
    if (!existsSync(link)) return;
    const target = readlinkSync(link);
    if (target !== last) {
      last = target;
      console.log(`\n==> ${link} -> ${target} (commit ${basename(target)})\n`);
    }
  }, 500);
  void child.exited.then(() => clearInterval(timer));
}
process.exit(await child.exited);
