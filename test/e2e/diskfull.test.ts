// Disk full mid-update (issue 13): root on a small tmpfs that a filler file fills while a large
// commit arrives. The last good tree stays served and intact, the loop keeps running and reports
// the error (metrics, error file, /status); once space is back the next sync publishes the new
// commit and leaves no partial worktree or temporary pack behind. Needs root (mount -t tmpfs), as CI has.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ERROR, commit, freePort, git, head, metric, readOr, scenario, waitFor, type Running } from "../helpers/index.ts";
import { missing } from "../helpers/prereqs.ts";

const cantMount = missing("root", "mount");
const MB = 1024 * 1024;

// Free space left for the update: less than its pack (the fetch fails), or room for the pack
// but not for the checkout (`worktree add` fails).
for (const [where, free] of [
  ["the fetch", 1 * MB],
  ["the checkout", 3.5 * MB],
] as const) {
  test.skipIf(cantMount).concurrent(`disk full during ${where}: the last tree stays served, errors are reported, and it recovers cleanly`, async () => {
    await using t = await scenario();
    const mnt = join(t.dir, "mnt");
    mkdirSync(mnt);
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt]);
    expect(mounted.exitCode).toBe(0);
    let r: Running | undefined;
    try {
      const root = join(mnt, "root");
      const link = join(root, "link");
      const errorFile = join(t.dir, "error.json");
      const port = freePort();
      r = t.spawn([`--repo=${t.repo}`, `--root=${root}`, "--link=link", "--period=100ms", "--max-failures=-1", `--http-bind=127.0.0.1:${port}`, "--http-metrics", `--error-file=${errorFile}`]);
      const h1 = head(t.repo);
      await waitFor("first sync", () => readOr(join(link, "file")) === "initial\n");

      // Fill the tmpfs, then push a commit of 3 MB of incompressible data.
      const st = statfsSync(mnt);
      writeFileSync(join(mnt, "filler"), Buffer.alloc(Math.max(0, st.bavail * st.bsize - free)));
      writeFileSync(join(t.repo, "big"), randomBytes(3 * MB));
      const h2 = commit(t.repo, "file", "two\n");

      // Several failed attempts while the old tree is read all along.
      const before = (await metric(port, ERROR)) ?? 0;
      let torn = 0;
      await waitFor(
        "three failed attempts",
        async () => {
          if (readOr(join(link, "file")) !== "initial\n") torn++;
          return ((await metric(port, ERROR)) ?? 0) >= before + 3;
        },
        20_000,
        5,
      );
      expect(torn).toBe(0);
      expect(r.done).toBe(false);
      expect(readdirSync(join(root, ".worktrees")).includes(h1)).toBe(true);
      expect(git(link, "rev-parse", "HEAD")).toBe(h1);
      expect(git(link, "status", "--porcelain")).toBe("");
      // git's words: "No space left on device" from the fetch, "unable to write file" from a checkout.
      const full = /No space left on device|unable to write file/;
      expect(readFileSync(errorFile, "utf8")).toMatch(full);
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, unknown>;
      expect(status.hash).toBe(h1);
      expect(String(status.lastError)).toMatch(full);

      // Space is back: the next attempt publishes h2 and nothing of the failed ones is left.
      rmSync(join(mnt, "filler"));
      await waitFor("link at the new commit", () => readOr(join(link, "file")) === "two\n", 20_000);
      await waitFor("error file removed", () => !existsSync(errorFile));
      expect(git(link, "rev-parse", "HEAD")).toBe(h2);
      expect(readdirSync(join(root, ".worktrees"))).toEqual([h2]);
      const pack = readdirSync(join(root, ".git", "objects", "pack"));
      expect(pack.filter((f) => f.startsWith("tmp_") || f.endsWith(".keep"))).toEqual([]);
      expect(git(root, "worktree", "list", "--porcelain").split("\n").filter((l) => l.startsWith("worktree ")).length).toBe(2);
      expect(readFileSync(join(link, "big")).length).toBe(3 * MB);
    } finally {
      r?.proc.kill("SIGKILL");
      await r?.proc.exited;
      Bun.spawnSync(["umount", "-l", mnt]);
    }
  });
}
