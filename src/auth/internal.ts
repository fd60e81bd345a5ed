// The binary's internal modes: git runs it as GIT_ASKPASS (one argument, the prompt) and as
// GIT_SSH (ssh's arguments). Both are recognised by environment variables that only git-sync
// sets for its own git children, plus the shape of argv.
import { answerPrompt, type ResolvedCredential } from "./credentials.ts";
import { looksLikeSSHInvocation, runSSH } from "./ssh.ts";
import { writeStderr } from "../lib/stdio.ts";
import { redactURLsInText } from "../log/redact.ts";

/** JSON list of ResolvedCredential; only in the env of git children, never in argv or on disk. */
export const ENV_ASKPASS = "GITSYNC_INTERNAL_ASKPASS";
/** Path of the generated ssh config; not a secret, so it is in the process env (hooks' git too). */
export const ENV_SSH_CONFIG = "GITSYNC_INTERNAL_SSH_CONFIG";

/**
 * The internal role the binary plays when started with `args` (argv after the program) and
 * `env`, or null for git-sync proper. Also how `git-sync status` tells git's calls into the
 * binary from instances (src/cli/instance.ts).
 */
export function internalRole(args: readonly string[], env: Record<string, string | undefined>): "ssh" | "askpass" | null {
  if (env[ENV_SSH_CONFIG] && looksLikeSSHInvocation(args)) return "ssh";
  if (env[ENV_ASKPASS] !== undefined && args.length === 1) return "askpass";
  return null;
}

/**
 * Called first thing by the entry point with process.argv and process.env. Returns null when this
 * process is a normal git-sync; otherwise does the internal job and resolves the exit code.
 */
export function runInternalMode(argv: string[], env: Record<string, string | undefined>): Promise<number> | null {
  // argv[0] is the runtime and argv[1] the script, both for the compiled binary and for `bun src/main.ts`.
  const args = argv.slice(2);
  switch (internalRole(args, env)) {
    case "ssh":
      return runSSH(args, env, env[ENV_SSH_CONFIG]!);
    case "askpass":
      return askpass(args[0]!, env[ENV_ASKPASS]!);
    case null:
      return null;
  }
}

async function askpass(prompt: string, payload: string): Promise<number> {
  let creds: ResolvedCredential[];
  try {
    creds = JSON.parse(payload) as ResolvedCredential[];
  } catch {
    writeStderr("git-sync askpass: malformed credential list\n");
    return 1;
  }
  const answer = answerPrompt(prompt, Array.isArray(creds) ? creds : []);
  if (answer === null) {
    // The prompt holds no password, but its user may be a token (https://ghp_xxx@host).
    writeStderr(`git-sync askpass: no credential matches ${JSON.stringify(redactURLsInText(prompt.trim()))}\n`);
    return 1;
  }
  // Bun.write resolves once the bytes are out, so the caller may exit right after.
  await Bun.write(Bun.stdout, answer + "\n");
  return 0;
}
