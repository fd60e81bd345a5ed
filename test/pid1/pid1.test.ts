// The PID-1 init (behaviour.md 9), proven in a real PID namespace: `unshare --pid --fork --mount-proc`
// makes our compiled test entry PID 1, exactly as in a container. Needs root (or user namespaces).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childArgv } from "../../src/pid1/index.ts";
import { cleanup, tmpDir, waitFor } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";

let dir = "";
let entry = "";

const skip = missing("pid-namespace");

// The entry is also run outside a namespace (below), so it is built either way.
beforeAll(async () => {
  dir = tmpDir("gs-pid1-");
  entry = join(dir, "entry");
  const r = await Bun.build({
    entrypoints: [join(import.meta.dir, "_entry.ts")],
    compile: { outfile: entry, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`can't compile the test entry: ${r.logs.join("\n")}`);
});

afterAll(() => cleanup(dir));

function env(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", PID1_TEST_MODE: mode, ...extra };
}

/** Run the entry as PID 1 of a fresh namespace; returns exit code, stdout and stderr. */
async function runAsInit(mode: string, timeoutMs = 10_000) {
  const proc = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", entry, "--flag", "x"], { env: env(mode), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
}

function processTable(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const state = /^State:\s+(\S)/m.exec(status)?.[1] ?? "?";
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
      out.push({ pid: Number(name), ppid, state });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Every process below `root` (host pids), from /proc/<pid>/status. */
function descendants(root: number): ProcInfo[] {
  const table = processTable();
  const found: ProcInfo[] = [];
  let frontier = new Set([root]);
  while (frontier.size > 0) {
    const next = new Set<number>();
    for (const p of table) {
      if (frontier.has(p.ppid)) {
        found.push(p);
        next.add(p.pid);
      }
    }
    frontier = next;
  }
  return found;
}

const zombies = (root: number) => descendants(root).filter((p) => p.state === "Z").length;
/** Zombies waiting for PID 1 itself: the orphans only an init collects. */
const orphanZombies = (init: number) => processTable().filter((p) => p.ppid === init && p.state === "Z").length;

/** A long-running entry under unshare, with stdout collected as it arrives. */
class Namespace {
  readonly proc: ReturnType<typeof Bun.spawn>;
  stdout = "";
  constructor(mode: string, extra: Record<string, string> = {}) {
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", entry], { env: env(mode, extra), stdout: "pipe", stderr: "ignore" });
    this.proc = proc;
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stdout) this.stdout += dec.decode(chunk, { stream: true });
    })();
  }
  /** Host pid of the namespace's PID 1 (unshare's only child). */
  init(): number {
    const child = processTable().find((p) => p.ppid === this.proc.pid);
    if (!child) throw new Error("no PID 1 yet");
    return child.pid;
  }
  kill(): Promise<number> {
    this.proc.kill("SIGKILL");
    return this.proc.exited;
  }
}

describe.skipIf(skip)("pid1 in a PID namespace", () => {
  it("a child that exits 42 makes PID 1 exit 42, every time", async () => {
    for (let i = 0; i < 25; i++) {
      const r = await runAsInit("exit:42", 5_000);
      expect(r.code).toBe(42);
      expect(r.stderr).toBe("INFO: detected pid 1, running init handler\n");
    }
  });

  it("exit codes 0 and 3 pass through", async () => {
    expect((await runAsInit("exit:0")).code).toBe(0);
    expect((await runAsInit("exit:3")).code).toBe(3);
  });

  it("a child killed by a signal gives 128+signo", async () => {
    expect((await runAsInit("selfkill:SIGKILL")).code).toBe(128 + 9);
    expect((await runAsInit("selfkill:SIGTERM")).code).toBe(128 + 15);
  });

  for (const [sig, num] of [
    ["SIGTERM", 15],
    ["SIGHUP", 1],
    ["SIGUSR1", 10],
  ] as const) {
    it(`${sig} sent to PID 1 reaches the child`, async () => {
      const ns = new Namespace("signal");
      try {
        await waitFor("child ready", () => ns.stdout.includes("ready"), 10_000);
        // The child runs under PID 1 inside the namespace, not as PID 1.
        expect(Number(/ready (\d+)/.exec(ns.stdout)?.[1])).toBeGreaterThan(1);
        process.kill(ns.init(), sig);
        expect(await ns.proc.exited).toBe(10 + num);
      } finally {
        await ns.kill();
      }
    });
  }

  it("orphans left behind by the child are reaped: no zombie accumulates", async () => {
    // The child makes orphans until told to stop, once there were enough of them and enough
    // samples: both are counted, so a slow machine takes longer instead of sampling less.
    const stop = join(dir, "stop-orphans");
    const ns = new Namespace(`orphans:${stop}`);
    try {
      let maxSeen = 0;
      const init = await waitFor("PID 1", () => ns.init(), 15_000);
      let samples = 0;
      const started = () => 10 * (ns.stdout.match(/^started /gm)?.length ?? 0);
      while (samples < 20 || started() < 60) {
        maxSeen = Math.max(maxSeen, orphanZombies(init));
        samples++;
        await Bun.sleep(50);
      }
      writeFileSync(stop, "");
      const total = Number((await waitFor("done", () => /done (\d+)/.exec(ns.stdout), 15_000))[1]);
      // A sampling can catch a few sleeps between their exit and the reaping SIGCHLD triggers,
      // but the count never grows with the number of orphans.
      expect(maxSeen).toBeLessThan(Math.min(10, total / 5));
      // Every orphan has ended and been reaped: only the child is left below PID 1.
      await waitFor("only the child left below PID 1", () => descendants(init).length === 1, 15_000);
    } finally {
      await ns.kill();
    }
  });

  it("the zombie count does see zombies when nobody reaps (control)", async () => {
    // The same workload with the entry itself as PID 1 and no init handler: Bun waits only for
    // its own children, so the orphaned sleeps stay zombies.
    const ns = new Namespace("orphans:20", { PID1_TEST_NO_INIT: "1" });
    try {
      await waitFor("done", () => ns.stdout.includes("done"), 15_000);
      const init = ns.init();
      await waitFor("the orphans to stay zombies", () => zombies(init) > 5, 15_000);
    } finally {
      await ns.kill();
    }
  });
});

describe("childArgv", () => {
  it("drops the embedded entry of a compiled binary", () => {
    expect(childArgv("/git-sync", ["bun", "/$bunfs/root/git-sync", "--repo", "x"])).toEqual(["/git-sync", "--repo", "x"]);
  });
  it("keeps the script under bun run", () => {
    expect(childArgv("/usr/bin/bun", ["/usr/bin/bun", "/src/main.ts", "--one-time"])).toEqual(["/usr/bin/bun", "/src/main.ts", "--one-time"]);
  });
  it("works with no arguments at all", () => {
    expect(childArgv("/git-sync", ["bun", "/$bunfs/root/git-sync"])).toEqual(["/git-sync"]);
  });
});

describe("not PID 1", () => {
  it("carries on as the program itself, without the init line", async () => {
    const proc = Bun.spawn([entry], { env: env("exit:5"), stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(5);
    expect(stderr).toBe("");
  });
});
