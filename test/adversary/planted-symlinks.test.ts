// Issue 20: files git-sync writes besides the trees themselves (the touch file, the error file,
// tmp-link, .git-sync-links, the repair directory, copy mode's journal and temp files) are never
// written through a symlink a commit placed inside the published tree or a neighbour with write
// access planted in root. Each test plants one that points outside and checks the target is untouched.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, jsonLines, scenario, waitFor, type Running, type Scenario } from "../helpers/index.ts";
import { Canary, commitTree, expectServes, served, tree, type LinkMode } from "./trees.ts";

const MODES: LinkMode[] = ["symlink", "copy"];

/** Error lines with this msg so far. */
const errors = (gs: Running, msg: string) => jsonLines(gs.stderr).filter((l) => l.msg === msg);

/** Make the next attempts fail (the ref is gone upstream), so that an error file is written. */
function breakRef(t: Scenario): void {
  git(t.repo, "update-ref", "-d", "refs/heads/main");
}

for (const mode of MODES) {
  test.concurrent(`a commit that makes the --touch-file path a symlink cannot get an outside file touched (${mode})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const touchFile = join(t.link, "touched");
    const gs = t.start(`--link-mode=${mode}`, "--period=100ms", "--max-failures=-1", `--touch-file=${touchFile}`, "-v=1");
    // (Not compared with git archive here: in copy mode the first touch adds a file to the link.)
    await waitFor("first sync", () => served(t, mode) === head(t.repo) || gs.done);
    const h = commitTree(t.repo, tree(t.repo, { file: "two\n", touched: { link: canary.file } }));
    await expectServes(t, gs, mode, h);
    // The touch after the update that placed the symlink (in symlink mode every touch through the link is refused).
    const touchAfter = () => {
      const logs = gs.logs();
      const updated = logs.findIndex((l) => l.msg === "updated successfully" && l.remote === h);
      return updated >= 0 ? logs.slice(updated).find((l) => l.msg === "failed to touch touch-file") : undefined;
    };
    const refused = await waitFor("the refused touch logged", () => touchAfter() ?? gs.done);
    expect(String((refused as Record<string, unknown>).error)).toContain("is a symlink");
    canary.expectUntouched();
  });

  test.concurrent(`a commit that makes the error file's directory a symlink cannot get a file written or deleted outside (${mode})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    // Named as the canary: a good sync deletes the error file, a failed one replaces it.
    const errorFile = join(t.link, "logs", "y");
    const gs = t.start(`--link-mode=${mode}`, "--period=100ms", "--max-failures=-1", `--error-file=${errorFile}`, "-v=1");
    await expectServes(t, gs, mode, head(t.repo));
    const h = commitTree(t.repo, tree(t.repo, { file: "two\n", logs: { link: canary.dir } }));
    await expectServes(t, gs, mode, h);
    breakRef(t);
    await waitFor("the refused error file logged", () => errors(gs, "can't write error file").length > 0 || gs.done);
    expect(String(errors(gs, "can't write error file")[0]?.error)).toContain("is a symlink");
    canary.expectUntouched();
  });

  test.concurrent(`a symlink planted in root where the link's directory was cannot get the link or tmp-link made outside (${mode})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const gs = t.spawn([`--repo=${t.repo}`, `--root=${t.root}`, "--link=sub/link", `--link-mode=${mode}`, "--period=100ms", "--max-failures=-1", "-v=1"]);
    await waitFor("first sync", () => gs.count("updated successfully") > 0 || gs.done);
    rmSync(join(t.root, "sub"), { recursive: true, force: true });
    symlinkSync(canary.dir, join(t.root, "sub"));
    commit(t.repo, "file", "two\n");
    await waitFor("the refused publish logged", () => gs.logs().some((l) => l.msg === "error syncing repo, will retry" && String(l.error).includes("is a symlink")) || gs.done);
    canary.expectUntouched();
  });

  // Regression test: the original code already renamed over a symlink at the error file's name.
  test.concurrent(`a symlink planted in root at the error file's name is replaced, not followed (${mode})`, async () => {
    await using t = await scenario();
    const canary = new Canary(t.dir);
    const gs = t.start(`--link-mode=${mode}`, "--period=100ms", "--max-failures=-1", "--error-file=error.json", "-v=1");
    await expectServes(t, gs, mode, head(t.repo));
    symlinkSync(canary.file, join(t.root, "error.json"));
    breakRef(t);
    await waitFor("the error file written", () => readFileSync(join(t.root, "error.json"), "utf8").includes("Err") || gs.done);
    expect(JSON.parse(readFileSync(join(t.root, "error.json"), "utf8")).Msg).toBe("error syncing repo, will retry");
    canary.expectUntouched();
  });
}

// --also-link is a symlink-mode feature: its registry only exists there.
test.concurrent("symlinks planted at .git-sync-links and its temp file are not written through", async () => {
  await using t = await scenario();
  const canary = new Canary(t.dir);
  const args = ["--also-link=other=main"];
  await t.syncOk(...args);
  // A neighbour with write access to root, between two runs.
  for (const name of [".git-sync-links", ".git-sync-links.tmp"]) {
    rmSync(join(t.root, name), { force: true });
    symlinkSync(canary.file, join(t.root, name));
  }
  commit(t.repo, "file", "two\n");
  await t.syncOk(...args);
  canary.expectUntouched();
  expect(readFileSync(join(t.root, ".git-sync-links"), "utf8")).toBe("other\n");
});

// Regression test: the original code already removed a stale tmp-link before making its own.
test.concurrent("a symlink planted in root at tmp-link is not followed", async () => {
  await using t = await scenario();
  const canary = new Canary(t.dir);
  await t.syncOk();
  symlinkSync(canary.file, join(t.root, "tmp-link"));
  const h = commit(t.repo, "file", "two\n");
  await t.syncOk();
  expect(t.hash()).toBe(h);
  canary.expectUntouched();
});

test.concurrent("symlinks planted in root at copy mode's journal and temp file (.git-sync-copy, .git-sync-tmp.<pid>) are not written through", async () => {
  await using t = await scenario();
  const canary = new Canary(t.dir);
  const gs = t.start("--link-mode=copy", "--period=100ms", "--max-failures=-1", "-v=1");
  await expectServes(t, gs, "copy", head(t.repo));
  // The pid is no secret (/status, the startup log): a neighbour can name the temp file.
  symlinkSync(canary.file, join(t.root, `.git-sync-tmp.${gs.proc.pid}`));
  symlinkSync(canary.file, join(t.root, ".git-sync-copy"));
  const h = commit(t.repo, "file", "two\n");
  await expectServes(t, gs, "copy", h);
  canary.expectUntouched();
  expect(existsSync(join(t.root, ".git-sync-copy"))).toBe(false);
});

test.concurrent("a symlink planted in root at .git-sync-repair cannot get an outside directory removed or written", async () => {
  await using t = await scenario();
  const h = head(t.repo);
  await t.syncOk();
  const outside = join(t.dir, "outside-repair");
  mkdirSync(join(outside, h), { recursive: true });
  writeFileSync(join(outside, h, "keep"), "keep\n");
  symlinkSync(outside, join(t.root, ".git-sync-repair"));
  // The served worktree's HEAD moves: the next run rebuilds it beside the link (sync.ts).
  git(t.link, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "local");
  const r = await t.syncOk("-v=1");
  expect(jsonLines(r.stderr).some((l) => l.msg === "rebuilding the served worktree beside it")).toBe(true);
  expect(readdirSync(outside)).toEqual([h]);
  expect(readdirSync(join(outside, h))).toEqual(["keep"]);
  expect(readFileSync(join(outside, h, "keep"), "utf8")).toBe("keep\n");
  expect(git(t.link, "rev-parse", "HEAD")).toBe(h);
  expect(existsSync(join(t.root, ".git-sync-repair"))).toBe(false);
});
