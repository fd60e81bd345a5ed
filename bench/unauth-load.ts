// What a caller without the sync secret can cost: N concurrent POST /sync requests, each with a
// made-up signature and a 25 MiB body (GitHub's payload cap, the old body limit), against one
// running git-sync on 127.0.0.1. Prints the process's resident memory before, at its peak
// (VmHWM) and after, and what the requests were answered.
//   bun bench/unauth-load.ts                   (dist/git-sync; GIT_SYNC_BIN=<path> for another build)
//   UNAUTH_MODE=chunked bun bench/unauth-load.ts   (no Content-Length: the body is cut off while read)
//   UNAUTH_REQUESTS=30 (default), UNAUTH_MIB=25 (default)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, cleanup, freePort, gitEnv, makeRepo, tmpDir, waitFor } from "../test/helpers/index.ts";

const REQUESTS = Number(process.env.UNAUTH_REQUESTS ?? 30);
const MIB = Number(process.env.UNAUTH_MIB ?? 25);
const CHUNKED = process.env.UNAUTH_MODE === "chunked";
const REQUEST_TIMEOUT_MS = 60_000;

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const payload = new Uint8Array(MIB << 20).fill(0x7b);

/** One request with a made-up signature; its status, or the error that ended it (a reset when refused early). */
async function bogus(port: number): Promise<string> {
  const body = CHUNKED
    ? new ReadableStream<Uint8Array>({
        start(c) {
          for (let at = 0; at < payload.length; at += 1 << 20) c.enqueue(payload.subarray(at, at + (1 << 20)));
          c.close();
        },
      })
    : payload;
  try {
    const r = await fetch(`http://127.0.0.1:${port}/sync`, {
      method: "POST",
      headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0".repeat(64), "Content-Type": "application/json" },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await r.arrayBuffer();
    return String(r.status);
  } catch (e) {
    return (e as Error).name === "TimeoutError" ? "timeout" : "connection closed";
  }
}

const dir = tmpDir("gs-unauth-");
try {
  const repo = makeRepo(join(dir, "repo"));
  writeFileSync(join(dir, "secret"), "the-real-secret\n");
  const port = freePort();
  const proc = Bun.spawn(
    [BIN, `--repo=${repo}`, `--root=${join(dir, "root")}`, "--period=1h", `--http-bind=127.0.0.1:${port}`, `--http-sync-secret-file=${join(dir, "secret")}`],
    { env: gitEnv({ TMPDIR: dir }), stdout: "ignore", stderr: "ignore" },
  );
  try {
    await waitFor("first sync", () => existsSync(join(dir, "root", "repo")), 30_000);
    // Resets VmHWM to the current RSS (proc(5), clear_refs), so the peak is the flood's own.
    writeFileSync(`/proc/${proc.pid}/clear_refs`, "5");
    const before = status(proc.pid, "VmRSS");
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: REQUESTS }, () => bogus(port)));
    const ms = performance.now() - t0;
    const peak = status(proc.pid, "VmHWM");
    const after = status(proc.pid, "VmRSS");
    const tally = new Map<string, number>();
    for (const a of answers) tally.set(a, (tally.get(a) ?? 0) + 1);
    console.log(`git-sync ${BIN}`);
    console.log(`${REQUESTS} concurrent bogus-signature POST /sync, ${MIB} MiB each, ${CHUNKED ? "chunked" : "with Content-Length"}: ${Math.round(ms)} ms`);
    console.log(`answers: ${[...tally].map(([k, n]) => `${n}x ${k}`).join(", ")}`);
    console.log(`RSS before ${before.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)}), after ${after.toFixed(1)} MiB (+${(after - before).toFixed(1)})`);
  } finally {
    proc.kill();
    await proc.exited;
  }
} finally {
  cleanup(dir);
}
