// `--link-mode=copy` (issue 16): --link is a plain directory equal to `git archive` of the
// published commit after every update; readers never see a torn file; a crash mid-copy converges.
import { expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archive, git, head, readOr, scenario, snapshot, waitFor } from "../helpers/index.ts";

function commitAll(repo: string): string {
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "--allow-empty", "-m", "step");
  return head(repo);
}

test.concurrent("copy mode follows adds, edits, deletes, renames, mode and symlink changes, dir<->file swaps", async () => {
  await using t = await scenario();
  const r = t.repo;
  const scratch = join(t.dir, "scratch");
  const steps: Array<() => void> = [
    () => {
      mkdirSync(join(r, "d/e"), { recursive: true });
      writeFileSync(join(r, "d/e/x"), "x1\n");
      writeFileSync(join(r, "run.sh"), "#!/bin/sh\n");
      chmodSync(join(r, "run.sh"), 0o755);
      symlinkSync("file", join(r, "lnk"));
      writeFileSync(join(r, "same1"), "dup\n");
      writeFileSync(join(r, "same2"), "dup\n");
    },
    () => {
      writeFileSync(join(r, "file"), "edited\n"); // modify
      git(r, "mv", "d/e/x", "d/y"); // rename, emptying d/e
      chmodSync(join(r, "run.sh"), 0o644); // mode change
      rmSync(join(r, "lnk"));
      symlinkSync("d/y", join(r, "lnk")); // symlink retargeted
      rmSync(join(r, "same2"));
    },
    () => {
      rmSync(join(r, "d"), { recursive: true }); // a directory becomes a file
      writeFileSync(join(r, "d"), "now a file\n");
      rmSync(join(r, "lnk"));
      writeFileSync(join(r, "lnk"), "symlink -> file\n");
    },
    () => {
      rmSync(join(r, "d")); // and back
      mkdirSync(join(r, "d/deep/er"), { recursive: true });
      writeFileSync(join(r, "d/deep/er/z"), "z\n");
      rmSync(join(r, "file"));
    },
  ];
  const gs = t.start("--link-mode=copy", "--period=100ms", "-v=1");
  await waitFor("first copy", () => readOr(join(t.link, ".git-sync-hash"))?.trim() === head(r));
  expect(lstatSync(t.link).isDirectory()).toBe(true);
  expect(existsSync(join(t.link, ".git"))).toBe(false);
  expect(snapshot(t.link)).toEqual(archive(r, "HEAD", scratch));
  for (const step of steps) {
    step();
    const h = commitAll(r);
    await waitFor(`copy of ${h.slice(0, 8)}`, () => readOr(join(t.link, ".git-sync-hash"))?.trim() === h || gs.done);
    expect(gs.done).toBe(false);
    expect(snapshot(t.link)).toEqual(archive(r, h, scratch));
  }
  // Only the first update of the process compares the whole tree. (The hash file is written
  // before the log line: wait for the last line.)
  const copied = () => gs.logs().filter((l) => l.msg === "copied tree");
  await waitFor("the last copy's log line", () => copied().length >= steps.length + 1);
  expect(gs.logs().filter((l) => l.msg === "copied tree").map((l) => l.mode)).toEqual(["full", "incremental", "incremental", "incremental", "incremental"]);
});

test.concurrent("a reader of a copy never sees a torn file while big files change", async () => {
  await using t = await scenario();
  const versions = ["A", "B", "C", "D"].map((c) => c.repeat(2_000_000));
  writeFileSync(join(t.repo, "big"), versions[0]!);
  commitAll(t.repo);
  const gs = t.start("--link-mode=copy", "--period=100ms");
  await waitFor("first copy", () => readOr(join(t.link, "big")) === versions[0]);
  // The reader reads as fast as it can; the test moves on only once the reader itself has seen
  // each new version, so every copy is one the reader was reading through, however slow the machine.
  let stop = false;
  const seen = new Set<number>();
  const torn: number[] = [];
  const reader = (async () => {
    while (!stop) {
      const s = readOr(join(t.link, "big"));
      if (s !== undefined) {
        const v = versions.indexOf(s);
        if (v < 0) torn.push(s.length);
        else seen.add(v);
      }
      await Bun.sleep(0);
    }
  })();
  for (let v = 1; v < versions.length; v++) {
    writeFileSync(join(t.repo, "big"), versions[v]!);
    commitAll(t.repo);
    await waitFor(`the reader to read version ${v}`, () => seen.has(v) || torn.length > 0 || gs.done, 30_000);
    expect(gs.done).toBe(false);
  }
  stop = true;
  await reader;
  expect(torn).toEqual([]);
  expect([...seen].sort()).toEqual([0, 1, 2, 3]);
});

test.concurrent("a copy killed during cat-file converges on restart", async () => {
  await using t = await scenario();
  for (let i = 0; i < 50; i++) writeFileSync(join(t.repo, `f${i}`), `v1 ${i}\n`);
  commitAll(t.repo);
  await t.syncOk("--link-mode=copy");
  for (let i = 0; i < 50; i++) writeFileSync(join(t.repo, `f${i}`), `v2 ${i}\n`);
  rmSync(join(t.repo, "f0"));
  const h = commitAll(t.repo);
  // A --git wrapper that kills git-sync (its parent) as the blobs are read.
  const wrapper = join(t.dir, "killer");
  writeFileSync(wrapper, `#!/bin/bash\nif [ "$1" = cat-file ] && [ "$2" = --batch ]; then head -c 3000 <(${Bun.which("git")} "$@"); kill -9 $PPID; exit 1; fi\nexec ${Bun.which("git")} "$@"\n`, { mode: 0o755 });
  const killed = await t.sync("--link-mode=copy", `--git=${wrapper}`);
  expect(killed.signal).toBe("SIGKILL");
  expect(existsSync(join(t.link, ".git-sync-hash"))).toBe(false);
  expect(existsSync(join(t.root, ".git-sync-copy"))).toBe(true);
  await t.syncOk("--link-mode=copy");
  expect(readOr(join(t.link, ".git-sync-hash"))?.trim()).toBe(h);
  expect(existsSync(join(t.root, ".git-sync-copy"))).toBe(false);
  expect(snapshot(t.link)).toEqual(archive(t.repo, h, join(t.dir, "scratch")));
});

test.concurrent("--one-time --link-mode=copy --copy-drop-repo leaves only the plain directory", async () => {
  await using t = await scenario();
  await t.syncOk("--link-mode=copy", "--copy-drop-repo");
  expect(readdirSync(t.root)).toEqual(["link"]);
  expect(snapshot(t.link)).toEqual({ file: "-:initial\n" });
});

test.concurrent("copy mode refuses a directory that is not its own, and bad flag combinations", async () => {
  await using t = await scenario();
  mkdirSync(t.link, { recursive: true });
  writeFileSync(join(t.link, "precious"), "keep\n");
  const r = await t.sync("--link-mode=copy");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("not a git-sync copy");
  expect(readOr(join(t.link, "precious"))).toBe("keep\n");
  for (const [args, msg] of [
    [["--copy-drop-repo"], "--copy-drop-repo requires --one-time and --link-mode=copy"],
    [["--link-mode=hardlink"], '--link-mode must be one of "symlink" or "copy"'],
    [["--link-mode=copy", "--sparse-checkout-file=/x"], "--sparse-checkout-file is not supported with --link-mode=copy"],
  ] as const) {
    const bad = await t.sync(...args);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(msg);
  }
});
