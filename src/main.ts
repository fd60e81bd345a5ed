// Entry point: argv + env -> validated config -> sync loop; this file owns the
// exit code and is the only place that writes to stdout/stderr directly.
//
// Before the CLI proper, the binary may be running in another role:
//   - as git's GIT_ASKPASS / GIT_SSH helper (src/auth): the image has no shell, so this binary
//     itself answers git's credential prompts and launches ssh with our options;
//   - as PID 1 in a container (src/pid1): re-exec ourselves as a child and act as init;
//   - as an operator's subcommand (`git-sync status`, `git-sync sync-now`, `git-sync help`, src/cli).
import { runInternalMode } from "./auth/index.ts";
import { expandHelp, runSubcommand } from "./cli/index.ts";
import { resolveConfig } from "./config/index.ts";
import { writeStderr, writeStdout } from "./lib/stdio.ts";
import { writeErrorFile } from "./log/logger.ts";
import { runGitSync } from "./run.ts";
import { maybeRunAsInit } from "./pid1/index.ts";
import { VERSION } from "./version.ts";

/** git-sync proper: flags and env (src/config, pflag-compatible) -> the sync loop. */
async function gitSync(rawArgs: string[]): Promise<number> {
  const result = resolveConfig(rawArgs, process.env, { cwd: process.cwd(), version: VERSION });
  if (result.kind === "exit") {
    if (result.stdout) writeStdout(result.stdout);
    if (result.stderr) writeStderr(result.stderr);
    if (result.errorFile) {
      try {
        writeErrorFile(result.errorFile.path, result.errorFile.content);
      } catch {
        // The message is on stderr already; an unwritable error file must not hide it.
      }
    }
    return result.code;
  }
  for (const line of result.warnings) writeStderr(line.endsWith("\n") ? line : line + "\n");
  return await runGitSync(result.config, result.logs);
}

async function entry(): Promise<number> {
  const internal = runInternalMode(process.argv, process.env);
  if (internal) return await internal;
  const init = maybeRunAsInit();
  if (init) return await init;
  const argv = expandHelp(process.argv);
  const sub = runSubcommand(argv, process.env);
  if (sub) return await sub;
  return await gitSync(argv.slice(2));
}

entry().then(
  (code) => {
    process.exitCode = code;
    process.exit(code);
  },
  (err: unknown) => {
    writeStderr(`FATAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
