// Log lines on stderr (behaviour.md 8, 6.8, 3 step 1): git-sync's JSON shape and key order, the
// -v scale, and passwords never printed.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { jsonLines, readOr, scenario } from "../helpers/index.ts";

const PASSWORD = "pw-s3cr3t-9f2";
const TS = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/;

function checkShape(stderr: string): { info: number; errors: number } {
  let info = 0;
  let errors = 0;
  for (const line of stderr.split("\n").filter((l) => l.startsWith("{"))) {
    const obj = JSON.parse(line) as Record<string, unknown>;
    const keys = Object.keys(obj);
    if ("level" in obj) {
      expect(keys.slice(0, 5)).toEqual(["logger", "ts", "caller", "level", "msg"]);
      expect(typeof obj.level).toBe("number");
      info++;
    } else {
      expect(keys.slice(0, 5)).toEqual(["logger", "ts", "caller", "msg", "error"]);
      expect(obj.error === null || typeof obj.error === "string").toBe(true);
      errors++;
    }
    expect(obj.logger).toBe("");
    expect(obj.ts).toMatch(TS);
    const caller = obj.caller as Record<string, unknown>;
    expect(Object.keys(caller)).toEqual(["file", "line"]);
    expect(typeof caller.file).toBe("string");
    expect(typeof caller.line).toBe("number");
    expect(typeof obj.msg).toBe("string");
  }
  return { info, errors };
}

test.concurrent("print every log line as JSON in git-sync's key order", async () => {
  await using t = await scenario();
  const ok = await t.syncOk("-v=6");
  expect(checkShape(ok.stderr).info).toBeGreaterThan(10);
  const bad = await t.sync("-v=6", "--ref=nope");
  expect(bad.code).toBe(1);
  expect(checkShape(bad.stderr).errors).toBeGreaterThan(0);
  expect(ok.stdout).toBe("");
});

test.concurrent("log the startup line with the changed flags, sorted", async () => {
  await using t = await scenario();
  const r = await t.syncOk("--period=100ms");
  const start = jsonLines(r.stderr).find((l) => l.msg === "starting up");
  expect(start).toBeDefined();
  for (const k of ["version", "pid", "uid", "gid", "home", "flags"]) expect(start).toHaveProperty(k);
  const flags = start?.flags as string[];
  expect(flags).toEqual([...flags].sort());
  expect(flags).toContain("--period=100ms");
  expect(flags).toContain(`--repo=${t.repo}`);
});

// behaviour.md 3 step 1: changed flags always; unchanged ones from -v=4; empty ones only from -v=6.
test.concurrent.each([
  [0, false, false],
  [4, true, false],
  [6, true, true],
])("the startup flag list at -v=%d: unchanged flags %p, empty flags %p", async (v, unchanged, empty) => {
  await using t = await scenario();
  const r = await t.syncOk(`-v=${v}`);
  const flags = jsonLines(r.stderr).find((l) => l.msg === "starting up")?.flags as string[];
  expect(flags).toContain(`--repo=${t.repo}`);
  expect(flags.includes("--git-gc=always")).toBe(unchanged);
  expect(flags.includes("--filter=")).toBe(empty);
});

for (const v of [0, 2, 5, 6]) {
  test.concurrent(`print only lines at or below -v=${v}`, async () => {
    await using t = await scenario();
    const r = await t.syncOk(`-v=${v}`);
    const lines = jsonLines(r.stderr);
    const levels = lines.filter((l) => "level" in l).map((l) => l.level as number);
    expect(Math.max(...levels)).toBeLessThanOrEqual(v);
    const msgs = new Set(lines.map((l) => l.msg));
    // V0: the update itself; V2: the fetch; V5: each command; V6: each command's output.
    expect(msgs.has("update required")).toBe(true);
    expect(msgs.has("updated successfully")).toBe(true);
    expect(msgs.has("fetching")).toBe(v >= 2);
    expect(msgs.has("running command")).toBe(v >= 5);
    expect(msgs.has("command result")).toBe(v >= 6);
  });
}

test.concurrent("never print the password of a repo URL", async () => {
  await using t = await scenario();
  const r = await t.run(
    ["--one-time", `--repo=https://user:${PASSWORD}@127.0.0.1:1/x`, `--root=${t.root}`, "-v=9", "--error-file=error.json"],
    { timeoutMs: 20_000 },
  );
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain(PASSWORD);
  expect(r.stdout).not.toContain(PASSWORD);
  const errorFile = readOr(join(t.root, "error.json"));
  expect(errorFile).toBeDefined();
  expect(errorFile).not.toContain(PASSWORD);
  expect(r.stderr).toContain("REDACTED");
});

// ts is local time (behaviour.md 8.1): UTC without TZ in a container, the zone's time with TZ set.
for (const [tz, offsetMin] of [["UTC", 0], ["Asia/Kolkata", 330], ["Pacific/Marquesas", -570]] as const) {
  test.concurrent(`ts is local time with TZ=${tz}`, async () => {
    await using t = await scenario();
    const before = Date.now();
    const r = await t.run(t.args("--one-time"), { env: { TZ: tz } });
    const after = Date.now();
    const ts = String(jsonLines(r.stderr)[0]!.ts);
    // The wall-clock digits, read as if UTC, minus the zone's offset: back to the real instant.
    const instant = Date.parse(ts.replace(" ", "T") + "Z") - offsetMin * 60_000;
    // Zones without daylight saving time, so the offsets hold all year; allow the run's duration.
    expect(instant).toBeGreaterThanOrEqual(before - 1000);
    expect(instant).toBeLessThanOrEqual(after + 1000);
  });
}
