// `kubectl exec <pod> -- /git-sync status | sync-now` (issue 5): the subcommands run as separate
// processes with the container's environment, against a running instance configured by the
// same GITSYNC_* variables; and --sync-on-signal woken by `kill -HUP`.
import { expect, test } from "bun:test";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, type Running, type Scenario, commit, freePort, git, gitEnv, head, scenario, waitFor } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";

/**
 * The container's environment: the instance is configured by env only, as in a pod spec, with
 * the push trigger on (sync-now POSTs /sync with its secret).
 */
function podEnv(t: Scenario, port: number, extra: Record<string, string> = {}): Record<string, string> {
  const secretFile = join(t.dir, "sync-secret");
  writeFileSync(secretFile, "pod-s3cret\n");
  return {
    GITSYNC_REPO: t.repo,
    GITSYNC_ROOT: t.root,
    GITSYNC_LINK: "link",
    GITSYNC_PERIOD: "1h",
    GITSYNC_MAX_FAILURES: "-1",
    GITSYNC_HTTP_BIND: `:${port}`,
    GITSYNC_HTTP_SYNC_SECRET_FILE: secretFile,
    ...extra,
  };
}

/** `kubectl exec`: a new process of the same binary, with the container's env. */
function exec(t: Scenario, env: Record<string, string>, ...args: string[]) {
  return t.run(args, { env, timeoutMs: 10_000 });
}

async function waitSynced(t: Scenario, gs: Running, hash: string): Promise<void> {
  await waitFor(`link -> ${hash}`, () => t.hash() === hash || gs.done, 15_000);
  if (gs.done) throw new Error(`git-sync exited ${gs.code}:\n${gs.stderr}`);
}

test.concurrent("git-sync status (and --json) against a running instance: exit 0 when healthy, 1 when failing", async () => {
  await using t = await scenario();
  const port = freePort();
  const env = podEnv(t, port);
  const gs = t.spawn([], { env });
  const h1 = head(t.repo);
  await waitSynced(t, gs, h1);

  const ok = await exec(t, env, "status");
  expect([ok.code, ok.stderr]).toEqual([0, ""]);
  expect(ok.stdout).toMatch(new RegExp(`^hash: +${h1}$`, "m"));
  expect(ok.stdout).toMatch(new RegExp(`^repo: +${t.repo}$`, "m"));
  expect(ok.stdout).toMatch(/^ready: +yes$/m);
  expect(ok.stdout).toMatch(/^failures: +0 consecutive$/m);
  expect(ok.stdout).toMatch(/^last success: +\d+s ago \(/m);
  expect(ok.stdout).not.toMatch(/^last error:/m);

  const okJson = await exec(t, env, "status", "--json");
  expect(okJson.code).toBe(0);
  const doc = JSON.parse(okJson.stdout) as Record<string, unknown>;
  expect(doc).toMatchObject({ hash: h1, ref: "HEAD", ready: true, healthy: true, consecutiveFailures: 0, lastError: "", syncCount: 1 });
  expect(doc.pid).toBe(gs.proc.pid);

  // Break the remote and ask for a sync (also through exec): the report says so, exit 1.
  const moved = join(t.dir, "moved");
  renameSync(t.repo, moved);
  const now = await exec(t, env, "sync-now");
  // The instance the environment names, found running: the output says which.
  expect([now.code, now.stdout]).toEqual([0, `sync requested (POST http://127.0.0.1:${port}/sync; pid ${gs.proc.pid}, root ${t.root})\n`]);
  await waitFor("a failed attempt", async () => (await exec(t, env, "status")).code === 1, 10_000, 100);
  const bad = await exec(t, env, "status");
  expect(bad.code).toBe(1);
  expect(bad.stdout).toMatch(/^failures: +1 consecutive$/m);
  expect(bad.stdout).toMatch(/^last error: +\S/m);
  expect(bad.stdout).toMatch(new RegExp(`^hash: +${h1}$`, "m")); // the previous content is still served
  const badJson = await exec(t, env, "status", "--json");
  expect(badJson.code).toBe(1);
  const failing = JSON.parse(badJson.stdout) as Record<string, unknown>;
  expect(failing).toMatchObject({ hash: h1, consecutiveFailures: 1 });
  expect(failing.lastError).not.toBe("");

  // Repaired: healthy again.
  renameSync(moved, t.repo);
  expect((await exec(t, env, "sync-now")).code).toBe(0);
  await waitFor("healthy again", async () => (await exec(t, env, "status")).code === 0, 10_000, 100);

  // Without a reachable endpoint, the root alone still answers (exit 1: nothing live to ask).
  await gs.stop("SIGKILL");
  const rootOnly = await exec(t, env, "status");
  expect(rootOnly.code).toBe(1);
  expect(rootOnly.stdout).toMatch(new RegExp(`^hash: +${h1}$`, "m"));
  expect(rootOnly.stdout).toMatch(/^note: +can't read the endpoint/m);
}, 45_000);

// --serve-git (issue 22): /status and `git-sync status` say how the mirror is doing and what it
// serves; clones, a refused request and a moved branch show up there.
test.concurrent("git-sync status with --serve-git: requests by result, bytes sent, the advertised refs and when they changed", async () => {
  await using t = await scenario();
  const port = freePort();
  const mirrorSecret = join(t.dir, "mirror-secret");
  writeFileSync(mirrorSecret, "m1rror-s3cret\n");
  const env = podEnv(t, port, { GITSYNC_REF: "main", GITSYNC_SERVE_GIT: "true", GITSYNC_SERVE_GIT_SECRET_FILE: mirrorSecret });
  const gs = t.spawn([], { env });
  const h1 = head(t.repo);
  await waitSynced(t, gs, h1);
  type Serve = { auth: string; maxPacks: number; inFlight: number; requests: Record<string, number>; bytesSent: number; refs: Array<{ name: string; oid: string }>; changedAt: string | null };
  const serveDoc = async () => (JSON.parse((await exec(t, env, "status", "--json")).stdout) as { serve: Serve }).serve;
  // The advertisement follows the link after the attempt that moved it.
  await waitFor("the mirror advertises h1", async () => (await serveDoc()).refs.some((r) => r.oid === h1));

  // A clone (protocol v2, the mirror's --depth=1), then a request without the secret.
  const url = `http://x:m1rror-s3cret@127.0.0.1:${port}/git`;
  git(t.dir, "clone", "-q", "--depth=1", url, join(t.dir, "clone"));
  expect(head(join(t.dir, "clone"))).toBe(h1);
  // git's first request carries no credentials even when the URL holds them (curl waits for the
  // 401 challenge), so a clone itself counts one unauthorized.
  // A fetch is counted when its git process exits, which may be just after the clone returns.
  const settled = () => waitFor("no git process running for /git", async () => {
    const d = await serveDoc();
    return d.inFlight === 0 ? d : null;
  });
  const cloned = (await settled()).requests.unauthorized ?? 0;
  expect((await fetch(`http://127.0.0.1:${port}/git/info/refs?service=git-upload-pack`)).status).toBe(401);

  const first = await settled();
  expect(first).toMatchObject({ auth: "secret", maxPacks: 4, inFlight: 0, refs: [{ name: "HEAD", oid: h1 }, { name: "refs/heads/main", oid: h1 }] });
  expect(first.requests.unauthorized).toBe(cloned + 1);
  // The advertisement, ls-refs and the fetch, at least.
  expect(first.requests.ok).toBeGreaterThanOrEqual(3);
  expect(first.bytesSent).toBeGreaterThan(0);
  expect(first.changedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const text = await exec(t, env, "status");
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(new RegExp(`^git mirror: +/git \\(secret\\), 0 of 4 packs running, ${first.requests.ok! + cloned + 1} requests \\(${first.requests.ok} ok, ${cloned + 1} unauthorized\\), [0-9.]+ (B|KiB) sent$`, "m"));
  expect(text.stdout).toMatch(new RegExp(`^git mirror refs: +HEAD, refs/heads/main -> ${h1}; since \\d+s ago \\(${first.changedAt!.replaceAll(".", "\\.")}\\)$`, "m"));
  expect(text.stdout).not.toContain("m1rror-s3cret");

  // The branch moves: the refs and changedAt follow it.
  const h2 = commit(t.repo, "file", "two\n");
  expect((await exec(t, env, "sync-now")).code).toBe(0);
  await waitFor("the mirror advertises h2", async () => (await serveDoc()).refs.every((r) => r.oid === h2));
  const moved = await serveDoc();
  expect(Date.parse(moved.changedAt!)).toBeGreaterThan(Date.parse(first.changedAt!));
  expect((await exec(t, env, "status")).stdout).toMatch(new RegExp(`^git mirror refs: +HEAD, refs/heads/main -> ${h2}; since`, "m"));
}, 45_000);

test.concurrent("/status has serve: null and git-sync status no mirror lines without --serve-git", async () => {
  await using t = await scenario();
  const port = freePort();
  const env = podEnv(t, port);
  const gs = t.spawn([], { env });
  await waitSynced(t, gs, head(t.repo));
  const st = await exec(t, env, "status", "--json");
  expect((JSON.parse(st.stdout) as { serve: unknown }).serve).toBeNull();
  expect((await exec(t, env, "status")).stdout).not.toContain("git mirror");
});

test.concurrent("git-sync sync-now against a running instance with --period=1h", async () => {
  await using t = await scenario();
  const port = freePort();
  const env = podEnv(t, port);
  const gs = t.spawn([], { env });
  await waitSynced(t, gs, head(t.repo));
  const h2 = commit(t.repo, "file", "two\n");
  await Bun.sleep(300);
  expect(t.hash()).not.toBe(h2);
  const r = await exec(t, env, "sync-now");
  expect([r.code, r.stderr]).toEqual([0, ""]);
  expect(r.stdout).toBe(`sync requested (POST http://127.0.0.1:${port}/sync; pid ${gs.proc.pid}, root ${t.root})\n`);
  // Synced at once: the period is an hour.
  await waitSynced(t, gs, h2);
  expect(t.read()).toBe("two\n");

  // No endpoint reachable: sync-now says so and fails.
  await gs.stop("SIGKILL");
  expect((await exec(t, env, "sync-now")).code).toBe(1);
}, 45_000);

test.concurrent("--sync-on-signal=SIGHUP: kill -HUP (and sync-now without an endpoint) syncs now", async () => {
  await using t = await scenario();
  const gs = t.start("--period=1h", "--sync-on-signal=SIGHUP");
  await waitSynced(t, gs, head(t.repo));

  const h2 = commit(t.repo, "file", "two\n");
  await Bun.sleep(300);
  expect(t.hash()).not.toBe(h2);
  // The shell's kill, as `kubectl exec <pod> -- kill -HUP 1` runs it (procps' kill is optional).
  const kill = Bun.spawnSync(["sh", "-c", `kill -HUP ${gs.proc.pid}`]);
  expect(kill.exitCode).toBe(0);
  await waitSynced(t, gs, h2);
  expect(t.read()).toBe("two\n");

  // The exec path when the pod has no endpoint: the signal from GITSYNC_SYNC_ON_SIGNAL, sent to
  // the instance's process (named by --pid here: other tests run instances beside this one).
  const h3 = commit(t.repo, "file", "three\n");
  const r = await exec(t, { GITSYNC_SYNC_ON_SIGNAL: "SIGHUP" }, "sync-now", `--pid=${gs.proc.pid}`);
  expect([r.code, r.stdout]).toEqual([0, `sync requested (SIGHUP sent to PID ${gs.proc.pid}; root ${t.root})\n`]);
  await waitSynced(t, gs, h3);
  expect(gs.done).toBe(false);
}, 45_000);

// A v4 manifest configures git-sync through `args:`, so `kubectl exec` gets none of it in its
// environment: the subcommands find the instance from its own command line (/proc/<pid>/cmdline).
test.concurrent("status and sync-now find an args-configured instance from its command line, with an empty env", async () => {
  await using t = await scenario();
  const port = freePort();
  // A relative secret file: sync-now resolves it against the instance's working directory.
  writeFileSync(join(t.dir, "sync-secret"), "args-s3cret");
  const gs = t.spawn(t.args("--period=1h", `--http-bind=127.0.0.1:${port}`, "--http-sync-secret-file=sync-secret"), { cwd: t.dir });
  await waitSynced(t, gs, head(t.repo));
  const pid = String(gs.proc.pid);

  const st = await exec(t, {}, "status", "--pid", pid);
  expect(st.code).toBe(0);
  expect(st.stdout).toMatch(new RegExp(`^hash: +${head(t.repo)}$`, "m"));

  const next = commit(t.repo, "file", "from sync-now\n");
  const now = await exec(t, {}, "sync-now", "--pid", pid);
  expect(now.code).toBe(0);
  expect(now.stdout).toContain(`POST http://127.0.0.1:${port}/sync`);
  await waitSynced(t, gs, next);
});

test.concurrent("status reads the root of an args-configured instance without an endpoint", async () => {
  await using t = await scenario();
  const gs = t.start("--period=1h", "--error-file=error.json");
  await waitSynced(t, gs, head(t.repo));
  const st = await exec(t, {}, "status", "--pid", String(gs.proc.pid), "--json");
  expect(st.code).toBe(0);
  expect(JSON.parse(st.stdout)).toMatchObject({ root: t.root, link: t.link, hash: head(t.repo), error: "" });
});

test.concurrent("sync-now sends an args-configured instance its --sync-on-signal signal", async () => {
  await using t = await scenario();
  const gs = t.start("--period=1h", "--sync-on-signal=SIGUSR1");
  await waitSynced(t, gs, head(t.repo));
  const next = commit(t.repo, "file", "by signal\n");
  const now = await exec(t, {}, "sync-now", "--pid", String(gs.proc.pid));
  expect(now.code).toBe(0);
  expect(now.stdout).toContain("SIGUSR1");
  await waitSynced(t, gs, next);
});

test.concurrent("sync-now exits 2 for an instance whose POST /sync is off and that has no --sync-on-signal", async () => {
  await using t = await scenario();
  const port = freePort();
  const gs = t.start("--period=1h", `--http-bind=127.0.0.1:${port}`);
  await waitSynced(t, gs, head(t.repo));
  const now = await exec(t, {}, "sync-now", "--pid", String(gs.proc.pid));
  expect(now.code).toBe(2);
  expect(now.stderr).toContain("start it with --http-bind and --http-sync-secret-file");
});

// With shareProcessNamespace (or any PID 1 that is not git-sync, here a shell), /proc/1/cmdline
// tells nothing: status finds the instance among the namespace's other processes.
test.skipIf(missing("pid-namespace")).concurrent("status finds an args-configured instance that is not PID 1 (shareProcessNamespace)", async () => {
  await using t = await scenario();
  const script = `"$0" --repo="$1" --root="$2" --link=link --period=1h 2>/dev/null &
for i in $(seq 150); do [ -L "$2/link" ] && break; sleep 0.1; done
"$0" status; echo "rc=$?"; kill $!; wait`;
  const p = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/sh", "-c", script, BIN, t.repo, t.root], { env: gitEnv(), stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  expect(out).toMatch(new RegExp(`^hash: +${head(t.repo)}$`, "m"));
  expect(out).toContain("rc=0");
}, 30_000);

// Two instances on one machine (a laptop mirroring two repos, tests side by side): `status
// --root=B` must report B, never borrow the running A's link or error file.
test.concurrent("status --root of a root no instance runs does not report another instance's error", async () => {
  await using a = await scenario();
  await using b = await scenario();
  // A runs and fails (its repo is gone), so its error file says so.
  const gsA = a.spawn([`--repo=${a.dir}/no-such-repo`, `--root=${a.root}`, "--link=link", "--period=100ms", "--max-failures=-1", "--error-file=error.json"]);
  await waitFor("A's error file", () => existsSync(join(a.root, "error.json")));
  // B is synced once and left.
  expect((await b.run(b.args("--one-time"))).code).toBe(0);
  const st = await exec(b, {}, "status", `--root=${b.root}`, "--link=link");
  expect(st.stdout).not.toContain("no-such-repo");
  expect(st.stdout).toMatch(new RegExp(`^hash: +${head(b.repo)}$`, "m"));
  expect(st.code).toBe(0);
  gsA.proc.kill();
});
