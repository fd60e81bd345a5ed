// Giving back the memory that only startup needed. Most of a Bun process's resident memory is
// not heap but pages of the executable itself: the runtime's code and the embedded program,
// ~40 MB of the ~50 MB RSS of a syncing process, much of it touched once while starting
// (parsing flags, setting up, the first sync) and never again. Those pages are clean copies of
// the file, so the kernel can drop them at no risk: madvise(MADV_PAGEOUT) asks it to do so now,
// and any page the sync loop still uses comes straight back on its next touch. What stays
// resident is the loop's real working set (bench/ measures it).
import { readFileSync, realpathSync } from "node:fs";
import type { Logger } from "../log/logger.ts";

const MADV_PAGEOUT = 21; // Linux 5.4+; older kernels answer EINVAL and nothing happens.

/** The executable's own file mappings, from /proc/self/maps: [start, length]. */
function executableMappings(): Array<[bigint, bigint]> {
  const exe = realpathSync("/proc/self/exe");
  const out: Array<[bigint, bigint]> = [];
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    // "start-end perms offset dev inode path"; only read-only or executable ones, never data we wrote.
    const m = /^([0-9a-f]+)-([0-9a-f]+) (r-xp|r--p) \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (!m || m[4] !== exe) continue;
    const start = BigInt(`0x${m[1]}`);
    out.push([start, BigInt(`0x${m[2]}`) - start]);
  }
  return out;
}

/** Best effort, once, after the first successful sync of a long-running process. */
export function releaseStartupPages(log: Logger): void {
  if (process.platform !== "linux") return;
  try {
    // Required here, not imported: loading bun:ffi costs ~2.5 ms, and only this call needs it.
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const { madvise } = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } }).symbols;
    Bun.gc(true);
    let released = 0;
    for (const [start, length] of executableMappings()) if (madvise(start, length, MADV_PAGEOUT) === 0) released++;
    log.v(4, "released startup pages", { mappings: released });
  } catch (e) {
    log.v(4, "can't release startup pages", { error: (e as Error).message });
  }
}
