// Authentication (behaviour.md 6): everything git needs to reach a private repo, set up once at
// startup and refreshed at the start of every sync attempt.
//
// Mechanisms chosen because the image has no /bin/sh (docs/image.md, "no shell"), and used on the host too:
//  - http(s): this binary is GIT_ASKPASS; the credentials reach it through GITSYNC_INTERNAL_ASKPASS
//    in the env of git children only (never argv, never disk, never the process env that hooks get).
//    No credential.helper at all: upstream's `credential.helper cache` cannot run without a shell.
//  - ssh: this binary is GIT_SSH and runs `ssh -F <generated config>` (ssh.ts).
import { statSync } from "node:fs";
import type { Config, Credential } from "../config/types.ts";
import type { GitConfigFile } from "../git/config-file.ts";
import type { Git } from "../git/runner.ts";
import { githubTokenCount } from "../state/metrics.ts";
import { registerSecret, type Logger } from "../log/logger.ts";
import { redactURL } from "../log/redact.ts";
import { callAskpassURL } from "./askpass-url.ts";
import { readSecretFile } from "../lib/secrets.ts";
import { matchCredential, mergeRepoCredentials, type ResolvedCredential } from "./credentials.ts";
import { fetchInstallationToken, FatalAuthError, githubAppEnabled, type GitHubAppConfig, type InstallationToken } from "./github.ts";
import { ENV_ASKPASS, ENV_SSH_CONFIG } from "./internal.ts";
import { userSSHIncludes, writeSSHConfig } from "./ssh.ts";
import { addUser } from "./user.ts";

export { runInternalMode } from "./internal.ts";
export { FatalAuthError } from "./github.ts";
export { mergeRepoCredentials } from "./credentials.ts";

/** behaviour.md 6.7: a fixed path, as upstream. */
export const COOKIE_FILE = "/etc/git-secret/cookie_file";

export interface Auth {
  /** The repo URL with any userinfo removed: use it for everything. */
  readonly repo: string;
  /** Environment to add to EVERY git child (askpass, ssh, the credential payload). */
  gitEnv(): Record<string, string>;
  /**
   * The credential git would be handed for an http(s) URL's host (what askpass answers), for
   * requests made in process (repo/smart-http.ts); null when there is none.
   */
  httpCredential(url: string): { username: string; password: string } | null;
  /** Environment to add to the PROCESS env (inherited by hooks): no secrets here. */
  processEnv(): Record<string, string>;
  /**
   * Step 1 of every sync attempt (behaviour.md 6.1). Throws Error("credential refresh failed: …"),
   * or a FatalAuthError (unreadable GitHub key file) that the caller turns into exit 1 after
   * logging `log.error(err.cause, err.message)`.
   */
  refresh(deadline: number): Promise<void>;
}

export interface AuthDeps {
  git: Git;
  /** The private temp dir of the process (holds the private gitconfig); the ssh config goes there. */
  privateDir: string;
  log: Logger;
  /** The program git runs as GIT_ASKPASS and GIT_SSH. Default: process.execPath (the compiled binary). */
  self?: string;
  /** The private global gitconfig being built; http.cookiefile goes there (behaviour.md 6.7). */
  gitConfig?: GitConfigFile;
  /** Defaults for tests: process.env, COOKIE_FILE. */
  env?: Record<string, string | undefined>;
  cookieFile?: string;
}

function md5(s: string): string {
  return new Bun.CryptoHasher("md5").update(s).digest("hex");
}

function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN");
}

/**
 * behaviour.md 3 steps 5, 6 and 10. Call it after the private gitconfig has its defaults (step 9)
 * and before --git-config is applied (step 11), with `git` already using that gitconfig.
 */
export async function setupAuth(config: Config, deps: AuthDeps): Promise<Auth> {
  const { log, git } = deps;
  const env = deps.env ?? process.env;
  const self = deps.self ?? process.execPath;
  if (!deps.self && !isCompiled()) {
    log.info("not running as a compiled binary: git can't use it as GIT_ASKPASS/GIT_SSH, so private repos will fail; build dist/git-sync");
  }

  const { repo, credentials } = mergeRepoCredentials(config);
  for (const s of [config.password, config.githubAppPrivateKey, ...credentials.map((c) => c.password)]) registerSecret(s);

  if (config.addUser && addUser()) log.v(1, "added passwd entry for the current user", { uid: process.getuid?.() });

  // SSH: set up once, whether or not the repo uses ssh (submodules may).
  log.v(1, "setting up git SSH credentials");
  const sshConfig = writeSSHConfig(deps.privateDir, {
    keyFiles: config.sshKeyFiles,
    knownHosts: config.sshKnownHosts,
    knownHostsFile: config.sshKnownHostsFile,
    verbose: config.verbose,
    include: userSSHIncludes(env.HOME),
  });
  let sshEnv: Record<string, string>;
  const userCommand = env.GIT_SSH_COMMAND;
  if (userCommand) {
    // The user's own command wins, as upstream builds on it; it needs /bin/sh, which the user chose.
    sshEnv = { GIT_SSH_COMMAND: `${userCommand} -F '${sshConfig.replace(/'/g, "'\\''")}'` };
    log.info("using $GIT_SSH_COMMAND from the environment with git-sync's ssh config", { GIT_SSH_COMMAND: sshEnv.GIT_SSH_COMMAND });
  } else {
    sshEnv = { GIT_SSH: self, GIT_SSH_VARIANT: "ssh", [ENV_SSH_CONFIG]: sshConfig };
    log.v(9, "setting $GIT_SSH", { GIT_SSH: self, config: sshConfig });
  }

  if (config.cookieFile) {
    const path = deps.cookieFile ?? COOKIE_FILE;
    try {
      statSync(path);
      if (deps.gitConfig) deps.gitConfig.set("http.cookiefile", path);
      else await git.run(["config", "--global", "http.cookiefile", path], { cwd: process.cwd() });
    } catch (e) {
      throw new FatalAuthError("can't set up git cookie file", { cause: e });
    }
  }

  return new AuthImpl(config, repo, credentials, self, sshEnv, log);
}

class AuthImpl implements Auth {
  private current: ResolvedCredential[] = [];
  private token: InstallationToken = { token: "", expiresAt: 0 };
  private readonly github: GitHubAppConfig;

  constructor(
    private readonly config: Config,
    readonly repo: string,
    private readonly credentials: readonly Credential[],
    private readonly self: string,
    private readonly sshEnv: Record<string, string>,
    private readonly log: Logger,
  ) {
    this.github = {
      baseURL: config.githubBaseURL,
      privateKey: config.githubAppPrivateKey,
      privateKeyFile: config.githubAppPrivateKeyFile,
      applicationID: config.githubAppApplicationID,
      clientID: config.githubAppClientID,
      installationID: config.githubAppInstallationID,
    };
  }

  gitEnv(): Record<string, string> {
    return {
      ...this.sshEnv,
      GIT_ASKPASS: this.self,
      // A missing credential must fail the fetch, not wait for a terminal that isn't there.
      GIT_TERMINAL_PROMPT: "0",
      [ENV_ASKPASS]: JSON.stringify(this.current),
    };
  }

  processEnv(): Record<string, string> {
    return { ...this.sshEnv };
  }

  httpCredential(url: string): { username: string; password: string } | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return null;
    }
    // git prompts for "<protocol>://<host>" (no path unless credential.useHttpPath, which makes
    // the poll use git itself, see smart-http.ts).
    const c = matchCredential(`${u.protocol}//${u.host}`, this.current);
    return c ? { username: c.username, password: c.password } : null;
  }

  async refresh(deadline: number): Promise<void> {
    try {
      this.current = await this.resolve(deadline);
    } catch (e) {
      if (e instanceof FatalAuthError) throw e;
      throw new Error(`credential refresh failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private async resolve(deadline: number): Promise<ResolvedCredential[]> {
    const out: ResolvedCredential[] = [];
    const store = (url: string, username: string, password: string) => {
      registerSecret(password);
      // Every attempt runs this, a poll included: build the log arguments only when they print.
      if (this.log.enabled(1)) this.log.v(1, "storing git credential", { url: redactURL(url) });
      if (this.log.enabled(9)) this.log.v(9, "md5 of credential", { url: redactURL(url), username: md5(username), password: md5(password) });
      out.push({ url, username, password });
    };

    for (const c of this.credentials) {
      let password = c.password;
      if (c.passwordFile !== "") {
        // behaviour.md 6.1: re-read at every attempt, so a rotated token needs no restart.
        password = readSecretFile(c.passwordFile, "password file");
        this.log.v(3, "read password from file", { file: c.passwordFile });
      }
      store(c.url, c.username, password);
    }

    if (this.config.askpassURL !== "") {
      this.log.v(3, "calling auth URL to get credentials");
      const a = await callAskpassURL(this.config.askpassURL, deadline, this.log);
      store(this.repo, a.username, a.password);
    }

    if (githubAppEnabled(this.github)) {
      if (this.token.expiresAt < Date.now() + 30_000) {
        this.log.v(3, "refreshing GitHub app token");
        try {
          this.token = await fetchInstallationToken(this.github, deadline, registerSecret);
          registerSecret(this.token.token);
          githubTokenCount.inc({ status: "success" });
        } catch (e) {
          githubTokenCount.inc({ status: "error" });
          throw e;
        }
      }
      store(this.repo, "-", this.token.token);
    }
    return out;
  }
}
