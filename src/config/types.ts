// The validated configuration: what `resolveConfig(argv, env)` hands to the sync loop after
// behaviour.md 2.4 has been applied (deprecated flags folded in, defaults filled, rules checked).
// Durations are milliseconds. Paths are as the user gave them unless noted; the loop resolves
// root and link at startup (behaviour.md 1.2).
import type { LogFormat } from "../log/logger.ts";

export type SubmoduleMode = "recursive" | "shallow" | "off";
export type GitGCMode = "auto" | "always" | "aggressive" | "off";
export type LinkMode = "symlink" | "copy";

export interface Credential {
  url: string;
  username: string;
  /** Exactly one of password / passwordFile is non-empty. */
  password: string;
  passwordFile: string;
}

export interface ExecHookConfig {
  /** `--*-exechook-command`: a program path, no arguments (upstream semantics). "" = off. */
  command: string;
  /** `--*-exechook-argv` (ours): a JSON array run without a shell; wins over `command`. [] = off. */
  argv: string[];
  timeout: number;
  backoff: number;
}

export interface Config {
  repo: string;
  ref: string;
  /** Absolute and cleaned, not yet symlink-resolved (behaviour.md 1.2). */
  root: string;
  /** As given (or the default leaf of --repo); made absolute against the resolved root at startup. */
  link: string;
  /**
   * --also-link NAME=REF (ours, issue 15): more refs published beside the main one, each at its
   * own link under root. Empty: one ref, exactly as upstream.
   */
  alsoLinks: AlsoLink[];
  /** `--link-mode` (ours): "symlink" (upstream's) or "copy" (the link is a directory, publish/copy.ts). */
  linkMode: LinkMode;
  /** `--copy-drop-repo` (ours): after a --one-time copy, remove root/.git. */
  copyDropRepo: boolean;
  period: number;
  initPeriod: number;
  syncTimeout: number;
  maxFailures: number;
  /** undefined when neither the flag nor GITSYNC_INIT_MAX_FAILURES was given. */
  initMaxFailures: number | undefined;
  oneTime: boolean;
  /** Normalized signal name (e.g. "SIGHUP"), or "" for none. */
  syncOnSignal: string;
  depth: number;
  filter: string;
  submodules: SubmoduleMode;
  sparseCheckoutFile: string;
  gitGC: GitGCMode;
  /** `--git` as given; resolved on PATH at startup. */
  git: string;
  /** Raw `--git-config` and `--git-config-add` values; parsed at startup (parse errors exit 1 there). */
  gitConfig: string;
  gitConfigAdd: string[];
  /** Absolute (joined to the pre-realpath root when relative), or "". */
  errorFile: string;
  touchFile: string;
  staleWorktreeTimeout: number;
  groupWrite: boolean;
  addUser: boolean;

  exechook: ExecHookConfig;
  prePublish: ExecHookConfig & {
    /** `--pre-publish-exechook-gate` (ours): publish only hashes whose pre-publish hook passed. */
    gate: boolean;
  };
  webhook: {
    url: string;
    method: string;
    /** 0 = any status is success (v3's -1 is mapped to 0). */
    successStatus: number;
    timeout: number;
    backoff: number;
    /** `--webhook-payload` (ours): send a JSON body describing the sync. */
    payload: boolean;
    /** `--webhook-signature-secret-file` (ours): HMAC-SHA256 key file; "" = unsigned. */
    signatureSecretFile: string;
    /** `--webhook-header` (ours, repeatable "Name: value"). */
    headers: Array<[string, string]>;
  };

  username: string;
  /** From GITSYNC_PASSWORD / --password / the hidden --__env__ flag. Never logged. */
  password: string;
  passwordFile: string;
  /** GITSYNC_CREDENTIAL entries, then --credential flags (behaviour.md 2.1). */
  credentials: Credential[];
  askpassURL: string;
  sshKeyFiles: string[];
  sshKnownHosts: boolean;
  sshKnownHostsFile: string;
  cookieFile: boolean;
  githubBaseURL: string;
  githubAppPrivateKey: string;
  githubAppPrivateKeyFile: string;
  githubAppApplicationID: number;
  githubAppClientID: string;
  githubAppInstallationID: number;

  httpBind: string;
  httpMetrics: boolean;
  httpPprof: boolean;
  /** `--readiness-max-failures` (ours): /readyz turns 503 after this many consecutive failures; 0 = off. */
  readinessMaxFailures: number;
  /** `--readiness-max-age` (ours): /readyz turns 503 when the last success is older; 0 = off. */
  readinessMaxAge: number;
  /** `--http-sync-secret-file` (ours): POST /sync, the push trigger, takes requests proving this secret; "" = off (403). */
  httpSyncSecretFile: string;
  /** `--http-sync-min-interval` (ours): least time between push-triggered wake-ups; later pushes coalesce. */
  httpSyncMinInterval: number;

  /** `--serve-git` and its options (ours, issue 22): the read-only git mirror at /git. */
  serveGit: {
    enabled: boolean;
    /** "" with --serve-git-anonymous. */
    secretFile: string;
    anonymous: boolean;
    maxPacks: number;
    /** Milliseconds. */
    timeout: number;
  };

  /** `--peers` (ours, issue 23): the DNS name of the replicas that share one poll; "" = off. */
  peers: string;

  /** `--verify-signatures` (ours): "" = off; the key files as given. */
  verify: {
    mode: "" | "commit" | "tag" | "tag-and-commit";
    allowedSignersFile: string;
    trustedKeysFile: string;
  };

  verbose: number;
  /** `--log-format` (ours): "auto" picks text on a terminal, JSON otherwise (log/logger.ts). */
  logFormat: LogFormat | "auto";

  /**
   * For the `starting up` log (behaviour.md 3 step 1): every visible option with its effective value as
   * a `--name=value` string, whether it was changed on the command line, and whether it is empty.
   * Secrets already redacted; hidden and deprecated flags absent.
   */
  flagLog: Array<{ name: string; text: string; changed: boolean; empty: boolean }>;
}

/** What the command line asked for besides a sync: these exit before any sync work. */
export type ConfigResult =
  | {
      kind: "run";
      config: Config;
      warnings: string[];
      /** V0 log messages such as `setting --ref from deprecated --branch`, for main to log (behaviour.md 2.4 step 5). */
      logs?: string[];
    }
  | { kind: "exit"; code: number; stdout: string; stderr: string; errorFile?: { path: string; content: string } };

/** One --also-link: `name` as given (a path relative to root), `link` its absolute path. */
export interface AlsoLink {
  name: string;
  ref: string;
  link: string;
}
