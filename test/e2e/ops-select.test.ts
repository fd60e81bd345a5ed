// Which instance `git-sync status` and `git-sync sync-now` talk to (issue 21): two instances on
// one host (a laptop mirroring two repos, a Pod with shareProcessNamespace and two sidecars), each
// selected by its --root, --link or --http-bind; several and nothing to tell them apart -> a list
// and exit 2; sync-now signals the instance it found, not PID 1; a restarted instance reports
// what it still serves from before; a root read with nothing running finds its one link. Not
// instances: another user's processes, git's askpass calls into the binary; an instance whose
// binary was replaced is one; nothing of the environment's instance is lent to a root it does
// not run; a link named after the repo's credentials is shown without them.
import { expect, test } from "bun:test";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readlinkSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { missing } from "../helpers/prereqs.ts";
import { BIN, type Running, type Scenario, commit, freePort, gitEnv, head, httpGet, readOr, scenario, waitFor } from "../helpers/index.ts";

const noNamespaces = missing("pid-namespace");

/** `kubectl exec` / a shell on the laptop: a new process of the binary, with an empty environment. */
function exec(t: Scenario, ...args: string[]) {
  return t.run(args, { timeoutMs: 10_000 });
}

async function waitSynced(t: Scenario, gs: Running, hash: string): Promise<void> {
  await waitFor(`link -> ${hash}`, () => t.hash() === hash || gs.done, 15_000);
  if (gs.done) throw new Error(`git-sync exited ${gs.code}:\n${gs.stderr}`);
}

test.concurrent("two instances on one host: --root, --link and --http-bind each select theirs; nothing given lists both, exit 2", async () => {
  await using a = await scenario();
  await using b = await scenario();
  const [portA, portB] = [freePort(), freePort()];
  // A fails (its repo is gone) under another link name, so a mix-up of the two would show.
  const gsA = a.spawn([`--repo=${a.dir}/no-such-repo`, `--root=${a.root}`, "--link=alink", "--period=1h", "--max-failures=-1", "--error-file=error.json", `--http-bind=127.0.0.1:${portA}`]);
  const gsB = b.start("--period=1h", `--http-bind=127.0.0.1:${portB}`, "--sync-on-signal=SIGHUP");
  await waitFor("A's first failure", () => existsSync(join(a.root, "error.json")) || gsA.done);
  await waitSynced(b, gsB, head(b.repo));

  const isB = (out: string) => {
    expect(out).toMatch(new RegExp(`^hash: +${head(b.repo)}$`, "m"));
    expect(out).toMatch(new RegExp(`^root: +${b.root}$`, "m"));
    expect(out).toMatch(new RegExp(`^instance: +pid ${gsB.proc.pid},`, "m"));
  };
  const isA = (out: string) => {
    expect(out).toMatch(new RegExp(`^root: +${a.root}$`, "m"));
    expect(out).toMatch(new RegExp(`^link: +${join(a.root, "alink")}$`, "m"));
    expect(out).toMatch(/^last error: +\S/m);
    expect(out).toMatch(new RegExp(`^instance: +pid ${gsA.proc.pid},`, "m"));
  };
  for (const sel of [`--root=${b.root}`, `--link=${b.link}`, `--http-bind=127.0.0.1:${portB}`, `--http-bind=:${portB}`]) {
    const st = await exec(b, "status", sel);
    expect([sel, st.code, st.stderr]).toEqual([sel, 0, ""]);
    isB(st.stdout);
  }
  for (const sel of [`--root=${a.root}`, `--link=${join(a.root, "alink")}`, `--http-bind=127.0.0.1:${portA}`]) {
    const st = await exec(a, "status", sel);
    expect([sel, st.code]).toEqual([sel, 1]);
    isA(st.stdout);
  }
  // --json: the instance's own document.
  const json = await exec(b, "status", "--json", `--root=${b.root}`);
  expect(JSON.parse(json.stdout)).toMatchObject({ pid: gsB.proc.pid, root: b.root, hash: head(b.repo), hashFromBeforeStart: false });

  // Without the endpoint, from B's root alone: B's link and B's pid, never A's link name.
  const rootOnly = await exec(b, "status", `--root=${b.root}`, "--http-bind=");
  expect(rootOnly.code).toBe(0);
  expect(rootOnly.stdout).toMatch(new RegExp(`^link: +${b.link}$`, "m"));
  expect(rootOnly.stdout).toMatch(new RegExp(`^hash: +${head(b.repo)}$`, "m"));
  expect(rootOnly.stdout).toMatch(new RegExp(`^instance: +pid ${gsB.proc.pid}$`, "m"));

  // Flags that name different instances, or nothing at all: a list to choose from, exit 2.
  const listed = (stderr: string) => {
    expect(stderr).toContain(`pid ${gsA.proc.pid}  root ${a.root}  link ${join(a.root, "alink")}  http-bind 127.0.0.1:${portA}\n`);
    expect(stderr).toContain(`pid ${gsB.proc.pid}  root ${b.root}  link ${b.link}  http-bind 127.0.0.1:${portB}\n`);
  };
  const mixed = await exec(b, "status", `--root=${a.root}`, `--http-bind=127.0.0.1:${portB}`);
  expect([mixed.code, mixed.stdout]).toEqual([2, ""]);
  expect(mixed.stderr).toContain(`--root=${a.root} --http-bind=127.0.0.1:${portB} do not name one running git-sync; say which with`);
  listed(mixed.stderr);
  for (const cmd of ["status", "sync-now"]) {
    const r = await exec(b, cmd);
    expect([cmd, r.code, r.stdout]).toEqual([cmd, 2, ""]);
    expect(r.stderr).toMatch(/git-syncs are running here; say which with --root, --link, --http-bind or --pid:\n/);
    listed(r.stderr);
  }

  // sync-now --root=B: B's --sync-on-signal, sent to B's process; B syncs the new commit.
  const next = commit(b.repo, "file", "by sync-now\n");
  const now = await exec(b, "sync-now", `--root=${b.root}`);
  expect([now.code, now.stderr, now.stdout]).toEqual([0, "", `sync requested (SIGHUP sent to PID ${gsB.proc.pid}; root ${b.root})\n`]);
  await waitSynced(b, gsB, next);
  expect(gsA.done).toBe(false);
}, 60_000);

test.skipIf(noNamespaces).concurrent("sync-now in a namespace whose PID 1 is not git-sync signals the only instance, which syncs", async () => {
  await using t = await scenario();
  const go = join(t.dir, "go");
  // PID 1 is a shell (the pause container of a shareProcessNamespace Pod, or systemd on a host).
  const script = `"$0" --repo="$1" --root="$2" --link=link --period=1h --sync-on-signal=SIGHUP 2>/dev/null &
echo "instance=$!"
for i in $(seq 150); do [ -e "$3" ] && break; sleep 0.1; done
"$0" sync-now; echo "rc=$?"
for i in $(seq 150); do [ "$(readlink "$2/link")" = ".worktrees/$(cat "$3")" ] && echo synced && break; sleep 0.1; done
kill $!; wait`;
  const p = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/sh", "-c", script, BIN, t.repo, t.root, go], { env: gitEnv(), stdout: "pipe", stderr: "pipe" });
  await waitFor("the first sync", () => t.hash() === head(t.repo));
  writeFileSync(go, commit(t.repo, "file", "two\n"));
  const out = await new Response(p.stdout).text();
  await p.exited;
  const pid = /^instance=(\d+)$/m.exec(out)?.[1];
  expect(out).toContain(`sync requested (SIGHUP sent to PID ${pid}; root ${t.root})`);
  expect(out).toContain("rc=0");
  expect(out).toContain("synced");
}, 30_000);

test.skipIf(noNamespaces).concurrent("in a container whose PID 1 is git-sync's init, sync-now and status with nothing given find it", async () => {
  await using t = await scenario();
  const port = freePort();
  const ns = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", BIN, ...t.args("--period=1h", "--sync-on-signal=SIGHUP", `--http-bind=127.0.0.1:${port}`)], {
    env: gitEnv(t.env),
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    await waitFor("the first sync", () => t.hash() === head(t.repo));
    const pid1 = await waitFor("the namespace's PID 1", () => Number(readOr(`/proc/${ns.pid}/task/${ns.pid}/children`)?.trim().split(" ")[0]) || 0);
    // `kubectl exec`: a process entering the namespace, with an empty environment.
    const inside = (...args: string[]) => {
      const r = Bun.spawnSync(["nsenter", `--target=${pid1}`, "--pid", "--mount", BIN, ...args], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    };
    const st = inside("status");
    expect([st.code, st.stderr]).toEqual([0, ""]);
    expect(st.stdout).toMatch(new RegExp(`^hash: +${head(t.repo)}$`, "m"));
    // The init's child is the instance (its /status says so); PID 1 only forwards.
    const child = /^instance: +pid (\d+),/m.exec(st.stdout)?.[1];
    expect(child).not.toBe("1");
    const next = commit(t.repo, "file", "two\n");
    const now = inside("sync-now");
    expect([now.code, now.stderr, now.stdout]).toEqual([0, "", `sync requested (SIGHUP sent to PID ${child}; root ${t.root})\n`]);
    await waitFor("the signalled sync", () => t.hash() === next);
  } finally {
    ns.kill("SIGKILL");
    await ns.exited;
  }
}, 30_000);

test.concurrent("after a restart, status reports the hash still served from before until the first sync, live and from the root alike", async () => {
  await using t = await scenario();
  const h1 = head(t.repo);
  const first = t.start("--period=1h");
  await waitSynced(t, first, h1);
  await first.stop("SIGKILL");

  // The new process's first attempt fetches the new commit through a git that waits at the gate.
  const h2 = commit(t.repo, "file", "two\n");
  const [fetching, gate] = [join(t.dir, "fetching"), join(t.dir, "gate")];
  const wrapper = join(t.dir, "gated-git");
  writeFileSync(
    wrapper,
    `#!/bin/bash
for a in "$@"; do if [ "$a" = fetch ]; then touch '${fetching}'; while [ ! -e '${gate}' ]; do sleep 0.05; done; break; fi; done
exec ${Bun.which("git") ?? "git"} "$@"
`,
    { mode: 0o755 },
  );
  const port = freePort();
  const gs = t.start("--period=1h", `--git=${wrapper}`, `--http-bind=127.0.0.1:${port}`);
  await waitFor("the first attempt's fetch", () => existsSync(fetching) || gs.done);
  expect(gs.done).toBe(false);

  const live = await exec(t, "status", `--root=${t.root}`);
  expect(live.code).toBe(1); // not ready: this process has not synced yet
  expect(live.stdout).toMatch(new RegExp(`^hash: +${h1} \\(served from before this start; first sync pending\\)$`, "m"));
  expect(live.stdout).toMatch(/^last success: +none since this start$/m);
  expect(live.stdout).toMatch(new RegExp(`^instance: +pid ${gs.proc.pid},`, "m"));
  const doc = JSON.parse((await exec(t, "status", "--json", `--root=${t.root}`)).stdout) as Record<string, unknown>;
  expect(doc).toMatchObject({ hash: h1, hashFromBeforeStart: true, lastSuccess: null, ready: false, pid: gs.proc.pid });
  // The root alone says the same.
  const fromRoot = await exec(t, "status", `--root=${t.root}`, "--http-bind=");
  expect(fromRoot.stdout).toMatch(new RegExp(`^hash: +${h1}$`, "m"));

  writeFileSync(gate, "");
  await waitSynced(t, gs, h2);
  const after = (await waitFor("status after the first sync", async () => {
    const r = await exec(t, "status", `--root=${t.root}`);
    return r.code === 0 ? r : null;
  }))!;
  expect(after.stdout).toMatch(new RegExp(`^hash: +${h2}$`, "m"));
  expect(after.stdout).toMatch(/^last success: +\d+s ago \(/m);
}, 45_000);

test.concurrent("with nothing running, status --root finds the root's one link; with two it lists them, exit 2", async () => {
  await using t = await scenario();
  const h = head(t.repo);
  await t.syncOk();
  const one = await exec(t, "status", `--root=${t.root}`);
  expect([one.code, one.stderr]).toEqual([0, ""]);
  expect(one.stdout).toMatch(new RegExp(`^link: +${t.link}$`, "m"));
  expect(one.stdout).toMatch(new RegExp(`^hash: +${h}$`, "m"));
  expect(one.stdout).toMatch(/^instance: +none found running$/m);

  // The --also-link registry's links are not the main link.
  await t.syncOk("--also-link=extra=main");
  const registered = await exec(t, "status", `--root=${t.root}`);
  expect(registered.code).toBe(0);
  expect(registered.stdout).toMatch(new RegExp(`^link: +${t.link}$`, "m"));
  expect(registered.stdout).toMatch(new RegExp(`^link extra: ${h}$`, "m"));

  // A second, unregistered link in the same root: which one is meant is unclear.
  await t.run(["--one-time", `--repo=${t.repo}`, `--root=${t.root}`, "--link=other"]);
  const two = await exec(t, "status", `--root=${t.root}`);
  expect([two.code, two.stdout]).toEqual([2, ""]);
  expect(two.stderr).toContain(`can't read root ${t.root}: it holds 2 links (link, other); say which with --link`);
  const chosen = await exec(t, "status", `--root=${t.root}`, "--link=other");
  expect(chosen.code).toBe(0);
  expect(chosen.stdout).toMatch(new RegExp(`^link: +${join(t.root, "other")}$`, "m"));
});

/** A long-running process with argv and options of our own; its stderr is collected. */
function spawnRaw(argv: string[], opts: { env: Record<string, string>; cwd?: string; stdout?: number | "ignore" }) {
  const proc = Bun.spawn(argv, { env: opts.env, cwd: opts.cwd, stdout: opts.stdout ?? "ignore", stderr: "pipe" });
  const out = { proc, stderr: "", done: false };
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) out.stderr += dec.decode(chunk, { stream: true });
  })();
  void proc.exited.then(() => (out.done = true));
  return out;
}

// Run as root, status and sync-now read files named by the instance's command line (its secret,
// its error file) with root's rights: an instance of another user must never be one.
test.skipIf(missing("other-user")).concurrent("an instance run by another user is not a candidate: sync-now does not send it our secret, status does not read its error file, --pid refuses", async () => {
  await using t = await scenario();
  const home = join(t.dir, "nobody");
  mkdirSync(home);
  chownSync(home, 65534, 65534);
  chmodSync(t.dir, 0o755);
  // Files only root may read, named as the other user's secret and error file.
  const secret = join(t.dir, "root-only-secret");
  writeFileSync(secret, "root-only-s3cret\n", { mode: 0o600 });
  const errorFile = join(t.dir, "root-only-error");
  writeFileSync(errorFile, "root-only-error-content\n", { mode: 0o600 });
  const port = freePort();
  const root = join(home, "root");
  const args = [`--repo=${home}/no-such-repo`, `--root=${root}`, "--link=link", "--period=1h", "--max-failures=-1", `--error-file=${errorFile}`, `--http-bind=127.0.0.1:${port}`, `--http-sync-secret-file=${secret}`, "--sync-on-signal=SIGHUP"];
  const other = spawnRaw(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, ...args], { env: gitEnv({ HOME: home, TMPDIR: home }), cwd: home });
  try {
    await waitFor("the other user's instance to serve", () => other.stderr.includes('"serving HTTP"') || other.done);
    expect(other.done).toBe(false);
    const pid = other.proc.pid;
    const notYou = `pid ${pid} runs as uid 65534, not as you (uid 0)`;

    const now = await exec(t, "sync-now", `--root=${root}`);
    expect([now.code, now.stdout]).toEqual([2, ""]);
    expect(now.stderr).not.toContain("POST");
    expect(now.stderr).toContain(notYou);
    const st = await exec(t, "status", `--root=${root}`, "--http-bind=");
    expect(st.stdout + st.stderr).not.toContain("root-only-error-content");
    expect(st.stderr).toContain(notYou);
    for (const cmd of ["status", "sync-now"]) {
      const r = await exec(t, cmd, `--pid=${pid}`);
      expect([cmd, r.code, r.stdout, r.stderr]).toEqual([cmd, 2, "", `git-sync ${cmd}: ${notYou}: run git-sync ${cmd} as that user\n`]);
    }
    expect(other.done).toBe(false);
  } finally {
    other.proc.kill("SIGKILL");
    await other.proc.exited;
  }
}, 30_000);

/** A v3 env Pod's environment: the instance is configured by it alone. */
function envPod(t: Scenario, port: number): Record<string, string> {
  const secretFile = join(t.dir, "sync-secret");
  writeFileSync(secretFile, "env-s3cret\n");
  return { GITSYNC_REPO: t.repo, GITSYNC_ROOT: t.root, GITSYNC_LINK: "link", GITSYNC_PERIOD: "1h", GITSYNC_HTTP_BIND: `127.0.0.1:${port}`, GITSYNC_HTTP_SYNC_SECRET_FILE: secretFile };
}

test.concurrent("--root of a root nothing runs: status and sync-now never borrow the endpoint of the instance the environment names", async () => {
  await using a = await scenario();
  await using b = await scenario();
  const env = envPod(a, freePort());
  const gsA = a.spawn([], { env });
  await waitSynced(a, gsA, head(a.repo));
  await b.syncOk();

  const st = await a.run(["status", `--root=${b.root}`], { env, timeoutMs: 10_000 });
  expect([st.code, st.stderr]).toEqual([0, ""]);
  expect(st.stdout).toMatch(new RegExp(`^root: +${b.root}$`, "m"));
  expect(st.stdout).toMatch(new RegExp(`^hash: +${head(b.repo)}$`, "m"));
  expect(st.stdout).toMatch(/^instance: +none found running$/m);
  const now = await a.run(["sync-now", `--root=${b.root}`], { env, timeoutMs: 10_000 });
  expect([now.code, now.stdout]).toEqual([2, ""]);
  expect(now.stderr).toContain("the instance serves no endpoint");
  // The environment's own root still reaches its instance.
  const own = await a.run(["sync-now", `--root=${a.root}`], { env, timeoutMs: 10_000 });
  expect([own.code, own.stderr]).toEqual([0, ""]);
  expect(own.stdout).toContain(`pid ${gsA.proc.pid}, root ${a.root}`);
});

// git runs the binary as its askpass helper with the instance's environment: in a v3 env Pod
// that environment is a sync configuration too, but the helper is not an instance.
test.concurrent("git's askpass call into the binary is not an instance: status while one runs finds the one the environment names", async () => {
  await using t = await scenario();
  const env = envPod(t, freePort());
  const gs = t.spawn([], { env });
  await waitSynced(t, gs, head(t.repo));
  // The helper as git starts it (argv: the prompt), held alive: its answer is larger than the
  // pipe it writes to, which nobody reads.
  const fifo = join(t.dir, "askpass-out");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const fd = openSync(fifo, "r+");
  const prompt = "Password for 'https://u@git.example.com': ";
  const payload = JSON.stringify([{ url: "https://git.example.com", username: "u", password: "p".repeat(100_000) }]);
  const helper = spawnRaw([BIN, prompt], { env: gitEnv({ ...t.env, ...env, GITSYNC_INTERNAL_ASKPASS: payload }), cwd: t.dir, stdout: fd });
  try {
    const bin = realpathSync(BIN);
    await waitFor("the helper to run the binary", () => readOr(`/proc/${helper.proc.pid}/cmdline`)?.includes(prompt) && readlinkSync(`/proc/${helper.proc.pid}/exe`) === bin);
    const st = await t.run(["status"], { env, timeoutMs: 10_000 });
    expect([st.code, st.stderr]).toEqual([0, ""]);
    expect(st.stdout).toMatch(new RegExp(`^instance: +pid ${gs.proc.pid},`, "m"));
    expect(helper.done).toBe(false);
  } finally {
    helper.proc.kill("SIGKILL");
    await helper.proc.exited;
    closeSync(fd);
  }
});

// An upgrade replaces the binary under a running instance: /proc/<pid>/exe then reads
// "<path> (deleted)", and the new binary at the same path must still find it.
test.concurrent("an instance whose binary was replaced in place is found by the new binary at the same path", async () => {
  await using t = await scenario();
  const bin = join(t.dir, "bin", "git-sync");
  mkdirSync(join(t.dir, "bin"));
  copyFileSync(BIN, bin);
  const gs = spawnRaw([bin, ...t.args("--period=1h")], { env: gitEnv(t.env), cwd: t.dir });
  try {
    await waitFor("the first sync", () => t.hash() === head(t.repo) || gs.done);
    expect(gs.done).toBe(false);
    copyFileSync(BIN, `${bin}.new`);
    renameSync(`${bin}.new`, bin);
    expect(readlinkSync(`/proc/${gs.proc.pid}/exe`)).toBe(`${bin} (deleted)`);
    const p = Bun.spawn([bin, "status", `--root=${t.root}`], { env: gitEnv(), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect([code, err]).toEqual([0, ""]);
    expect(out).toMatch(new RegExp(`^instance: +pid ${gs.proc.pid} \\(serves no endpoint\\)$`, "m"));
  } finally {
    gs.proc.kill("SIGKILL");
    await gs.proc.exited;
  }
});

// With no --link, the link is named after the repo URL's last path element; a URL without a
// path names it after its authority, user info included.
test.concurrent("a link named after a repo URL with credentials and no path is shown without them", async () => {
  await using t = await scenario();
  const port = freePort();
  const repo = `http://user:s3cr3tTok@127.0.0.1:${freePort()}`;
  const gs = t.spawn([`--repo=${repo}`, `--root=${t.root}`, "--period=1h", "--max-failures=-1", "--error-file=error.json", `--http-bind=127.0.0.1:${port}`]);
  await waitFor("the first failure", () => existsSync(join(t.root, "error.json")) || gs.done);
  expect(gs.done).toBe(false);
  const shown = join(t.root, `REDACTED@127.0.0.1:${repo.split(":").at(-1)}`);
  const secret = /s3cr3tTok|user:/;

  expect((await httpGet(port, "/status")).body).not.toMatch(secret);
  const live = await exec(t, "status", `--root=${t.root}`);
  expect(live.stdout + live.stderr).not.toMatch(secret);
  expect(live.stdout).toMatch(new RegExp(`^link: +${shown}$`, "m"));
  const rootOnly = await exec(t, "status", `--root=${t.root}`, "--http-bind=");
  expect(rootOnly.stdout + rootOnly.stderr).not.toMatch(secret);
  expect(rootOnly.stdout).toMatch(new RegExp(`^link: +${shown}$`, "m"));
  const json = await exec(t, "status", "--json", `--root=${t.root}`, "--http-bind=");
  expect(json.stdout + json.stderr).not.toMatch(secret);
  // The list to choose from (flags naming different instances) shows it the same way.
  const listed = await exec(t, "status", `--root=${t.root}`, `--http-bind=127.0.0.1:${freePort()}`);
  expect(listed.code).toBe(2);
  expect(listed.stderr).not.toMatch(secret);
  expect(listed.stderr).toContain(`pid ${gs.proc.pid}  root ${t.root}  link ${shown}  http-bind 127.0.0.1:${port}\n`);
});
