// Table rows: each figure for git-sync, its plain-git floor, the ratio, the target from issue 7
// and a verdict. A measurement that failed still gets its rows (verdict N.A., with the reason),
// so one broken figure never hides the others.
import type { ColdResult, IdleResult, LargestProcess, LatencyResult, LatencyVariant, StartupResult } from "./figures.ts";
import type { Remote, Transport } from "./repos.ts";
import { median, percentile } from "./stats.ts";

/** Issue 7's targets. Ratios are over the floor measured in the same run; the rest are absolute. */
export const TARGETS = {
  idleCpuRatio: 1.2,
  /** Idle CPU per poll for the large repo within this fraction of the small one's. */
  idleCpuSizeSpread: 0.2,
  /** Programs git-sync itself starts per idle poll: one ls-remote, or none for an in-process HTTP request. */
  programsPerPoll: { file: 1, http: 0 } satisfies Record<Transport, number>,
  coldRatio: { small: 1.3, large: 1.05 },
  pushMedianMs: 100,
  pushP95Ms: 200,
  /** Polling: median <= period/2 + this x the floor's incremental sync. */
  pollingFloorFactor: 1.2,
  steadyRssMB: 40,
  versionMs: 30,
};

export type Verdict = "pass" | "FAIL" | "—" | "N.A.";

export interface Row {
  figure: string;
  gitSync: string;
  floor: string;
  ratio: string;
  target: string;
  verdict: Verdict;
  /** The numbers behind the cells, for BENCH_JSON. */
  values: { unit: string; gitSync?: number; floor?: number; ratio?: number; p95?: number };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** Runs one measurement; a failure becomes an outcome instead of ending the benchmark. */
export async function guarded<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: (e as Error).message.split("\n")[0]!.slice(0, 160) };
  }
}

const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)} ms`;
// The memory target says MB: shown as 10^6 bytes, with MiB beside it.
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB (${(bytes / 1048576).toFixed(1)} MiB)`;
const count = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
const times = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "—");
const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(0)}%`;
const verdict = (ok: boolean): Verdict => (ok ? "pass" : "FAIL");

function failed(figure: string, error: string, target: string): Row {
  return { figure, gitSync: `failed: ${error}`, floor: "—", ratio: "—", target, verdict: "N.A.", values: { unit: "" } };
}

/** A row whose figure is a ratio over the floor, with a ratio target (undefined: no target). */
function ratioRow(figure: string, unit: string, fmt: (x: number) => string, gitSync: number, floor: number, maxRatio: number | undefined): Row {
  const r = ratio(gitSync, floor);
  return {
    figure,
    gitSync: fmt(gitSync),
    floor: fmt(floor),
    ratio: times(r),
    target: maxRatio === undefined ? "—" : `≤ ${maxRatio}x`,
    verdict: maxRatio === undefined ? "—" : verdict(r <= maxRatio),
    values: { unit, gitSync, floor, ratio: r },
  };
}

/** Startup: median wall time of `git-sync --version` vs `git --version`; the target is absolute. */
export function startupRows(o: Outcome<StartupResult>): Row[] {
  const target = `< ${TARGETS.versionMs} ms`;
  if (!o.ok) return [failed("startup: `--version`", o.error, target)];
  const g = median(o.value.gitSyncMs);
  const f = median(o.value.gitMs);
  return [{ ...ratioRow(`startup: \`--version\` vs \`git --version\` (median of ${o.value.gitSyncMs.length})`, "ms", ms, g, f, undefined), target, verdict: verdict(g < TARGETS.versionMs) }];
}

/** Cold one-time sync: median wall time, git-sync vs the floor's script. */
export function coldRows(remote: Remote, o: Outcome<ColdResult>): Row[] {
  const max = TARGETS.coldRatio[remote.repo.spec.name];
  const figure = `cold one-time sync, ${remote.label}`;
  if (!o.ok) return [failed(figure, o.error, `≤ ${max}x`)];
  const g = median(o.value.gitSync.map((r) => r.ms));
  const f = median(o.value.floor.map((r) => r.ms));
  return [ratioRow(`${figure} (median of ${o.value.gitSync.length})`, "ms", ms, g, f, max)];
}

/** Idle polls: CPU per poll (whole tree) and programs started per poll. */
export function idleRows(remote: Remote, o: Outcome<IdleResult>): Row[] {
  const cpuFigure = `idle poll CPU (whole tree), ${remote.label}`;
  const direct = TARGETS.programsPerPoll[remote.transport];
  const directFigure = `programs git-sync starts per idle poll, ${remote.label}`;
  const allFigure = `programs started in the whole tree per idle poll, ${remote.label}`;
  if (!o.ok) return [failed(cpuFigure, o.error, `≤ ${TARGETS.idleCpuRatio}x`), failed(directFigure, o.error, `≤ ${direct}`), failed(allFigure, o.error, "—")];
  const { cpu, programs, floor } = o.value;
  const cpuRow = ratioRow(`${cpuFigure} (${cpu.polls} polls${cpu.precise ? "" : ", 10 ms ticks"})`, "ms/poll", ms, cpu.cpuMsPerPoll, floor.cpuMsPerPoll, TARGETS.idleCpuRatio);
  const how = programs.method === "strace" ? "" : ` (${programs.method})`;
  // The floor starts one program per poll itself: the ls-remote.
  const directRow: Row = {
    ...ratioRow(`${directFigure}${how}`, "programs/poll", count, programs.direct, 1, undefined),
    target: direct === 0 ? "0 (in-process request)" : `≤ ${direct}`,
    verdict: verdict(programs.direct <= direct),
  };
  const allRow: Row = programs.all === undefined || floor.programs === undefined
    ? failed(allFigure, "needs strace", "—")
    : ratioRow(allFigure, "programs/poll", count, programs.all, floor.programs.all, undefined);
  return [cpuRow, directRow, allRow];
}

/** Idle CPU per poll should not grow with the repo: large vs small, per transport. */
export function sizeSpreadRow(transport: Transport, small: Outcome<IdleResult>, large: Outcome<IdleResult>): Row {
  const figure = `idle poll CPU, large vs small repo, ${transport}`;
  const target = `within ±${TARGETS.idleCpuSizeSpread * 100}%`;
  if (!small.ok || !large.ok) return failed(figure, "an idle measurement failed", target);
  const g = ratio(large.value.cpu.cpuMsPerPoll, small.value.cpu.cpuMsPerPoll);
  const f = ratio(large.value.floor.cpuMsPerPoll, small.value.floor.cpuMsPerPoll);
  return { figure, gitSync: pct(g), floor: pct(f), ratio: "—", target, verdict: verdict(Math.abs(g - 1) <= TARGETS.idleCpuSizeSpread), values: { unit: "large/small", gitSync: g, floor: f } };
}

/**
 * Memory. Steady: the main process's VmRSS after the idle window; peak: its VmHWM then (the
 * first sync included); both the largest over the idle runs, with absolute targets only, since
 * a shell-script syncer keeps nothing resident. Largest process: the peak RSS of the biggest
 * single process in a cold one-time sync of the large repo (GNU time), git-sync's tree against
 * the floor script's.
 */
export function memoryRows(idle: Array<Outcome<IdleResult>>, largest: Array<Outcome<LargestProcess>>): Row[] {
  const rows: Row[] = [];
  const idleOk = idle.flatMap((o) => (o.ok ? [o.value] : []));
  const MiB = 1024 * 1024;
  if (idleOk.length === 0) {
    rows.push(failed("main process steady RSS", "no idle run succeeded", `< ${TARGETS.steadyRssMB} MB`));
  } else {
    const steady = Math.max(...idleOk.map((v) => v.memory.rssMiB)) * MiB;
    const peak = Math.max(...idleOk.map((v) => v.memory.hwmMiB)) * MiB;
    rows.push({ figure: `main process steady RSS after the idle window (largest of ${idleOk.length} runs)`, gitSync: mb(steady), floor: "—", ratio: "—", target: `< ${TARGETS.steadyRssMB} MB`, verdict: verdict(steady < TARGETS.steadyRssMB * 1e6), values: { unit: "bytes", gitSync: steady } });
    rows.push({ figure: "main process peak RSS (VmHWM, first sync included)", gitSync: mb(peak), floor: "—", ratio: "—", target: "—", verdict: "—", values: { unit: "bytes", gitSync: peak } });
  }
  const figure = "largest single process, cold sync of the large repo";
  const largestOk = largest.flatMap((o) => (o.ok ? [o.value] : []));
  if (largestOk.length === 0) {
    const why = largest.find((o) => !o.ok);
    rows.push(failed(figure, why && !why.ok ? why.error : "needs GNU time (/usr/bin/time)", "—"));
  } else {
    const g = Math.max(...largestOk.map((l) => l.gitSyncMiB)) * MiB;
    const f = Math.max(...largestOk.map((l) => l.floorMiB)) * MiB;
    rows.push(ratioRow(figure, "bytes", mb, g, f, undefined));
  }
  return rows;
}

/**
 * Push-to-publish. Polling: the floor is what an ideal poller built on plain git would average,
 * half the period plus the floor's incremental sync; the target allows 1.2x that sync. Push
 * trigger: the floor is the incremental sync itself; the targets are absolute.
 */
export function latencyRow(remote: Remote, variant: LatencyVariant, o: Outcome<LatencyResult>, incremental: Outcome<number[]>): Row {
  const figure = `push-to-publish, ${variant.name}, ${remote.transport}`;
  const pollTarget = (incr: number) => variant.periodMs / 2 + TARGETS.pollingFloorFactor * incr;
  const targetText = (incr: number | undefined) =>
    variant.periodMs === 0
      ? `median < ${TARGETS.pushMedianMs} ms, p95 < ${TARGETS.pushP95Ms} ms`
      : incr === undefined
        ? `≤ ${variant.periodMs / 2} ms + ${TARGETS.pollingFloorFactor} × incremental`
        : `median ≤ ${variant.periodMs / 2} + ${TARGETS.pollingFloorFactor} × ${incr.toFixed(1)} = ${ms(pollTarget(incr))}`;
  if (!incremental.ok) return failed(figure, `floor: ${incremental.error}`, targetText(undefined));
  const incr = median(incremental.value);
  const result = o.ok ? o.value : { error: o.error };
  if ("error" in result) return failed(figure, result.error, targetText(incr));
  const med = median(result.samples);
  const p95 = percentile(result.samples, 95);
  const floor = variant.periodMs / 2 + incr;
  const ok = variant.periodMs === 0 ? med < TARGETS.pushMedianMs && p95 < TARGETS.pushP95Ms : med <= pollTarget(incr);
  return {
    figure: `${figure} (median, p95 of ${result.samples.length})`,
    gitSync: `${ms(med)} (p95 ${ms(p95)})`,
    floor: variant.periodMs === 0 ? ms(floor) : `${variant.periodMs / 2} + ${ms(incr)}`,
    ratio: times(ratio(med, floor)),
    target: targetText(incr),
    verdict: verdict(ok),
    values: { unit: "ms", gitSync: med, p95, floor, ratio: ratio(med, floor) },
  };
}

export function markdown(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = ["| figure | git-sync | plain-git floor | ratio | target | verdict |", "|---|---|---|---|---|---|"];
  for (const r of rows) lines.push(`| ${[r.figure, r.gitSync, r.floor, r.ratio, r.target, r.verdict].map(esc).join(" | ")} |`);
  return lines.join("\n");
}
