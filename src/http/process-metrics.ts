// Scrape-time metrics: the process_* family Go's client exposes (behaviour.md 7 lists the cheap
// ones) and two gauges of ours for stale-sync alerting. Registered once per process through
// `addCollector`; the sync gauges read whichever SyncState the running server was given.
import { readdirSync, readFileSync } from "node:fs";
import type { SyncState } from "../state/sync-state.ts";
import { addCollector } from "../state/metrics.ts";

let current: SyncState | null = null;
let registered = false;
const startTimeSeconds = Date.now() / 1000 - process.uptime();

function gauge(name: string, help: string, type: "gauge" | "counter", value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "";
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}

/** Linux only; elsewhere these series are simply absent. */
function tryRead<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

// /proc/self/stat field 23 is vsize in bytes; fields are counted after the ")" that ends comm,
// since comm itself may contain spaces.
function virtualMemoryBytes(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[20]);
}

function maxFds(): number | null {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return m ? Number(m[1]) : null;
}

export function processMetrics(): string {
  const cpu = process.cpuUsage();
  return (
    gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", (cpu.user + cpu.system) / 1e6) +
    gauge("process_max_fds", "Maximum number of open file descriptors.", "gauge", tryRead(maxFds)) +
    // Like Go's procfs, the directory handle used for counting is itself counted.
    gauge("process_open_fds", "Number of open file descriptors.", "gauge", tryRead(() => readdirSync("/proc/self/fd").length)) +
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", process.memoryUsage.rss()) +
    gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", Math.round(startTimeSeconds * 100) / 100) +
    gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", tryRead(virtualMemoryBytes))
  );
}

export function syncStateMetrics(state: SyncState): string {
  return (
    gauge("git_sync_consecutive_failures", "Failed sync attempts since the last success.", "gauge", state.consecutiveFailures) +
    // Absent until the first success, so `time() - git_sync_last_success_timestamp_seconds` never
    // reports a bogus age of 55 years.
    gauge("git_sync_last_success_timestamp_seconds", "Unix time of the last successful sync attempt.", "gauge", state.lastSuccess === null ? null : state.lastSuccess / 1000)
  );
}

/** Idempotent: a second server in the same process (tests) reuses the collector. */
export function registerScrapeMetrics(state: SyncState): () => void {
  current = state;
  if (!registered) {
    registered = true;
    addCollector(() => (current ? syncStateMetrics(current) : "") + processMetrics());
  }
  return () => {
    if (current === state) current = null;
  };
}
