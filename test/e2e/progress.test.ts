// On a terminal a one-time sync shows git's progress; in a pipe (every container) only the JSON
// log lines appear (issue 6). `script` (util-linux) gives the binary a real pseudo-terminal.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BIN, cleanup, gitEnv, linkHash, head, makeRepo, runBinary, tmpDir } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";

function quote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

test.skipIf(missing("script"))("a one-time sync on a terminal shows git's fetch progress", async () => {
  const dir = tmpDir();
  try {
    const repo = makeRepo(join(dir, "repo"));
    const cmd = [BIN, `--repo=${repo}`, `--root=${join(dir, "root")}`, "--one-time"].map(quote).join(" ");
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { env: gitEnv(), stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    expect(out).toContain("Counting objects");
    expect(linkHash(join(dir, "root", "repo"))).toBe(head(repo));
  } finally {
    cleanup(dir);
  }
});

test("a one-time sync into a pipe prints only JSON log lines", async () => {
  const dir = tmpDir();
  try {
    const repo = makeRepo(join(dir, "repo"));
    const r = await runBinary([`--repo=${repo}`, `--root=${join(dir, "root")}`, "--one-time"]);
    expect(r.code).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.startsWith("{"))).toEqual([]);
  } finally {
    cleanup(dir);
  }
});
