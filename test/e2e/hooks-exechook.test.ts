// The exechook of the compiled binary (behaviour.md 4.2 step 8, 4.5, 5.1, 5.2, 5.5): real `#!/bin/sh`
// hooks that log what they saw, a real webhook receiver for the metrics scenario.
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { commit, freePort, git, head, httpGet, jsonLines, metricValue, readOr, scenario, waitFor } from "../helpers/index.ts";
import { Receiver, script } from "../hooks/_fixtures.ts";

// The helpers set a default timeout only for the first test file that loads them; scenarios here
// queue for a slot and wait out backoffs, so give each test room (they set tighter waits themselves).
setDefaultTimeout(30_000);

/** The non-empty lines a hook appended to `path` so far. */
function lines(path: string): string[] {
  return (readOr(path) ?? "").split("\n").filter((l) => l !== "");
}

/** A receiver on 127.0.0.1 that stops with the `using` scope. */
function receiver(port = 0, onHit?: ConstructorParameters<typeof Receiver>[1]) {
  const r = new Receiver(port, onHit).start();
  return Object.assign(r, { [Symbol.dispose]: () => r.stop() });
}

/** A hook that fails its first `failures` runs, then succeeds; each run appends "<n> <ms> <hash>" to `log`. */
function flakyHook(dir: string, name: string, failures: number): { path: string; log: string } {
  const log = join(dir, `${name}.log`);
  const count = join(dir, `${name}.count`);
  const path = script(
    dir,
    `${name}.sh`,
    [
      `n=$(( $(cat '${count}' 2>/dev/null || echo 0) + 1 ))`,
      `echo $n > '${count}'`,
      `echo "$n $(date +%s%3N) $GITSYNC_HASH" >> '${log}'`,
      `[ $n -gt ${failures} ] || { echo "failing run $n" >&2; exit 1; }`,
    ].join("\n"),
  );
  return { path, log };
}

test.concurrent("exechook runs once per update with GITSYNC_HASH, cwd = the worktree and the private git config", async () => {
  await using t = await scenario();
  const log = join(t.dir, "hook.log");
  // `git` inside the hook: HEAD of the worktree it runs in, and a key of git-sync's private global config.
  const hook = script(
    t.dir,
    "hook.sh",
    `echo "$GITSYNC_HASH|$PWD|$(git rev-parse HEAD)|$GIT_CONFIG_GLOBAL|$(git config --global --get safe.directory)" >> '${log}'`,
  );
  t.start("--period=100ms", `--exechook-command=${hook}`, "--exechook-backoff=1s");
  const h0 = head(t.repo);
  await waitFor("the hook run for the first hash", () => lines(log).length >= 1);
  const h1 = commit(t.repo, "file", "two\n");
  await t.waitHash(h1);
  await waitFor("the hook run for the second hash", () => lines(log).length >= 2);
  // Several periods of no-op syncs: they do not run the hook again.
  await Bun.sleep(500);
  const runs = lines(log).map((l) => l.split("|"));
  expect(runs.map((r) => r[0])).toEqual([h0, h1]);
  for (const [hash, cwd, gitHead, gitConfig, safeDir] of runs) {
    expect(cwd).toBe(t.worktree(hash!));
    expect(gitHead).toBe(hash);
    // The private gitconfig under $TMPDIR, not the test's GIT_CONFIG_GLOBAL=/dev/null.
    expect(gitConfig!.startsWith(join(t.dir, "tmp", "git-sync."))).toBe(true);
    expect(gitConfig!.endsWith("/gitconfig")).toBe(true);
    expect(safeDir).toBe("*");
  }
});

test.concurrent("exechook that fails N times then succeeds is retried at the backoff: exactly N+1 runs", async () => {
  await using t = await scenario();
  const N = 2;
  const hook = flakyHook(t.dir, "flaky", N);
  const gs = t.start("--period=100ms", `--exechook-command=${hook.path}`, "--exechook-backoff=1s");
  await waitFor(`${N + 1} hook runs`, () => lines(hook.log).length >= N + 1, 15_000);
  // Longer than a backoff: a hook that succeeded is not run again.
  await Bun.sleep(1300);
  const runs = lines(hook.log).map((l) => l.split(" "));
  expect(runs.length).toBe(N + 1);
  expect(new Set(runs.map((r) => r[2]))).toEqual(new Set([head(t.repo)]));
  // Never before the backoff; how much later depends on the machine, so each failure's own
  // log line says when it is retried.
  for (let i = 1; i < runs.length; i++) expect(Number(runs[i]![1]) - Number(runs[i - 1]![1])).toBeGreaterThanOrEqual(950);
  const failed = gs.logs().filter((l) => l.logger === "exechook" && l.msg === "hook failed");
  expect(failed.length).toBe(N);
  expect(failed.map((f) => f.retry)).toEqual(Array(N).fill("1s"));
  expect(String(failed[0]!.error)).toContain("exit status 1");
  expect(String(failed[0]!.error)).toContain("failing run 1");
});

test.concurrent("one-time: a passing exechook runs once and exits 0", async () => {
  await using t = await scenario();
  const log = join(t.dir, "hook.log");
  const hook = script(t.dir, "hook.sh", `echo "$GITSYNC_HASH" >> '${log}'`);
  const r = await t.sync(`--exechook-command=${hook}`);
  expect(r.code).toBe(0);
  expect(lines(log)).toEqual([head(t.repo)]);
  expect(t.hash()).toBe(head(t.repo));
});

test.concurrent("one-time: a failing exechook runs exactly once, exits 1, and the link is still published", async () => {
  await using t = await scenario();
  const log = join(t.dir, "hook.log");
  const hook = script(t.dir, "hook.sh", `echo "$GITSYNC_HASH" >> '${log}'\nexit 3`);
  const r = await t.sync(`--exechook-command=${hook}`, "--exechook-backoff=1s");
  expect(r.code).toBe(1);
  expect(lines(log)).toEqual([head(t.repo)]);
  expect(t.hash()).toBe(head(t.repo));
  expect(t.read()).toBe("initial\n");
  const failed = r.stderr.split("\n").filter((l) => l.includes('"hook failed"'));
  expect(failed.length).toBe(1);
  expect(failed[0]).toContain("exit status 3");
});

test.concurrent('--exechook-command="ls -la /x" says the command was not found and that arguments need a wrapper script or --exechook-argv', async () => {
  await using t = await scenario();
  const r = await t.sync("--exechook-command=ls -la /x");
  expect(r.code).toBe(1);
  const failed = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.logger === "exechook" && l.msg === "hook failed");
  expect(failed.length).toBe(1);
  const error = String(failed[0]!.error);
  expect(error).toContain('"ls -la /x" not found');
  expect(error).toContain("takes no arguments");
  expect(error).toContain("wrapper script");
  expect(error).toContain("--exechook-argv");
  // Not an opaque spawn error.
  expect(error).not.toContain("ENOENT");
  expect(t.hash()).toBe(head(t.repo));
});

test.concurrent("a relative exechook runs from the synced tree, and when it is not there the error says where it looked", async () => {
  await using t = await scenario();
  // Beside the root, where the user started git-sync: not where a relative hook is looked for.
  const log = join(t.dir, "hook.log");
  script(t.dir, "hook.sh", `echo "$PWD" >> '${log}'`);
  const r = await t.run(["--one-time", ...t.args("--exechook-command=./hook.sh")], { cwd: t.dir });
  expect(r.code).toBe(1);
  const failed = jsonLines(r.stderr).filter((l) => l.logger === "exechook" && l.msg === "hook failed");
  expect(failed.length).toBe(1);
  const hash = head(t.repo);
  expect(String(failed[0]!.error)).toBe(
    `exechook command "./hook.sh" not found (or not executable) in the worktree ${t.worktree(hash)}: ` +
      "a relative path runs from the synced tree, so it must name a file of the repository; give an absolute path for a program outside it",
  );
  expect(lines(log)).toEqual([]);

  // Committed to the repository, the same relative command runs, in the worktree (upstream's cwd).
  script(t.repo, "hook.sh", `echo "$PWD" >> '${log}'`);
  git(t.repo, "add", "hook.sh");
  git(t.repo, "commit", "-qm", "add the hook");
  expect((await t.run(["--one-time", ...t.args("--exechook-command=./hook.sh")], { cwd: t.dir })).code).toBe(0);
  expect(lines(log)).toEqual([t.worktree(head(t.repo))]);
});

test.concurrent("--exechook-argv passes its arguments intact, without a shell", async () => {
  await using t = await scenario();
  const log = join(t.dir, "hook.log");
  const hook = script(t.dir, "argv.sh", `{ printf '%s %s %s' "$#" "$GITSYNC_HASH" "$PWD"; for a in "$@"; do printf ' [%s]' "$a"; done; echo; } >> '${log}'`);
  const r = await t.sync(`--exechook-argv=${JSON.stringify([hook, "a b", "c", "$HOME *"])}`);
  expect(r.code).toBe(0);
  const h = head(t.repo);
  expect(lines(log)).toEqual([`3 ${h} ${t.worktree(h)} [a b] [c] [$HOME *]`]);
});

test.concurrent("metrics count each hook's failures and successes exactly", async () => {
  await using t = await scenario();
  const port = freePort();
  const exec = flakyHook(t.dir, "exec", 1);
  const pre = flakyHook(t.dir, "pre", 1);
  // The webhook answers 500 once, then 200.
  using rcv = receiver(0, () => (rcv.status = rcv.hits.length === 1 ? 500 : 200));
  t.start(
    "--period=100ms",
    `--http-bind=127.0.0.1:${port}`,
    "--http-metrics",
    `--exechook-command=${exec.path}`,
    "--exechook-backoff=1s",
    `--pre-publish-exechook-command=${pre.path}`,
    "--pre-publish-exechook-backoff=1s",
    `--webhook-url=${rcv.url}`,
    "--webhook-backoff=1s",
  );
  const series = (name: string, status: string) => `git_sync_hook_run_count_total{name="${name}",status="${status}"}`;
  const names = ["exechook", "pre-publish-exechook", "webhook"];
  const text = async () => {
    try {
      return (await httpGet(port, "/metrics")).body;
    } catch {
      return "";
    }
  };
  await waitFor("a success of every hook", async () => {
    const m = await text();
    return names.every((n) => metricValue(m, series(n, "success")) === 1);
  });
  const m = await text();
  for (const n of names) {
    expect(`${n} error ${metricValue(m, series(n, "error"))}`).toBe(`${n} error 1`);
    expect(`${n} success ${metricValue(m, series(n, "success"))}`).toBe(`${n} success 1`);
  }
  expect(rcv.hits.length).toBe(2);
  expect(lines(exec.log).length).toBe(2);
  expect(lines(pre.log).length).toBe(2);
});
