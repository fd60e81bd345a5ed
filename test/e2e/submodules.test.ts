// Submodules in the worktree (behaviour.md 4.3 step 4): recursive, shallow (first level only), off,
// relative URLs resolved against origin, and removal.
import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { commit, git, head, type Scenario, scenario } from "../helpers/index.ts";

const FILE_PROTOCOL = "--git-config=protocol.file.allow:always";

function addSubmodule(repo: string, url: string, path: string): string {
  git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", url, path);
  git(repo, "commit", "-q", "-m", `add submodule ${path}`);
  return head(repo);
}

/** repo -> sub (at `sub`) -> nested (at `nested`). */
function nestedSetup(t: Scenario): { sub: string; nested: string } {
  const nested = t.makeRepo("nested");
  commit(nested, "file", "nested\n");
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub\n");
  addSubmodule(sub, nested, "nested");
  addSubmodule(t.repo, sub, "sub");
  return { sub, nested };
}

test.concurrent("check out a submodule", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub\n");
  const h = addSubmodule(t.repo, sub, "sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.hash()).toBe(h);
  expect(t.read("sub/file")).toBe("sub\n");
});

test.concurrent("check out nested submodules with --submodules=recursive", async () => {
  await using t = await scenario();
  nestedSetup(t);
  await t.syncOk(FILE_PROTOCOL, "--submodules=recursive");
  expect(t.read("sub/file")).toBe("sub\n");
  expect(t.read("sub/nested/file")).toBe("nested\n");
});

test.concurrent("check out only the first level of submodules with --submodules=shallow", async () => {
  await using t = await scenario();
  nestedSetup(t);
  await t.syncOk(FILE_PROTOCOL, "--submodules=shallow");
  expect(t.read("sub/file")).toBe("sub\n");
  expect(existsSync(join(t.link, "sub", "nested", "file"))).toBe(false);
});

test.concurrent("check out no submodules with --submodules=off", async () => {
  await using t = await scenario();
  nestedSetup(t);
  await t.syncOk(FILE_PROTOCOL, "--submodules=off");
  expect(t.read()).toBe("initial\n");
  expect(existsSync(join(t.link, "sub", "file"))).toBe(false);
  expect(readdirSync(join(t.link, "sub"))).toEqual([]);
});

test.concurrent("resolve a relative submodule URL against origin", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub\n");
  // `../sub` next to the superproject: resolved against origin (= --repo) in root.
  addSubmodule(t.repo, "../sub", "sub");
  expect(git(t.repo, "config", "-f", ".gitmodules", "submodule.sub.url")).toBe("../sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.read("sub/file")).toBe("sub\n");
});

test.concurrent("follow a submodule moved to a new commit", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub 1\n");
  addSubmodule(t.repo, sub, "sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.read("sub/file")).toBe("sub 1\n");
  commit(sub, "file", "sub 2\n");
  git(join(t.repo, "sub"), "pull", "-q", "origin", "main");
  git(t.repo, "commit", "-q", "-am", "bump sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.hash()).toBe(head(t.repo));
  expect(t.read("sub/file")).toBe("sub 2\n");
});

test.concurrent("drop a submodule removed in a later commit", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub\n");
  addSubmodule(t.repo, sub, "sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.read("sub/file")).toBe("sub\n");
  git(t.repo, "rm", "-q", "sub");
  git(t.repo, "commit", "-q", "-m", "remove sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.hash()).toBe(head(t.repo));
  expect(existsSync(join(t.link, "sub"))).toBe(false);
  expect(t.read(".gitmodules")).not.toContain("sub");
});

test.concurrent("fetch submodules at --depth", async () => {
  await using t = await scenario();
  const sub = t.makeRepo("sub");
  commit(sub, "file", "sub 1\n");
  commit(sub, "file", "sub 2\n");
  // A file:// URL: git ignores --depth for plain-path (local) clones.
  addSubmodule(t.repo, `file://${sub}`, "sub");
  await t.syncOk(FILE_PROTOCOL);
  expect(t.read("sub/file")).toBe("sub 2\n");
  expect(git(join(t.link, "sub"), "rev-list", "--count", "HEAD")).toBe("1");
});
