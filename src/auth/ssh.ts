// SSH without a shell (behaviour.md 6.6; docs/image.md, "no shell"). Upstream exports
// GIT_SSH_COMMAND="ssh -i key -o …", which git can only run through /bin/sh. Instead git runs
// GIT_SSH=<this binary> (a bare path is exec'd directly) and the binary, in its internal ssh
// mode, runs the real `ssh -F <generated config> <git's args>`. The options upstream puts on the
// command line live in that config file, written once at startup into the private temp dir.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeStderr } from "../lib/stdio.ts";

export interface SSHOptions {
  keyFiles: readonly string[];
  knownHosts: boolean;
  knownHostsFile: string;
  verbose: number;
  /** Config files to Include after ours (the user's ~/.ssh/config when it exists). */
  include: readonly string[];
}

// ssh_config expands %-tokens in these paths; "%%" is a literal percent. Double quotes allow spaces.
function pathArg(p: string): string {
  return `"${p.replace(/%/g, "%%").replace(/"/g, '\\"')}"`;
}

/** upstream: -vvv at -v ≥ 9, -vv at ≥ 7, -v at ≥ 5. */
export function sshLogLevel(verbose: number): string | null {
  if (verbose >= 9) return "DEBUG3";
  if (verbose >= 7) return "DEBUG2";
  if (verbose >= 5) return "DEBUG1";
  return null;
}

/**
 * For ssh the first value obtained for an option wins, so ours come first and the user's config
 * (included last) can add host aliases, ports and users but not weaken host key checking —
 * the same precedence upstream's command-line `-o` options have. IdentityFile accumulates.
 */
export function sshConfigText(o: SSHOptions): string {
  const lines = ["# Written by git-sync at startup; ssh runs with -F <this file>."];
  const level = sshLogLevel(o.verbose);
  if (level) lines.push(`LogLevel ${level}`);
  for (const k of o.keyFiles) lines.push(`IdentityFile ${pathArg(k)}`);
  // Only the keys given: an ssh-agent or default keys must not stand in for a missing one.
  if (o.keyFiles.length > 0) lines.push("IdentitiesOnly yes");
  if (o.knownHosts) {
    lines.push("StrictHostKeyChecking yes", `UserKnownHostsFile ${pathArg(o.knownHostsFile)}`);
  } else {
    // /dev/null rather than upstream's default file: nothing to write, no stale entry to trip on.
    lines.push("StrictHostKeyChecking no", "UserKnownHostsFile /dev/null");
  }
  for (const inc of o.include) lines.push(`Include ${pathArg(inc)}`);
  return lines.join("\n") + "\n";
}

/** The user's own ssh config, if any, so laptop users keep their host aliases. */
export function userSSHIncludes(home: string | undefined): string[] {
  if (!home) return [];
  const p = join(home, ".ssh", "config");
  return existsSync(p) ? [p] : [];
}

export function writeSSHConfig(privateDir: string, o: SSHOptions): string {
  const path = join(privateDir, "ssh_config");
  writeFileSync(path, sshConfigText(o), { mode: 0o600 });
  return path;
}

/** git's ssh invocations end with the remote command, e.g. `git-upload-pack '/repo.git'`. */
export function looksLikeSSHInvocation(args: readonly string[]): boolean {
  const last = args[args.length - 1];
  return args.length >= 2 && last !== undefined && /^git[- ](upload-pack|receive-pack|upload-archive)\b/.test(last);
}

/** Internal ssh mode: `ssh -F <config> <git's args>`, stdio inherited (git talks over it). */
export async function runSSH(args: readonly string[], env: Record<string, string | undefined>, configPath: string): Promise<number> {
  let proc;
  try {
    proc = Bun.spawn(["ssh", "-F", configPath, ...args], { env, stdio: ["inherit", "inherit", "inherit"] });
  } catch (e) {
    writeStderr(`git-sync: can't run ssh: ${(e as Error).message}\n`);
    return 127;
  }
  const code = await proc.exited;
  const sig = proc.signalCode;
  if (sig) {
    const n = (require("node:os") as typeof import("node:os")).constants.signals[sig as NodeJS.Signals];
    return 128 + (n ?? 0);
  }
  return code;
}
