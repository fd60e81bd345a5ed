// Process signals (behaviour.md 4.9, 9): SIGTERM never leaves a half-published link; SIGINT ends
// the sleep-forever state of a hash ref with exit 0.
import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, readOr, scenario, waitFor } from "../helpers/index.ts";

test.concurrent("stop on SIGTERM during a slow fetch, leaving the previous link intact", async () => {
  await using t = await scenario();
  commit(t.repo, "dir/a", "a\n");
  const prev = head(t.repo);
  await t.syncOk();
  expect(t.hash()).toBe(prev);
  commit(t.repo, "file", "two\n");
  // A fetch that would outlast the test: only a prompt stop ends the process in time.
  const w = t.gitWrapper("slow-git", { sleepOnFetch: 600 });
  const gs = t.start(`--git=${w.path}`, "--period=100ms");
  await waitFor("the slow fetch to start", () => existsSync(w.sleepPid));
  gs.proc.kill("SIGTERM");
  await gs.exited(30_000);
  expect(t.hash()).toBe(prev);
  expect(t.read()).toBe("initial\n");
  expect(t.read("dir/a")).toBe("a\n");
  expect(readdirSync(join(t.root, ".worktrees"))).toEqual([prev]);
  expect(git(t.link, "rev-parse", "HEAD")).toBe(prev);
  expect(git(t.link, "status", "--porcelain")).toBe("");
});

test.concurrent("exit 0 on SIGINT while sleeping after syncing a full hash", async () => {
  await using t = await scenario();
  const h = head(t.repo);
  const gs = t.start(`--ref=${h}`, "--period=100ms");
  await gs.waitLog("ref appears to be a git hash, no further sync needed");
  gs.proc.kill("SIGINT");
  expect(await gs.exited(5000)).toBe(0);
  expect(t.hash()).toBe(h);
  expect(readOr(join(t.link, "file"))).toBe("initial\n");
});
