// A complete Config for tests that drive a module directly (hooks, auth): the real resolver's
// defaults, so no test keeps a hand-written copy of every field that could drift from the
// option table, with the test's own values on top.
import { resolveConfig } from "../../src/config/index.ts";
import type { Config } from "../../src/config/types.ts";

export function testConfig(over: Partial<Config> = {}): Config {
  const r = resolveConfig(["--repo=https://example.com/repo.git", "--root=/tmp/unused-root"], {}, { cwd: "/", version: "test" });
  if (r.kind !== "run") throw new Error(`test config rejected: ${r.stderr}`);
  return { ...r.config, ...over };
}
