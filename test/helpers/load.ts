// Load for the attacker's tests: many requests at once, what they were answered, and what the
// process under load held in memory meanwhile.
import { readFileSync } from "node:fs";

/** Resident memory of `pid` (VmRSS) or its peak since the last reset (VmHWM), MiB. */
export function memMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) / 1024;
}

/** `n` jobs, at most `width` at a time. */
export async function pool<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

/** How many times each answer came: { 401: 498, closed: 2 }. */
export const tally = (answers: Array<number | string>) => answers.reduce<Record<string, number>>((acc, a) => ((acc[a] = (acc[a] ?? 0) + 1), acc), {});
