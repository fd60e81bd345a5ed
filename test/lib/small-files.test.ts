// lib/small-files.ts: what a poll reads is re-read exactly when the file changed.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSmallFile } from "../../src/lib/small-files.ts";
import { cleanup, tmpDir } from "../helpers/index.ts";

const dir = tmpDir("gs-small-files-");
afterAll(() => cleanup(dir));

test("no file, a directory, a path below a file: undefined", () => {
  mkdirSync(join(dir, "d"));
  writeFileSync(join(dir, "f"), "x");
  expect(readSmallFile(join(dir, "missing"))).toBeUndefined();
  expect(readSmallFile(join(dir, "d"))).toBeUndefined();
  expect(readSmallFile(join(dir, "f", "below"))).toBeUndefined();
});

test("a file replaced by rename (as git writes refs) is read again, even with the same size and times", () => {
  const ref = join(dir, "ref");
  writeFileSync(ref, "a".repeat(40));
  expect(readSmallFile(ref)).toBe("a".repeat(40));
  writeFileSync(join(dir, "ref.lock"), "b".repeat(40));
  const t = new Date(2020, 0, 1);
  utimesSync(join(dir, "ref.lock"), t, t);
  utimesSync(ref, t, t);
  renameSync(join(dir, "ref.lock"), ref);
  expect(readSmallFile(ref)).toBe("b".repeat(40));
});

test("an edit in place is read again; a file removed and made again too", () => {
  const f = join(dir, "edited");
  writeFileSync(f, "one\n");
  expect(readSmallFile(f)).toBe("one\n");
  writeFileSync(f, "three\n");
  expect(readSmallFile(f)).toBe("three\n");
  rmSync(f);
  expect(readSmallFile(f)).toBeUndefined();
  writeFileSync(f, "four\n");
  expect(readSmallFile(f)).toBe("four\n");
});
