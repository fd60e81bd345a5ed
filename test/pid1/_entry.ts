// A stand-in for src/main.ts in the PID-1 tests: the init handler first, then whatever
// PID1_TEST_MODE asks the child to do. Compiled with Bun.build({ compile }) by the tests.
//   exit:N        exit with code N
//   orphans:N     start `sh -c 'sleep 0.05 &'` N times, one after another (each leaves an
//                 orphaned sleep behind), print "done N", then wait to be killed
//   orphans:FILE  the same until FILE exists, printing "started N" after every tenth
//   signal        print "ready", then exit 10+signo on the first SIGTERM/SIGHUP/SIGUSR1
//   selfkill:SIG  kill itself with SIG
// PID1_TEST_NO_INIT=1 skips the init handler (to prove the zombie test can see zombies).
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { maybeRunAsInit } from "../../src/pid1/index.ts";

if (process.env.PID1_TEST_NO_INIT !== "1") {
  const init = maybeRunAsInit();
  if (init) await init;
}

const [mode = "", arg = ""] = (process.env.PID1_TEST_MODE ?? "").split(":");
if (mode === "exit") process.exit(Number(arg));
if (mode === "selfkill") process.kill(process.pid, arg as NodeJS.Signals);
if (mode === "signal") {
  for (const sig of ["SIGTERM", "SIGHUP", "SIGUSR1"] as const) {
    process.on(sig, () => process.exit(10 + constants.signals[sig]));
  }
  process.stdout.write(`ready ${process.pid}\n`);
  setInterval(() => {}, 1000);
}
if (mode === "orphans") {
  // A count or a stop file, never a time: how many fit in a second depends on the machine.
  const stopFile = /^\d+$/.test(arg) ? "" : arg;
  const count = stopFile ? Infinity : Number(arg);
  let n = 0;
  while (n < count && !(stopFile && existsSync(stopFile))) {
    const p = Bun.spawn(["sh", "-c", "sleep 0.05 &"], { stdio: ["ignore", "ignore", "ignore"] });
    await p.exited;
    n++;
    if (stopFile && n % 10 === 0) process.stdout.write(`started ${n}\n`);
  }
  process.stdout.write(`done ${n}\n`);
  setInterval(() => {}, 1000);
}
