// A small Prometheus registry: exactly the counters and summaries git-sync exposes, in the
// text exposition format 0.0.4 (behaviour.md 7). Values print as plain numbers ("1", not "1.0").
// Labelled series appear only after their first increment; unlabelled ones from the start.
//
// It sits at the bottom of the house (src/state/): loop, hooks and auth record into it, and the
// HTTP endpoint (src/http/) only renders it. It imports nothing of git-sync's own.

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "summary" | "gauge";
  labelNames: readonly string[];
  series: Map<string, { labels: Labels; value: number; sum: number; count: number }>;
}

const families = new Map<string, Family>();

/**
 * A series' key: its label values in the family's label order. Every poll increments a series
 * (one per ref with --also-link), so this is a join, not a sort and a JSON encoding.
 */
function key(f: Family, labels: Labels): string {
  const names = f.labelNames;
  if (names.length === 1) return labels[names[0]!] ?? "";
  let k = "";
  for (const n of names) k += `${labels[n] ?? ""}\u0000`;
  return k;
}

function family(name: string, help: string, type: Family["type"], labelNames: readonly string[]): Family {
  let f = families.get(name);
  if (!f) {
    f = { name, help, type, labelNames, series: new Map() };
    families.set(name, f);
    if (labelNames.length === 0) f.series.set(key(f, {}), { labels: {}, value: 0, sum: 0, count: 0 });
  }
  return f;
}

function series(f: Family, labels: Labels) {
  const k = key(f, labels);
  let s = f.series.get(k);
  if (!s) {
    s = { labels, value: 0, sum: 0, count: 0 };
    f.series.set(k, s);
  }
  return s;
}

export class Counter<L extends string = never> {
  private readonly f: Family;
  constructor(name: string, help: string, labelNames: readonly L[] = []) {
    this.f = family(name, help, "counter", labelNames);
  }
  inc(labels: Record<L, string> = {} as Record<L, string>, by = 1): void {
    series(this.f, labels).value += by;
  }
  get(labels: Record<L, string> = {} as Record<L, string>): number {
    return this.f.series.get(key(this.f, labels))?.value ?? 0;
  }
}

/** A value that goes up and down (Prometheus gauge). */
export class Gauge {
  private readonly f: Family;
  constructor(name: string, help: string) {
    this.f = family(name, help, "gauge", []);
  }
  set(value: number): void {
    series(this.f, {}).value = value;
  }
  get(): number {
    return series(this.f, {}).value;
  }
}

/** A summary without quantiles: only _sum and _count, like upstream's. */
export class Summary<L extends string = never> {
  private readonly f: Family;
  constructor(name: string, help: string, labelNames: readonly L[] = []) {
    this.f = family(name, help, "summary", labelNames);
  }
  observe(value: number, labels: Record<L, string> = {} as Record<L, string>): void {
    const s = series(this.f, labels);
    s.sum += value;
    s.count += 1;
  }
}

// String(n) prints what Prometheus wants: "1", not "1.0"; fractions as they are.
const fmt = String;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return "{" + entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",") + "}";
}

/** Gauges computed at scrape time (process metrics). */
const collectors: Array<() => string> = [];
export function addCollector(fn: () => string): void {
  collectors.push(fn);
}

export function renderMetrics(): string {
  let out = "";
  for (const f of [...families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (f.series.size === 0) continue;
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.series.values()) {
      if (f.type === "summary") {
        out += `${f.name}_sum${labelText(s.labels)} ${fmt(s.sum)}\n`;
        out += `${f.name}_count${labelText(s.labels)} ${fmt(s.count)}\n`;
      } else {
        out += `${f.name}${labelText(s.labels)} ${fmt(s.value)}\n`;
      }
    }
  }
  for (const c of collectors) out += c();
  return out;
}

// The metrics of behaviour.md 7, owned here so every module increments the same instances.
export const syncCount = new Counter("git_sync_count_total", "How many git syncs completed, partitioned by state (success, error, noop)", ["status"]);
export const syncDuration = new Summary("git_sync_duration_seconds", "Summary of git_sync durations", ["status"]);
export const fetchCount = new Counter("git_fetch_count_total", "How many git fetches were run");
export const askpassCount = new Counter("git_sync_askpass_calls", "How many git askpass calls completed, partitioned by state (success, error)", ["status"]);
export const githubTokenCount = new Counter("git_sync_refresh_github_app_token_count", "How many times the GitHub app token was refreshed, partitioned by state (success, error)", ["status"]);
export const hookRunCount = new Counter("git_sync_hook_run_count_total", "How many hook runs completed, partitioned by name and state (success, error)", ["name", "status"]);
// Ours: POST /sync, the push trigger (src/http/push.ts).
export const pushRequestCount = new Counter(
  "git_sync_push_requests_total",
  "How many POST /sync requests were answered, partitioned by result (accepted, ignored, unauthorized, too_large, too_slow, unreadable, busy, rate_limited, disabled, error)",
  ["result"],
);
// Ours (--also-link, issue 15): the outcome of each ref's part of an attempt, by link name (the
// main ref is "" here; git_sync_count_total keeps counting whole attempts, as upstream's).
export const linkSyncCount = new Counter("git_sync_link_count_total", "How many ref syncs completed per link, partitioned by link and state (success, error, noop)", ["link", "status"]);
// Ours: --verify-signatures (src/verify/), one per signature check; host-lied (a poll's answer the
// fetched objects contradict) and bad-tree (a tree git-sync will not publish) are counted with or
// without --verify-signatures.
export const verifyCount = new Counter(
  "git_sync_verify_count_total",
  "How many signature checks completed, partitioned by result (good, unsigned, unknown-key, bad-signature, key-expired, wrong-namespace, outside-validity, not-a-tag, unsupported, host-lied, bad-tree)",
  ["result"],
);
// Ours (--serve-git, issue 22): the read-only mirror at /git (src/serve/). Made when the mirror
// starts, so that an instance without it shows none of these.
let serve: { requests: Counter<"kind" | "result">; bytesSent: Counter; inFlight: Gauge } | null = null;
export function serveMetrics(): NonNullable<typeof serve> {
  serve ??= {
    requests: new Counter(
      "git_sync_serve_requests_total",
      "How many /git requests were answered, partitioned by kind (advertise, ls-refs, fetch, other) and result (ok, shared (a fetch answered with the answer to an identical one), unauthorized, forbidden, not_ready, busy, refused, too_large, bad_request, timeout, aborted, error, secret_unreadable)",
      ["kind", "result"],
    ),
    bytesSent: new Counter("git_sync_serve_bytes_sent_total", "Bytes of git protocol /git sent: advertisements, ref lists and packs"),
    inFlight: new Gauge("git_sync_serve_in_flight", "git processes running for /git requests now"),
  };
  return serve;
}

// Ours (--peers, issue 23): a replica of a fleet (src/peers/); made when --peers is on.
let peers: { requests: Counter<"to" | "kind">; nudges: Counter<"direction" | "result">; owner: Gauge; seen: Gauge } | null = null;
export function peersMetrics(): NonNullable<typeof peers> {
  peers ??= {
    requests: new Counter("git_sync_peers_requests_total", "Polls and fetches this replica made, partitioned by where to (host, peer) and kind (poll, fetch)", ["to", "kind"]),
    nudges: new Counter("git_sync_peers_nudges_total", "Nudges (POST /sync between peers), partitioned by direction (sent, received) and result (ok, failed, refused)", ["direction", "result"]),
    owner: new Gauge("git_sync_peers_owner", "1 while this replica owns the repo (asks the git host), else 0"),
    seen: new Gauge("git_sync_peers_seen", "Addresses in the last DNS answer for --peers"),
  };
  return peers;
}
