// Shared setup for the auth integration tests: a compiled "self" binary for GIT_ASKPASS/GIT_SSH,
// a full Config with defaults, a logger that keeps every line, and a git runner wired like the
// sync loop wires it (process env + auth.processEnv() for every child, auth.gitEnv() per call).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/types.ts";
import { testConfig as baseConfig } from "../helpers/config.ts";
import { setupAuth, type Auth } from "../../src/auth/index.ts";
import { Git, type GitResult } from "../../src/git/runner.ts";
import { createLogger, type Logger } from "../../src/log/logger.ts";
import { BIN, ROOT } from "../helpers/index.ts";

let built: { dir: string; path: string } | null = null;

/**
 * The binary git runs as GIT_ASKPASS and GIT_SSH. dist/git-sync once its entry point dispatches
 * runInternalMode (GITSYNC_TEST_SELF=dist), otherwise a compile of _askpass-entry.ts.
 */
export async function selfBinary(): Promise<string> {
  if (process.env.GITSYNC_TEST_SELF === "dist") return BIN;
  if (built) return built.path;
  const dir = mkdtempSync(join(tmpdir(), "gs-auth-self-"));
  const path = join(dir, "git-sync-internal");
  const r = await Bun.build({
    entrypoints: [join(ROOT, "test/auth/_askpass-entry.ts")],
    compile: { outfile: path, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`can't compile the askpass entry: ${r.logs.join("\n")}`);
  built = { dir, path };
  return path;
}

export function removeSelfBinary(): void {
  if (built) rmSync(built.dir, { recursive: true, force: true });
  built = null;
}

/** Auth tests log everything (-v 9) so the secret checks see every line; link "link", repo set per test. */
export function testConfig(over: Partial<Config> = {}): Config {
  return baseConfig({ repo: "", link: "link", sshKeyFiles: [], verbose: 9, ...over });
}

export interface Harness {
  auth: Auth;
  git: Git;
  log: Logger;
  /** Every log line written so far (verbosity 9). */
  lines: string[];
  /** refresh() then `git <args>` with the auth env, as one sync attempt would. */
  attempt(args: string[], cwd?: string): Promise<GitResult>;
}

/** The env a git child gets in these tests, before auth adds to it. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    ...extra,
  };
}

export async function harness(config: Config, opts: { privateDir: string; env?: Record<string, string>; self?: string; cookieFile?: string }): Promise<Harness> {
  const lines: string[] = [];
  const log = createLogger({ verbosity: 9, errorFile: "", write: (l) => void lines.push(l) });
  let auth: Auth | null = null;
  const env = baseEnv(opts.env);
  const git = new Git("git", log, () => ({ ...env, ...auth?.processEnv() }));
  auth = await setupAuth(config, { git, privateDir: opts.privateDir, log, self: opts.self ?? (await selfBinary()), env, cookieFile: opts.cookieFile });
  const a = auth;
  return {
    auth: a,
    git,
    log,
    lines,
    async attempt(args, cwd = opts.privateDir) {
      await a.refresh(Date.now() + 20_000);
      return git.run(args, { cwd, deadline: Date.now() + 20_000, env: a.gitEnv() });
    },
  };
}
