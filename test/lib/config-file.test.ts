// The private gitconfig we write ourselves must read back, through real git, exactly as the
// `git config --global <k> <v>` calls it replaces would have left it.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitConfigFile } from "../../src/git/config-file.ts";

const dir = mkdtempSync(join(tmpdir(), "gs-gitconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gitList(path: string): Array<[string, string]> {
  const p = Bun.spawnSync(["git", "config", "--global", "--list", "-z"], { env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_GLOBAL: path, GIT_CONFIG_NOSYSTEM: "true" } });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  return p.stdout
    .toString()
    .split("\0")
    .filter((e) => e !== "")
    .map((e) => {
      const nl = e.indexOf("\n");
      return [e.slice(0, nl), e.slice(nl + 1)] as [string, string];
    });
}

function viaGit(pairs: Array<[string, string]>): Array<[string, string]> {
  const path = join(dir, `git-${Math.random()}`);
  writeFileSync(path, "");
  for (const [k, v] of pairs) {
    const p = Bun.spawnSync(["git", "config", "--global", k, v], { env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_GLOBAL: path } });
    if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  }
  return gitList(path);
}

function viaUs(pairs: Array<[string, string]>): Array<[string, string]> {
  const c = new GitConfigFile();
  for (const [k, v] of pairs) expect(c.set(k, v)).toBe(true);
  const path = join(dir, `us-${Math.random()}`);
  writeFileSync(path, c.render());
  const listed = gitList(path);
  expect(listed).toEqual(c.list());
  return listed;
}

test("reads back as git's own writes would", () => {
  const pairs: Array<[string, string]> = [
    ["gc.autoDetach", "false"],
    ["safe.directory", "*"],
    ["http.extraHeader", 'Authorization: Bearer "x" \\ y'],
    ["url.https://Example.com/.insteadOf", "git@Example.com:"],
    ["sect.k1", "a val"],
    ["Sect.K1", "replaced, in place"],
    ["core.sshCommand", "  leading and trailing  "],
    ["x.y", "multi\nline\tand tab"],
    ["x.y-z", ""],
    ["url.weird \"quoted\" \\ sub.insteadOf", "v"],
    ["gc.pruneExpire", "now"],
  ];
  expect(viaUs(pairs)).toEqual(viaGit(pairs));
});

test("refuses what git refuses, so git can say why", () => {
  const c = new GitConfigFile();
  for (const k of ["nosection", ".x", "x.", "x.1abc", "a b.c", "x.y_z", "a.sub\nline.k"]) expect(c.set(k, "v")).toBe(false);
  expect(c.list()).toEqual([]);
});
