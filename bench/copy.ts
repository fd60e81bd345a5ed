// `--link-mode=copy` (issue 16): what an update costs when one file of the large generated repo
// changes (an incremental copy: diff-tree, one blob) against the full copy of the tree (ls-tree
// and every blob), as git-sync's own "copied tree" log line times them, in one running process.
// `bun scripts/build.ts && bun bench/copy.ts` (BENCH_UPDATES=N one-file updates, default 5).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitTo, generateRepo } from "./compare/repos.ts";

const BIN = join(import.meta.dir, "..", "dist", "git-sync");
const updates = Number(process.env.BENCH_UPDATES ?? 5);
const dir = mkdtempSync(join(tmpdir(), "gs-bench-copy-"));
try {
  const repo = generateRepo(dir, { name: "large", files: 15_000, bytesPerFile: 2500, commits: 1, changesPerCommit: 0 });
  const proc = Bun.spawn([BIN, `--repo=${repo.path}`, `--root=${join(dir, "root")}`, "--link=copy", "--link-mode=copy", "--period=100ms", "-v=1"], { stderr: "pipe", stdout: "ignore", env: { ...process.env, TMPDIR: dir } });
  const copies: Array<{ mode: string; ms: number; written: number }> = [];
  let text = "";
  const dec = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of proc.stderr) {
      text += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.includes('"copied tree"')) copies.push(JSON.parse(line) as { mode: string; ms: number; written: number });
      }
    }
  })();
  const until = async (n: number) => {
    while (copies.length < n) await Bun.sleep(20);
  };
  await until(1);
  for (let i = 0; i < updates; i++) {
    commitTo(repo.path, "bench/one-file.txt", `update ${i}\n`);
    await until(2 + i);
  }
  proc.kill();
  await pump.catch(() => {});
  const inc = copies.slice(1).map((c) => c.ms).sort((a, b) => a - b);
  const median = inc[Math.floor(inc.length / 2)]!;
  console.log(`large repo: ${repo.spec.files} files, ${(repo.checkoutBytes / 1e6).toFixed(1)} MB`);
  console.log(`full copy (first update, ${copies[0]!.written} files): ${copies[0]!.ms} ms`);
  console.log(`one changed file, incremental (median of ${inc.length}): ${median} ms (${(median / copies[0]!.ms).toFixed(3)}x of the full copy); all: ${inc.join(", ")} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
