// The architecture as a test: which folder of src/ may import which ("dependencies
// point one way"). The data flow config -> loop -> repo -> publish -> hooks sits on the shared
// bottom (state/: metrics and sync state; lib/, log/), and only the composition root (run.ts)
// wires the HTTP endpoint to the loop. A new folder must say here where it belongs.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = join(import.meta.dir, "..", "..", "src");

/** Folder (or top-level file) -> the folders it may import from, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  "version.ts": [],
  lib: ["log"],
  log: ["lib"],
  state: [],
  config: ["lib", "log"],
  git: ["lib", "log"],
  pid1: ["lib", "log"],
  publish: ["config", "git", "lib", "log"],
  auth: ["config", "git", "lib", "log", "state"],
  repo: ["config", "git", "lib", "log", "state", "version.ts"],
  hooks: ["config", "git", "lib", "log", "state"],
  cleanup: ["config", "git", "lib", "log", "repo", "state"],
  verify: ["git", "lib", "log", "state"],
  loop: ["auth", "cleanup", "config", "git", "hooks", "lib", "log", "publish", "repo", "state", "verify"],
  http: ["config", "lib", "log", "pid1", "repo", "state", "version.ts"],
  // The git mirror (--serve-git): answers /git for the endpoint, fed by run.ts after each attempt.
  serve: ["config", "git", "lib", "log", "state", "version.ts"],
  // --peers: where a replica syncs from (the host or the owner's mirror), wired by run.ts.
  peers: ["config", "git", "lib", "log", "repo", "serve", "state", "version.ts"],
  // auth: which calls of the binary are git's askpass/ssh helpers, not instances (cli/instance.ts).
  cli: ["auth", "config", "http", "lib", "log", "publish", "state", "version.ts"],
  "run.ts": ["auth", "cleanup", "config", "git", "hooks", "http", "lib", "log", "loop", "peers", "publish", "repo", "serve", "state", "verify", "version.ts"],
  "main.ts": ["auth", "cli", "config", "lib", "log", "pid1", "run.ts", "version.ts"],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The top-level unit of src/ a path belongs to: its first folder, or the file itself. */
const unitOf = (p: string) => relative(SRC, p).split("/")[0]!;

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)"(\.{1,2}\/[^"]+)"/g;

function edges(): Array<{ file: string; from: string; to: string }> {
  const out: Array<{ file: string; from: string; to: string }> = [];
  for (const file of files(SRC)) {
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!);
      out.push({ file: relative(SRC, file), from: unitOf(file), to: unitOf(target) });
    }
  }
  return out;
}

describe("layers", () => {
  test("every folder of src/ has a place in the table", () => {
    expect(readdirSync(SRC).filter((n) => !(n in ALLOWED))).toEqual([]);
  });

  test("imports point one way: down, never up or sideways into the loop or the endpoint", () => {
    const bad = edges()
      .filter((e) => e.from !== e.to && !ALLOWED[e.from]!.includes(e.to))
      .map((e) => `${e.file} imports ${e.to}`);
    expect(bad).toEqual([]);
  });

  test("the table has no cycles between folders", () => {
    const seen = new Set<string>();
    const path: string[] = [];
    const cycles: string[] = [];
    const visit = (u: string) => {
      if (path.includes(u)) {
        // lib and log are one base layer (the logger formats with lib's Go values).
        const cycle = [...path.slice(path.indexOf(u)), u];
        if (!(cycle.length === 3 && cycle.includes("lib") && cycle.includes("log"))) cycles.push(cycle.join(" -> "));
        return;
      }
      if (seen.has(u)) return;
      path.push(u);
      for (const v of ALLOWED[u] ?? []) visit(v);
      path.pop();
      seen.add(u);
    };
    for (const u of Object.keys(ALLOWED)) visit(u);
    expect(cycles).toEqual([]);
  });
});
