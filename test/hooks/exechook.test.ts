// Exechook and pre-publish hook, driven through createHooks with real scripts in temp dirs.
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hookRunCount } from "../../src/state/metrics.ts";
import { cleanup, tmpDir, waitFor } from "../helpers/index.ts";
import { harness, makeConfig, messages, script, worktree, type Harness } from "./_fixtures.ts";

let dir: string;
let out: string;
let h: Harness | undefined;

beforeEach(() => {
  dir = tmpDir("gs-hooks-");
  out = join(dir, "out");
  mkdirSync(out);
});
afterEach(() => {
  h?.hooks.stop();
  h = undefined;
  cleanup(dir);
});

const metric = (name: string, status: string) => hookRunCount.get({ name, status });
const lines = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : []);

/** Gone, or a zombie waiting for a reaper (it no longer runs). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

describe("exechook", () => {
  it("runs in the worktree with the environment, GITSYNC_HASH and the private git config", async () => {
    const gitconfig = join(dir, "gitconfig");
    writeFileSync(gitconfig, "[hooktest]\n\tmarker = from-private-config\n");
    const cmd = script(dir, "hook.sh", `pwd > "${out}/pwd"\necho "$GITSYNC_HASH" > "${out}/hash"\necho "$USER_VAR" > "${out}/user"\ngit config --get hooktest.marker > "${out}/git" 2>&1`);
    h = harness(makeConfig({ exechook: { command: cmd } }), {
      PATH: process.env.PATH,
      GIT_CONFIG_GLOBAL: gitconfig,
      GIT_CONFIG_NOSYSTEM: "1",
      USER_VAR: "kept",
      UNSET_VAR: undefined,
    });
    const wt = worktree(dir, "aaaa");
    const before = metric("exechook", "success");
    h.hooks.exechook!.send({ hash: "aaaa", previousHash: "", worktree: wt });
    await waitFor("hook success", () => h!.state.hooks.exechook?.lastSuccessHash === "aaaa");

    expect(readFileSync(join(out, "pwd"), "utf8").trim()).toBe(wt);
    expect(readFileSync(join(out, "hash"), "utf8").trim()).toBe("aaaa");
    expect(readFileSync(join(out, "user"), "utf8").trim()).toBe("kept");
    expect(readFileSync(join(out, "git"), "utf8").trim()).toBe("from-private-config");
    expect(metric("exechook", "success")).toBe(before + 1);

    const running = messages(h.lines, "running exechook");
    expect(running).toHaveLength(1);
    expect(running[0]).toMatchObject({ logger: "exechook", level: 0, hash: "aaaa", command: cmd, timeout: "30s" });
    expect(messages(h.lines, "exechook succeeded")[0]).toMatchObject({ logger: "exechook", level: 1, hash: "aaaa" });
    expect(h.state.hooks.exechook).toMatchObject({ name: "exechook", pending: "aaaa", lastSuccessHash: "aaaa", consecutiveFailures: 0, running: false });
  });

  it("fails twice then succeeds, retrying at the backoff", async () => {
    const cmd = script(dir, "flaky.sh", `n=$(cat "${out}/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${out}/count"\necho "$GITSYNC_HASH $(date +%s%3N)" >> "${out}/runs"\necho "try $n" ; echo "oops $n" >&2\n[ $n -gt 2 ]`);
    h = harness(makeConfig({ exechook: { command: cmd, backoff: 1000 } }));
    const [okBefore, errBefore] = [metric("exechook", "success"), metric("exechook", "error")];
    h.hooks.exechook!.send({ hash: "bbbb", previousHash: "aaaa", worktree: worktree(dir, "bbbb") });
    await waitFor("third try succeeds", () => h!.state.hooks.exechook?.lastSuccessHash === "bbbb", 10_000);

    const runs = lines(join(out, "runs")).map((l) => l.split(" "));
    expect(runs.map((r) => r[0])).toEqual(["bbbb", "bbbb", "bbbb"]);
    const times = runs.map((r) => Number(r[1]));
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(950);
    expect(metric("exechook", "error")).toBe(errBefore + 2);
    expect(metric("exechook", "success")).toBe(okBefore + 1);

    const failed = messages(h.lines, "hook failed");
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ logger: "exechook", hash: "bbbb", retry: "1s" });
    expect(failed[0]!.level).toBeUndefined();
    expect(String(failed[0]!.error)).toBe(`Run(${cmd}): exit status 1: { stdout: "try 1", stderr: "oops 1" }`);
    expect(h.state.hooks.exechook!.consecutiveFailures).toBe(0);
  });

  it("a command with arguments fails with a clear not-found message", async () => {
    h = harness(makeConfig({ exechook: { command: "ls -la /x" }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "cccc", previousHash: "", worktree: worktree(dir, "cccc") });
    expect(await h.hooks.exechook!.firstResult()).toBe(false);
    const err = String(messages(h.lines, "hook failed")[0]!.error);
    expect(err).toContain(`"ls -la /x" not found`);
    expect(err).toContain("takes no arguments");
    expect(err).toContain("wrapper script");
    expect(err).toContain(`--exechook-argv='["ls","-la","/x"]'`);
  });

  it("argv form runs the program with its arguments, without a shell", async () => {
    const prog = script(dir, "args.sh", `printf '%s|' "$#" "$@" > "${out}/args"`);
    h = harness(makeConfig({ exechook: { argv: [prog, "one two", "$HOME", "*"] }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "dddd", previousHash: "", worktree: worktree(dir, "dddd") });
    expect(await h.hooks.exechook!.firstResult()).toBe(true);
    expect(readFileSync(join(out, "args"), "utf8")).toBe("3|one two|$HOME|*|");
    expect(messages(h.lines, "running exechook")[0]).toMatchObject({ argv: [prog, "one two", "$HOME", "*"] });
  });

  it("argv form looks a bare program name up in PATH", async () => {
    h = harness(makeConfig({ exechook: { argv: ["sh", "-c", `echo "$GITSYNC_HASH" > "${out}/bare"`] }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "d0d0", previousHash: "", worktree: worktree(dir, "d0d0") });
    expect(await h.hooks.exechook!.firstResult()).toBe(true);
    expect(readFileSync(join(out, "bare"), "utf8").trim()).toBe("d0d0");
  });

  it("a timeout kills the hook's whole process group", async () => {
    const cmd = script(dir, "slow.sh", `sleep 30 &\necho $! > "${out}/bg"\nsleep 30`);
    h = harness(makeConfig({ exechook: { command: cmd, timeout: 1000 }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "eeee", previousHash: "", worktree: worktree(dir, "eeee") });
    // The hook would run for 30s; the error says the timeout ended it.
    expect(await h.hooks.exechook!.firstResult()).toBe(false);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toContain("timed out after 1s");
    const bg = Number(readFileSync(join(out, "bg"), "utf8"));
    await waitFor("grandchild sleep gone", () => processGone(bg), 15_000);
  });

  it("a hash that already succeeded is not run again; a new one is", async () => {
    const cmd = script(dir, "count.sh", `echo "$GITSYNC_HASH" >> "${out}/runs"`);
    h = harness(makeConfig({ exechook: { command: cmd } }));
    const ev = { hash: "ffff", previousHash: "", worktree: worktree(dir, "ffff") };
    h.hooks.exechook!.send(ev);
    await waitFor("first run", () => h!.state.hooks.exechook?.lastSuccessHash === "ffff");
    h.hooks.exechook!.send(ev);
    await Bun.sleep(300);
    expect(lines(join(out, "runs"))).toEqual(["ffff"]);
    h.hooks.exechook!.send({ hash: "1111", previousHash: "ffff", worktree: worktree(dir, "1111") });
    await waitFor("second run", () => h!.state.hooks.exechook?.lastSuccessHash === "1111");
    expect(lines(join(out, "runs"))).toEqual(["ffff", "1111"]);
  });

  it("hashes sent while the hook runs coalesce to the newest", async () => {
    const cmd = script(dir, "slow-ok.sh", `echo "$GITSYNC_HASH" >> "${out}/runs"\nsleep 0.3`);
    h = harness(makeConfig({ exechook: { command: cmd } }));
    h.hooks.exechook!.send({ hash: "a1", previousHash: "", worktree: worktree(dir, "a1") });
    await waitFor("first run started", () => lines(join(out, "runs")).length === 1);
    for (const hash of ["a2", "a3", "a4"]) h.hooks.exechook!.send({ hash, previousHash: "", worktree: worktree(dir, hash) });
    await waitFor("newest delivered", () => h!.state.hooks.exechook?.lastSuccessHash === "a4");
    await Bun.sleep(200);
    expect(lines(join(out, "runs"))).toEqual(["a1", "a4"]);
  });

  it("one-time: a failure is tried exactly once", async () => {
    const cmd = script(dir, "fail.sh", `echo x >> "${out}/runs"\nexit 3`);
    h = harness(makeConfig({ exechook: { command: cmd, backoff: 1000 }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "9999", previousHash: "", worktree: worktree(dir, "9999") });
    expect(await h.hooks.exechook!.firstResult()).toBe(false);
    await Bun.sleep(1300);
    expect(lines(join(out, "runs"))).toHaveLength(1);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toContain("exit status 3");
  });

  it("one-time: a success resolves true", async () => {
    const cmd = script(dir, "ok.sh", "exit 0");
    h = harness(makeConfig({ exechook: { command: cmd }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "8888", previousHash: "", worktree: worktree(dir, "8888") });
    expect(await h.hooks.exechook!.firstResult()).toBe(true);
  });

  it("stop() releases a waiter and ends the retry loop", async () => {
    const cmd = script(dir, "never.sh", `echo x >> "${out}/runs"\nexit 1`);
    h = harness(makeConfig({ exechook: { command: cmd, backoff: 1000 } }));
    h.hooks.exechook!.send({ hash: "7777", previousHash: "", worktree: worktree(dir, "7777") });
    await waitFor("first failure", () => h!.state.hooks.exechook?.consecutiveFailures === 1);
    h.hooks.stop();
    await Bun.sleep(1300);
    expect(lines(join(out, "runs"))).toHaveLength(1);
  });

  it("a missing worktree is reported as such, not as a missing command", async () => {
    const cmd = script(dir, "ok.sh", "exit 0");
    h = harness(makeConfig({ exechook: { command: cmd }, oneTime: true }));
    h.hooks.exechook!.send({ hash: "6666", previousHash: "", worktree: join(dir, "nope") });
    expect(await h.hooks.exechook!.firstResult()).toBe(false);
    expect(String(messages(h.lines, "hook failed")[0]!.error)).toContain("does not exist");
  });
});

describe("pre-publish exechook", () => {
  it("runs asynchronously under its own logger name with the new hash", async () => {
    const cmd = script(dir, "pre.sh", `echo "$GITSYNC_HASH" > "${out}/pre"`);
    h = harness(makeConfig({ prePublish: { command: cmd } }));
    expect(h.hooks.gate).toBeUndefined();
    const before = metric("pre-publish-exechook", "success");
    h.hooks.prePublish!.send({ hash: "5555", previousHash: "4444", worktree: worktree(dir, "5555") });
    expect(await h.hooks.prePublish!.firstResult()).toBe(true);
    expect(readFileSync(join(out, "pre"), "utf8").trim()).toBe("5555");
    expect(messages(h.lines, "running exechook")[0]!.logger).toBe("pre-publish-exechook");
    expect(metric("pre-publish-exechook", "success")).toBe(before + 1);
  });

  it("gate mode: one try per call, pass and fail reported to the caller", async () => {
    const cmd = script(dir, "gate.sh", `echo "$GITSYNC_HASH" >> "${out}/runs"\n[ "$GITSYNC_HASH" = good ] || { echo "bad content" >&2; exit 1; }`);
    h = harness(makeConfig({ prePublish: { command: cmd, gate: true, backoff: 1000 } }));
    expect(h.hooks.prePublish).toBeUndefined();
    const [okBefore, errBefore] = [metric("pre-publish-exechook", "success"), metric("pre-publish-exechook", "error")];

    const bad = await h.hooks.gate!({ hash: "bad", previousHash: "", worktree: worktree(dir, "bad") });
    expect(bad.ok).toBe(false);
    expect(bad.error).toContain("bad content");
    expect(h.state.hooks["pre-publish-exechook"]).toMatchObject({ pending: "bad", consecutiveFailures: 1, running: false });
    expect(messages(h.lines, "hook failed")[0]).toMatchObject({ logger: "pre-publish-exechook", hash: "bad", retry: "1s" });

    const good = await h.hooks.gate!({ hash: "good", previousHash: "", worktree: worktree(dir, "good") });
    expect(good).toEqual({ ok: true, error: "" });
    expect(h.state.hooks["pre-publish-exechook"]).toMatchObject({ lastSuccessHash: "good", consecutiveFailures: 0 });
    expect(lines(join(out, "runs"))).toEqual(["bad", "good"]);
    expect(metric("pre-publish-exechook", "error")).toBe(errBefore + 1);
    expect(metric("pre-publish-exechook", "success")).toBe(okBefore + 1);
  });
});
