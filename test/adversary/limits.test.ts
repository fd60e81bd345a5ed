// Bounded work before authentication (issue 20, item 4): what a neighbour without the sync secret,
// or a hostile server git-sync talks to, can make the process hold. Black-box: the compiled
// binary, real servers on 127.0.0.1, resident memory read from /proc/<pid>/status (VmHWM, the
// peak, reset through clear_refs before each flood so it is the flood's own).
import { metered } from "../helpers/bodies.ts";
import { expect, test } from "bun:test";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, head, jsonLines, type Running, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { makeBareRepo, pushCommit, startGitHTTP } from "../servers/index.ts";

const MIB = 1 << 20;
const SECRET = "the-real-sync-secret";

function peakReset(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

function memMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Runs `flood` and returns how far the process's resident memory peaked above where it stood. */
async function peakGrowth(pid: number, flood: () => Promise<unknown>): Promise<number> {
  peakReset(pid);
  const before = memMiB(pid, "VmRSS");
  await flood();
  return memMiB(pid, "VmHWM") - before;
}


const hmac = (body: string) => "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex");
const BOGUS = { "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0".repeat(64), "Content-Type": "application/json" };

/** POST /sync; the status, or "closed" when the server hung up before answering. */
async function post(port: number, headers: Record<string, string>, body: BodyInit, signal?: AbortSignal): Promise<number | "closed"> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/sync`, { method: "POST", headers, body, signal: signal ?? AbortSignal.timeout(60_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return "closed";
  }
}

/** A long-running git-sync with POST /sync on a free port, synced once. */
async function pushTarget(t: Scenario): Promise<{ r: Running; port: number }> {
  const secretFile = join(t.dir, "sync-secret");
  writeFileSync(secretFile, SECRET + "\n");
  const port = freePort();
  const r = t.start("--period=1h", `--http-bind=127.0.0.1:${port}`, `--http-sync-secret-file=${secretFile}`, "-v=1");
  await t.waitHash(head(t.repo), 30_000, r);
  return { r, port };
}

/** A signed push of main, as GitHub sends it; the link must then move to a new commit. */
async function signedPushSyncs(t: Scenario, r: Running, port: number): Promise<void> {
  const next = commit(t.repo);
  const body = JSON.stringify({ ref: "refs/heads/main", after: next });
  expect(await post(port, { "X-GitHub-Event": "push", "X-Hub-Signature-256": hmac(body), "Content-Type": "application/json" }, body)).toBe(202);
  await t.waitHash(next, 30_000, r);
}

test("30 concurrent 25 MiB bodies with a made-up signature are refused unread: RSS grows by less than 60 MiB, a signed push still syncs", async () => {
  await using t = await scenario();
  const { r, port } = await pushTarget(t);
  const payload = new Uint8Array(25 * MIB).fill(0x7b);
  let answers: Array<number | "closed"> = [];
  const growth = await peakGrowth(r.proc.pid, async () => {
    answers = await Promise.all(Array.from({ length: 30 }, () => post(port, BOGUS, payload)));
  });
  // The old code read every body, then answered 401, and grew by some 430 MiB.
  expect(answers.filter((a) => a !== 413 && a !== "closed")).toEqual([]);
  expect(growth).toBeLessThan(60);
  await signedPushSyncs(t, r, port);
}, 90_000);

test("30 concurrent chunked 25 MiB bodies with a made-up signature are cut off: 413 or 503, RSS grows by less than 100 MiB", async () => {
  await using t = await scenario();
  const { r, port } = await pushTarget(t);
  const bodies = Array.from({ length: 30 }, () => metered(25 * MIB));
  let answers: Array<number | "closed"> = [];
  const growth = await peakGrowth(r.proc.pid, async () => {
    answers = await Promise.all(bodies.map((b) => post(port, BOGUS, b.stream)));
  });
  // A chunked body has no length to refuse first: it is read up to the limit (4 MiB), or not at
  // all when 8 others are being read. The old code read all 750 MiB (over 1 GiB of RSS).
  expect(answers.filter((a) => a !== 413 && a !== 503 && a !== "closed")).toEqual([]);
  expect(bodies.filter((b) => b.sent() >= 25 * MIB).length).toBe(0);
  expect(growth).toBeLessThan(100);
  await signedPushSyncs(t, r, port);
}, 90_000);

test("slow bodies with a made-up signature hold at most 8 read slots, others get 503 unread, and each slot is freed after the read deadline", async () => {
  await using t = await scenario();
  const { r, port } = await pushTarget(t);
  // Slow loris: one byte, then nothing, until the server gives up or the test ends.
  const abort = new AbortController();
  try {
    const slow = Array.from({ length: 8 }, () =>
      post(
        port,
        BOGUS,
        new ReadableStream<Uint8Array>({
          start: (c) => c.enqueue(new Uint8Array([0x7b])),
          pull: () => new Promise(() => {}),
        }),
        abort.signal,
      ),
    );
    // Once the 8 are being read, one more is answered at once, its body unread.
    let extra: { status: number; retryAfter: string | null; sent: number } = { status: 0, retryAfter: null, sent: 0 };
    await waitFor(
      "a request beyond the read slots answered 503",
      async () => {
        const body = metered(25 * MIB);
        const res = await fetch(`http://127.0.0.1:${port}/sync`, { method: "POST", headers: BOGUS, body: body.stream, signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        extra = { status: res.status, retryAfter: res.headers.get("retry-after"), sent: body.sent() };
        return res.status === 503;
      },
      8_000,
    );
    expect(extra.retryAfter).toBe("1");
    expect(extra.sent).toBeLessThan(25 * MIB);
    // The slots free themselves: each slow body is answered 408 at the read deadline (10s).
    const answers = await Promise.race([Promise.all(slow), Bun.sleep(30_000).then(() => "the slow requests were never answered")]);
    expect(answers).toEqual(Array(8).fill(408));
    await signedPushSyncs(t, r, port);
  } finally {
    abort.abort();
  }
}, 90_000);

// ---------------------------------------------------------------------------------------------
// Answers from servers git-sync asks.

/**
 * A server that answers `good()` until `hostile` is set, then `status` with a body that goes on
 * until the test's own bound (128 MiB), or ("stalled") trickles a byte every 200ms; `perRequest()`
 * is the most any one client took.
 */
function turncoat(good: () => Response, status: number): { url: string; hostile: boolean | "stalled"; requests: number; perRequest: () => number; stop(): void } {
  const taken: Array<() => number> = [];
  const s = {
    url: "",
    hostile: false as boolean | "stalled",
    requests: 0,
    perRequest: () => Math.max(0, ...taken.map((f) => f())),
    stop: () => void server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      if (!s.hostile) return good();
      s.requests++;
      // The headers, then a byte now and then: never idle for long, never complete.
      if (s.hostile === "stalled") {
        const drip = new ReadableStream<Uint8Array>({
          async pull(c) {
            await Bun.sleep(200);
            c.enqueue(new Uint8Array([0x0a]));
          },
        });
        return new Response(drip, { status });
      }
      const body = metered(128 * MIB, new TextEncoder().encode("username=alice\n".repeat(4096)));
      taken.push(body.sent);
      return new Response(body.stream, { status, headers: { "Content-Type": "application/json" } });
    },
  });
  s.url = `http://127.0.0.1:${server.port}`;
  return s;
}

/** `msg: error` of every error log line. */
function errors(r: Running): string {
  return jsonLines(r.stderr)
    .filter((l) => l.error !== undefined)
    .map((l) => `${String(l.msg)}: ${String(l.error)}`)
    .join("\n");
}

type Turncoat = ReturnType<typeof turncoat>;

/**
 * Once git-sync has synced `first`, `endpoint` turns to an endless answer: the attempt must fail
 * with `message` (the cap's error), the endpoint must have sent little beyond the cap, RSS must
 * stay bounded, and the link must keep the last good sync.
 */
async function expectCappedRead(t: Scenario, r: Running, first: string, endpoint: Turncoat, message: string): Promise<void> {
  await t.waitHash(first, 30_000, r);
  const growth = await peakGrowth(r.proc.pid, async () => {
    endpoint.hostile = true;
    await waitFor("a failed attempt", () => errors(r) !== "", 30_000);
  });
  expect(errors(r)).toContain(message);
  // Each try stops at the cap and hangs up; what is in flight in socket buffers is all the
  // server gets to send (old code: all 128 MiB).
  expect(endpoint.perRequest()).toBeLessThan(24 * MIB);
  expect(growth).toBeLessThan(60);
  expect(t.hash()).toBe(first);
}

test("a git host answering ls-refs without end: the poll stops at 32 MiB with a clear error, RSS stays bounded, git takes over and syncs", async () => {
  await using t = await scenario();
  const repos = join(t.dir, "repos");
  const first = makeBareRepo(repos, "repo.git").head;
  const backend = startGitHTTP({ projectRoot: repos });
  // In front of the real backend: git's own requests pass; git-sync's in-process ls-refs
  // (its User-Agent) gets an endless stream of well-formed ref lines once `hostile` is set.
  let hostile = false;
  let sent: () => number = () => 0;
  const line = (i: number) => `${"1".repeat(40)} refs/heads/b${String(i).padStart(8, "0")}\n`;
  const lines = new TextEncoder().encode(Array.from({ length: 1024 }, (_, i) => (line(i).length + 4).toString(16).padStart(4, "0") + line(i)).join(""));
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (hostile && req.method === "POST" && url.pathname.endsWith("/git-upload-pack") && req.headers.get("user-agent")?.startsWith("git/git-sync-bun")) {
        const body = metered(128 * MIB, lines);
        sent = body.sent;
        return new Response(body.stream, { headers: { "Content-Type": "application/x-git-upload-pack-result" } });
      }
      const res = await fetch(backend.url + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.method === "GET" ? null : await req.arrayBuffer() });
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  });
  try {
    const r = t.spawn([`--repo=http://127.0.0.1:${proxy.port}/repo.git`, `--root=${t.root}`, "--link=link", "--period=100ms", "--max-failures=-1", "-v=2"]);
    await t.waitHash(first, 30_000, r);
    const polls = r.count("in-process ref query failed; fetching instead");
    const growth = await peakGrowth(r.proc.pid, async () => {
      hostile = true;
      await waitFor("the in-process poll to fail", () => r.count("in-process ref query failed; fetching instead") > polls, 30_000);
    });
    const failed = jsonLines(r.stderr).filter((l) => l.msg === "in-process ref query failed; fetching instead");
    expect(String(failed.at(-1)?.error)).toContain("is over 32 MiB");
    // Read up to the cap, then the connection is closed: the rest is never sent (old code: all 128 MiB).
    expect(sent()).toBeLessThan(64 * MIB);
    expect(growth).toBeLessThan(100);
    // git fetches instead (and polls from now on), so a new commit is still published.
    const second = pushCommit(repos, "repo.git", "file", "second\n");
    await t.waitHash(second, 30_000, r);
  } finally {
    void proxy.stop(true);
    backend.stop();
  }
}, 90_000);

test("an askpass URL answering without end: the read stops at 64 KiB with a clear error, RSS stays bounded, the last good sync stays", async () => {
  await using t = await scenario();
  const repos = join(t.dir, "repos");
  const first = makeBareRepo(repos, "repo.git").head;
  const srv = startGitHTTP({ projectRoot: repos, users: { alice: "pw-askpass" } });
  const askpass = turncoat(() => new Response("username=alice\npassword=pw-askpass\n"), 200);
  try {
    const r = t.spawn([`--repo=${srv.url}/repo.git`, `--root=${t.root}`, "--link=link", `--askpass-url=${askpass.url}/`, "--period=100ms", "--max-failures=-1"]);
    // The old code read all 128 MiB, then found no password.
    await expectCappedRead(t, r, first, askpass, "the auth URL's answer is over 64 KiB");
  } finally {
    askpass.stop();
    srv.stop();
  }
}, 90_000);

test("a GitHub token endpoint answering without end: the read stops at 1 MiB with a clear error, RSS stays bounded, the last good sync stays", async () => {
  await using t = await scenario();
  const repos = join(t.dir, "repos");
  const first = makeBareRepo(repos, "repo.git").head;
  const srv = startGitHTTP({ projectRoot: repos, check: (_user, pass) => pass === "ghs_token" });
  // A token that expires within 30s is fetched again at every attempt.
  const github = turncoat(() => Response.json({ token: "ghs_token", expires_at: new Date(Date.now() + 20_000).toISOString() }, { status: 201 }), 201);
  const keyFile = join(t.dir, "app.pem");
  writeFileSync(keyFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString(), { mode: 0o600 });
  try {
    const r = t.spawn([
      `--repo=${srv.url}/repo.git`,
      `--root=${t.root}`,
      "--link=link",
      "--github-app-application-id=1",
      "--github-app-installation-id=2",
      `--github-app-private-key-file=${keyFile}`,
      `--github-base-url=${github.url}`,
      "--period=100ms",
      "--max-failures=-1",
    ]);
    await expectCappedRead(t, r, first, github, "the token endpoint's answer is over 1 MiB");
  } finally {
    github.stop();
    srv.stop();
  }
}, 90_000);

test("an askpass URL that trickles its answer: the call ends at its 1s timeout with a clear error, the last good sync stays", async () => {
  await using t = await scenario();
  const repos = join(t.dir, "repos");
  const first = makeBareRepo(repos, "repo.git").head;
  const srv = startGitHTTP({ projectRoot: repos, users: { alice: "pw-askpass" } });
  const askpass = turncoat(() => new Response("username=alice\npassword=pw-askpass\n"), 200);
  try {
    const r = t.spawn([`--repo=${srv.url}/repo.git`, `--root=${t.root}`, "--link=link", `--askpass-url=${askpass.url}/`, "--period=100ms", "--max-failures=-1"]);
    await t.waitHash(first, 30_000, r);
    askpass.hostile = "stalled";
    // The old code's timeout ended with the headers: it waited for the rest until the sync timeout (120s).
    await waitFor("a failed attempt", () => errors(r) !== "", 30_000);
    expect(errors(r)).toContain("the auth URL's answer was not complete in time");
    expect(t.hash()).toBe(first);
  } finally {
    askpass.stop();
    srv.stop();
  }
}, 90_000);
