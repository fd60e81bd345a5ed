// Entry point (STYLE.md 1): argv + env -> validated config -> sync loop; this file owns the
// exit code and is the only place that writes to stdout/stderr directly.
//
// Before the CLI proper, the binary may be running in another role:
//   - as git's GIT_ASKPASS / GIT_SSH helper (src/auth): the image has no shell, so this binary
//     itself answers git's credential prompts and launches ssh with our options;
//   - as PID 1 in a container (src/pid1): re-exec ourselves as a child and act as init;
//   - as an operator's subcommand (`git-sync status`, `git-sync sync-now`, src/cli).
import { defineCommand, runCommand } from "citty";
import { runInternalMode } from "./auth/index.ts";
import { runSubcommand } from "./cli/index.ts";
import { resolveConfig } from "./config/index.ts";
import { writeErrorFile } from "./log/logger.ts";
import { runGitSync } from "./loop/run.ts";
import { maybeRunAsInit } from "./pid1/index.ts";
import { VERSION } from "./version.ts";

const main = defineCommand({
  meta: { name: "git-sync", version: VERSION, description: "Keep a directory in step with a remote git ref" },
  async run({ rawArgs }) {
    const result = resolveConfig(rawArgs, process.env, { cwd: process.cwd(), version: VERSION });
    if (result.kind === "exit") {
      if (result.stdout) process.stdout.write(result.stdout);
      if (result.stderr) process.stderr.write(result.stderr);
      if (result.errorFile) {
        try {
          writeErrorFile(result.errorFile.path, result.errorFile.content);
        } catch {
          // The message is on stderr already; an unwritable error file must not hide it.
        }
      }
      return result.code;
    }
    for (const line of result.warnings) process.stderr.write(line.endsWith("\n") ? line : line + "\n");
    return await runGitSync(result.config, result.logs);
  },
});

async function entry(): Promise<number> {
  const internal = runInternalMode(process.argv, process.env);
  if (internal) return await internal;
  const init = maybeRunAsInit();
  if (init) return await init;
  const sub = runSubcommand(process.argv, process.env);
  if (sub) return await sub;
  const { result } = await runCommand(main, { rawArgs: process.argv.slice(2) });
  return result as number;
}

entry().then(
  (code) => {
    // Let stderr drain before exiting (it may be a pipe).
    process.exitCode = code;
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`FATAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
