// What the fetch and the worktree hold (behaviour.md 4.2 step 4, 4.3, 12): depth, partial-clone
// filters and sparse checkouts.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, expectExit0, git, head, scenario } from "../helpers/index.ts";

function history(repo: string, n: number): string {
  let h = "";
  for (let i = 0; i < n; i++) h = commit(repo, "file", `commit ${i}\n`);
  return h;
}

test.concurrent("fetch one commit by default (a shallow repo)", async () => {
  await using t = await scenario();
  const h = history(t.repo, 3);
  await t.syncOk();
  expect(t.hash()).toBe(h);
  expect(git(t.root, "rev-parse", "--is-shallow-repository")).toBe("true");
  expect(git(t.link, "rev-list", "--count", "HEAD")).toBe("1");
});

test.concurrent("fetch the full history with --depth=0", async () => {
  await using t = await scenario();
  history(t.repo, 3);
  await t.syncOk("--depth=0");
  expect(git(t.root, "rev-parse", "--is-shallow-repository")).toBe("false");
  expect(git(t.link, "rev-list", "--count", "HEAD")).toBe("4");
});

test.concurrent("change depth across restarts: 1, 2, 1, then 0 unshallows", async () => {
  await using t = await scenario();
  history(t.repo, 4);
  for (const depth of [1, 2, 1, 0]) {
    // A new commit each time, as a restart normally sees.
    const h = commit(t.repo, "file", `depth ${depth}\n`);
    await t.syncOk(`--depth=${depth}`);
    expect(t.hash()).toBe(h);
    const full = git(t.repo, "rev-list", "--count", h);
    const want = depth === 0 ? `${full} commits, shallow false` : `${depth} commits, shallow true`;
    expect(`${git(t.root, "rev-list", "--count", h)} commits, shallow ${git(t.root, "rev-parse", "--is-shallow-repository")}`).toBe(want);
  }
});

test.concurrent("fetch a partial clone with --filter=blob:none (promisor pack)", async () => {
  await using t = await scenario();
  history(t.repo, 2);
  // The upstream must allow filters (a real server usually does), and git needs a URL, not a
  // plain path, to name the promisor remote.
  git(t.repo, "config", "uploadpack.allowFilter", "true");
  expectExit0(await t.run(["--one-time", `--repo=file://${t.repo}`, `--root=${t.root}`, "--link=link", "--filter=blob:none"]));
  expect(t.hash()).toBe(head(t.repo));
  const packs = readdirSync(join(t.root, ".git", "objects", "pack"));
  expect(packs.some((f) => f.endsWith(".promisor"))).toBe(true);
  expect(t.read()).toBe("commit 1\n");
});

test.concurrent("check out only the sparse-checkout file's paths", async () => {
  await using t = await scenario();
  commit(t.repo, "dir1/a", "a\n");
  const h = commit(t.repo, "dir2/b", "b\n");
  const sparse = join(t.dir, "sparse");
  writeFileSync(sparse, "dir1/\n");
  await t.syncOk(`--sparse-checkout-file=${sparse}`);
  expect(t.hash()).toBe(h);
  expect(t.read("dir1/a")).toBe("a\n");
  expect(existsSync(join(t.link, "dir2"))).toBe(false);
  expect(existsSync(join(t.link, "file"))).toBe(false);
});

test.concurrent("apply a changed sparse-checkout file on the next update", async () => {
  await using t = await scenario();
  commit(t.repo, "dir1/a", "a\n");
  commit(t.repo, "dir2/b", "b\n");
  const sparse = join(t.dir, "sparse");
  writeFileSync(sparse, "dir1/\n");
  await t.syncOk(`--sparse-checkout-file=${sparse}`);
  expect(existsSync(join(t.link, "dir2"))).toBe(false);
  writeFileSync(sparse, "dir2/\n");
  const h = commit(t.repo, "dir2/b", "b2\n");
  await t.syncOk(`--sparse-checkout-file=${sparse}`);
  expect(t.hash()).toBe(h);
  expect(t.read("dir2/b")).toBe("b2\n");
  expect(existsSync(join(t.link, "dir1"))).toBe(false);
});
