// The option table: one place that knows every flag, its env names, default and help text.
// The argv pre-pass, env lookup, --help, --man and the startup flag log all read from it
// (behaviour.md 2.2, 2.3). Order matters: env values are read in this order, as upstream reads them
// while defining its flags, so deprecation lines and the first env FATAL come out in this order.
import type { Credential } from "./types.ts";

export type OptionType = "string" | "int" | "bool" | "duration" | "float" | "string-array" | "credential-array";

export interface OptionSpec {
  /** Long flag name without the leading `--`. */
  readonly name: string;
  /** One-letter short flag without the `-`. */
  readonly short?: string;
  readonly type: OptionType;
  /** Durations are in milliseconds. */
  readonly default: string | number | boolean | readonly string[];
  /** Env names in precedence order: the LAST one that is set wins (behaviour.md 2.1). */
  readonly env: readonly string[];
  readonly hidden?: boolean;
  /** Set for deprecated flags: `Flag --<name> has been deprecated, <deprecated>`. Implies hidden. */
  readonly deprecated?: string;
  readonly help: string;
  /** Shown after the flag in usage (`--repo URL`); bools have none. */
  readonly placeholder: string;
  /** The test-only `--__env__*` flags only take effect with a non-empty value. */
  readonly flagIgnoresEmpty?: boolean;
  /** Env value of a string array is split on this (":" for --ssh-key-file, "\n" for headers). */
  readonly envSplit?: string;
  /** Grouping for the manual page. */
  readonly group: "sync" | "paths" | "hooks" | "webhook" | "auth" | "http" | "misc" | "compat";
}

export const OPTIONS = [
  // --- meta
  { name: "version", type: "bool", default: false, env: [], placeholder: "", group: "misc",
    help: "print the version and exit" },
  { name: "help", short: "h", type: "bool", default: false, env: [], placeholder: "", group: "misc",
    help: "print this flag list and exit" },
  // Upstream spells -? as a hidden bool flag with that shorthand.
  { name: "__?", short: "?", type: "bool", default: false, env: [], placeholder: "", group: "misc", hidden: true,
    help: "print this flag list and exit" },
  { name: "man", type: "bool", default: false, env: [], placeholder: "", group: "misc",
    help: "print the full manual and exit" },
  { name: "verbose", short: "v", type: "int", default: 0, env: ["GITSYNC_VERBOSE"], placeholder: "int", group: "misc",
    help: "log verbosity: a line at level L is printed when L <= this (0-9); errors are always printed" },
  // Ours (issue 21): "" means choose by stderr (log/logger.ts chooseLogFormat).
  { name: "log-format", type: "string", default: "", env: ["GITSYNC_LOG_FORMAT"], placeholder: "string", group: "misc",
    help: "format of the log lines on stderr: json (git-sync's JSON lines) or text (for people: git's output as indented lines, colour unless $NO_COLOR); default text when stderr is a terminal, else json; --error-file stays JSON" },

  // --- what to sync and how often
  { name: "repo", type: "string", default: "", env: ["GITSYNC_REPO", "GIT_SYNC_REPO"], placeholder: "string", group: "sync",
    help: "URL of the remote repository to mirror, in any form git understands (required)" },
  { name: "ref", type: "string", default: "HEAD", env: ["GITSYNC_REF"], placeholder: "string", group: "sync",
    help: "what to check out: a branch, tag, full commit hash or any ref; HEAD follows the remote's default branch; semver:RANGE follows the highest tag in a semver range (e.g. \"semver:>=1.2.0 <2.0.0\")" },
  { name: "depth", type: "int", default: 1, env: ["GITSYNC_DEPTH", "GIT_SYNC_DEPTH"], placeholder: "int", group: "sync",
    help: "how many commits of history to fetch; 0 fetches everything" },
  { name: "filter", type: "string", default: "", env: ["GITSYNC_FILTER"], placeholder: "string", group: "sync",
    help: "partial-clone filter passed to git fetch, for example blob:none" },
  { name: "submodules", type: "string", default: "recursive", env: ["GITSYNC_SUBMODULES", "GIT_SYNC_SUBMODULES"],
    placeholder: "string", group: "sync",
    help: "submodule handling: recursive (all levels), shallow (top level only) or off" },
  { name: "sparse-checkout-file", type: "string", default: "", env: ["GITSYNC_SPARSE_CHECKOUT_FILE", "GIT_SYNC_SPARSE_CHECKOUT_FILE"],
    placeholder: "string", group: "sync",
    help: "file of sparse-checkout patterns; read again on every update" },
  { name: "period", type: "duration", default: 10_000, env: ["GITSYNC_PERIOD", "GIT_SYNC_PERIOD"], placeholder: "duration", group: "sync",
    help: "pause between sync attempts (at least 10ms)" },
  { name: "init-period", type: "duration", default: 0, env: ["GITSYNC_INIT_PERIOD"], placeholder: "duration", group: "sync",
    help: "pause between attempts until the first sync succeeds; 0 means use --period" },
  { name: "sync-timeout", type: "duration", default: 120_000, env: ["GITSYNC_SYNC_TIMEOUT", "GIT_SYNC_SYNC_TIMEOUT"],
    placeholder: "duration", group: "sync",
    help: "deadline for one whole sync attempt, git commands and credential calls included (at least 10ms)" },
  { name: "one-time", type: "bool", default: false, env: ["GITSYNC_ONE_TIME", "GIT_SYNC_ONE_TIME"], placeholder: "", group: "sync",
    help: "stop after the first successful sync; the exit code reports hook results too" },
  { name: "sync-on-signal", type: "string", default: "", env: ["GITSYNC_SYNC_ON_SIGNAL", "GIT_SYNC_SYNC_ON_SIGNAL"],
    placeholder: "string", group: "sync",
    help: "signal (SIGHUP, HUP or 1) that wakes the loop for an immediate sync" },
  { name: "max-failures", type: "int", default: 0, env: ["GITSYNC_MAX_FAILURES", "GIT_SYNC_MAX_FAILURES"], placeholder: "int", group: "sync",
    help: "exit after this many consecutive failed attempts; negative retries forever" },
  { name: "init-max-failures", type: "int", default: 0, env: ["GITSYNC_INIT_MAX_FAILURES"], placeholder: "int", group: "sync",
    help: "like --max-failures, but only until the first sync succeeds" },
  // Ours (issue 14): publish only what a trusted key signed.
  { name: "verify-signatures", type: "string", default: "", env: ["GITSYNC_VERIFY_SIGNATURES"], placeholder: "string", group: "sync",
    help: "publish only signed content: commit (the commit's signature), tag (--ref is an annotated tag whose signature is checked) or tag-and-commit" },
  { name: "allowed-signers-file", type: "string", default: "", env: ["GITSYNC_ALLOWED_SIGNERS_FILE"], placeholder: "string", group: "sync",
    help: "SSH keys trusted by --verify-signatures, in ssh-keygen's allowed_signers format (as git's gpg.ssh.allowedSignersFile); re-read when it changes" },
  { name: "trusted-keys-file", type: "string", default: "", env: ["GITSYNC_TRUSTED_KEYS_FILE"], placeholder: "string", group: "sync",
    help: "ASCII-armored OpenPGP public keys trusted by --verify-signatures; re-read when it changes" },
  { name: "stale-worktree-timeout", type: "duration", default: 0, env: ["GITSYNC_STALE_WORKTREE_TIMEOUT"],
    placeholder: "duration", group: "sync",
    help: "keep replaced worktrees this long before deleting them; 0 deletes them at once" },

  // --- paths
  { name: "root", type: "string", default: "", env: ["GITSYNC_ROOT", "GIT_SYNC_ROOT"], placeholder: "string", group: "paths",
    help: "directory that holds the repository, its worktrees and (by default) the link (required)" },
  { name: "link", type: "string", default: "", env: ["GITSYNC_LINK", "GIT_SYNC_LINK"], placeholder: "string", group: "paths",
    help: "symlink that always points at the current checkout; relative to --root unless absolute (default: last element of --repo)" },
  { name: "also-link", type: "string-array", default: [], env: ["GITSYNC_ALSO_LINK"], placeholder: "NAME=REF", group: "paths",
    help: "also publish REF (branch, tag, hash or HEAD) at the link NAME in --root, from the same repo and process; repeatable (the env var is a comma list)" },
  { name: "link-mode", type: "string", default: "symlink", env: ["GITSYNC_LINK_MODE"], placeholder: "string", group: "paths",
    help: "symlink (the link is a symlink swapped atomically to each new checkout) or copy (the link is a plain directory updated file by file, for consumers that can't follow a symlink; .git-sync-hash in it names the commit once complete)" },
  { name: "copy-drop-repo", type: "bool", default: false, env: ["GITSYNC_COPY_DROP_REPO"], placeholder: "", group: "paths",
    help: "with --one-time and --link-mode=copy: remove the object store (root/.git) afterwards, leaving only the copied directory" },
  { name: "error-file", type: "string", default: "", env: ["GITSYNC_ERROR_FILE", "GIT_SYNC_ERROR_FILE"], placeholder: "string", group: "paths",
    help: "file that holds the last error while syncing is failing; relative to --root unless absolute" },
  { name: "touch-file", type: "string", default: "", env: ["GITSYNC_TOUCH_FILE", "GIT_SYNC_TOUCH_FILE"], placeholder: "string", group: "paths",
    help: "file whose mtime is bumped after every change; relative to --root unless absolute" },
  { name: "group-write", type: "bool", default: false, env: ["GITSYNC_GROUP_WRITE", "GIT_SYNC_GROUP_WRITE"], placeholder: "", group: "paths",
    help: "make everything written under --root writable by the group (umask 0002)" },
  { name: "add-user", type: "bool", default: false, env: ["GITSYNC_ADD_USER", "GIT_SYNC_ADD_USER"], placeholder: "", group: "paths",
    help: "add an /etc/passwd entry for the running UID when it has none (ssh refuses to run without one)" },

  // --- exec hooks
  { name: "exechook-command", type: "string", default: "", env: ["GITSYNC_EXECHOOK_COMMAND", "GIT_SYNC_EXECHOOK_COMMAND"],
    placeholder: "string", group: "hooks",
    help: "program run in the new worktree after each publish (a path, no arguments, no shell; a relative path like ./hook.sh means a file of the synced tree)" },
  { name: "exechook-argv", type: "string", default: "", env: ["GITSYNC_EXECHOOK_ARGV"], placeholder: "json", group: "hooks",
    help: "like --exechook-command, but a JSON array holding the program and its arguments, e.g. [\"/bin/make\",\"site\"]" },
  { name: "exechook-timeout", type: "duration", default: 30_000, env: ["GITSYNC_EXECHOOK_TIMEOUT", "GIT_SYNC_EXECHOOK_TIMEOUT"],
    placeholder: "duration", group: "hooks",
    help: "kill the exechook after this long (at least 1s)" },
  { name: "exechook-backoff", type: "duration", default: 3_000, env: ["GITSYNC_EXECHOOK_BACKOFF", "GIT_SYNC_EXECHOOK_BACKOFF"],
    placeholder: "duration", group: "hooks",
    help: "wait this long before retrying a failed exechook (at least 1s)" },
  { name: "pre-publish-exechook-command", type: "string", default: "", env: ["GITSYNC_PRE_PUBLISH_EXECHOOK_COMMAND"],
    placeholder: "string", group: "hooks",
    help: "program run in a new worktree just before the link moves to it (a path, no arguments; a relative path means a file of the synced tree)" },
  { name: "pre-publish-exechook-argv", type: "string", default: "", env: ["GITSYNC_PRE_PUBLISH_EXECHOOK_ARGV"],
    placeholder: "json", group: "hooks",
    help: "like --pre-publish-exechook-command, but a JSON array holding the program and its arguments" },
  { name: "pre-publish-exechook-timeout", type: "duration", default: 30_000, env: ["GITSYNC_PRE_PUBLISH_EXECHOOK_TIMEOUT"],
    placeholder: "duration", group: "hooks",
    help: "kill the pre-publish hook after this long (at least 1s)" },
  { name: "pre-publish-exechook-backoff", type: "duration", default: 3_000, env: ["GITSYNC_PRE_PUBLISH_EXECHOOK_BACKOFF"],
    placeholder: "duration", group: "hooks",
    help: "wait this long before retrying a failed pre-publish hook (at least 1s)" },
  { name: "pre-publish-exechook-gate", type: "bool", default: false, env: ["GITSYNC_PRE_PUBLISH_EXECHOOK_GATE"],
    placeholder: "", group: "hooks",
    help: "publish a commit only once its pre-publish hook succeeded, instead of in parallel with it" },

  // --- webhook
  { name: "webhook-url", type: "string", default: "", env: ["GITSYNC_WEBHOOK_URL", "GIT_SYNC_WEBHOOK_URL"], placeholder: "string", group: "webhook",
    help: "URL called after each publish, with the new hash in the Gitsync-Hash header" },
  { name: "webhook-method", type: "string", default: "POST", env: ["GITSYNC_WEBHOOK_METHOD", "GIT_SYNC_WEBHOOK_METHOD"],
    placeholder: "string", group: "webhook",
    help: "HTTP method of the webhook request" },
  { name: "webhook-success-status", type: "int", default: 200, env: ["GITSYNC_WEBHOOK_SUCCESS_STATUS", "GIT_SYNC_WEBHOOK_SUCCESS_STATUS"],
    placeholder: "int", group: "webhook",
    help: "HTTP status that counts as success; 0 accepts any status" },
  { name: "webhook-timeout", type: "duration", default: 1_000, env: ["GITSYNC_WEBHOOK_TIMEOUT", "GIT_SYNC_WEBHOOK_TIMEOUT"],
    placeholder: "duration", group: "webhook",
    help: "deadline for one webhook request (at least 1s)" },
  { name: "webhook-backoff", type: "duration", default: 3_000, env: ["GITSYNC_WEBHOOK_BACKOFF", "GIT_SYNC_WEBHOOK_BACKOFF"],
    placeholder: "duration", group: "webhook",
    help: "wait this long before retrying a failed webhook (at least 1s)" },
  { name: "webhook-payload", type: "bool", default: false, env: ["GITSYNC_WEBHOOK_PAYLOAD"], placeholder: "", group: "webhook",
    help: "send a JSON body describing the sync instead of an empty request" },
  { name: "webhook-signature-secret-file", type: "string", default: "", env: ["GITSYNC_WEBHOOK_SIGNATURE_SECRET_FILE"],
    placeholder: "string", group: "webhook",
    help: "file holding a key used to sign each webhook request with HMAC-SHA256" },
  { name: "webhook-header", type: "string-array", default: [], env: ["GITSYNC_WEBHOOK_HEADER"], envSplit: "\n",
    placeholder: "string", group: "webhook",
    help: "extra \"Name: value\" request header for the webhook; repeatable (the env var takes one per line)" },

  // --- authentication
  { name: "username", type: "string", default: "", env: ["GITSYNC_USERNAME", "GIT_SYNC_USERNAME"], placeholder: "string", group: "auth",
    help: "user name for HTTP(S) access to --repo" },
  { name: "__env__GITSYNC_PASSWORD", type: "string", default: "", env: ["GITSYNC_PASSWORD", "GIT_SYNC_PASSWORD"],
    placeholder: "string", group: "auth", hidden: true, flagIgnoresEmpty: true,
    help: "test-only way to set $GITSYNC_PASSWORD" },
  { name: "password-file", type: "string", default: "", env: ["GITSYNC_PASSWORD_FILE", "GIT_SYNC_PASSWORD_FILE"],
    placeholder: "string", group: "auth",
    help: "file holding the password for --username; read again before every attempt" },
  { name: "credential", type: "credential-array", default: [], env: ["GITSYNC_CREDENTIAL"], placeholder: "json", group: "auth",
    help: "JSON object (or list) {\"url\",\"username\",\"password\" or \"password-file\"} giving credentials for a URL; repeatable" },
  { name: "askpass-url", type: "string", default: "", env: ["GITSYNC_ASKPASS_URL", "GIT_SYNC_ASKPASS_URL", "GIT_ASKPASS_URL"],
    placeholder: "string", group: "auth",
    help: "URL that answers with username=... and password=... lines, asked before every attempt" },
  { name: "ssh-key-file", type: "string-array", default: ["/etc/git-secret/ssh"], envSplit: ":",
    env: ["GITSYNC_SSH_KEY_FILE", "GIT_SYNC_SSH_KEY_FILE", "GIT_SSH_KEY_FILE"], placeholder: "string", group: "auth",
    help: "private key for SSH access; repeatable (the env var is a :-separated list)" },
  { name: "ssh-known-hosts", type: "bool", default: true, env: ["GITSYNC_SSH_KNOWN_HOSTS", "GIT_SYNC_KNOWN_HOSTS", "GIT_KNOWN_HOSTS"],
    placeholder: "", group: "auth",
    help: "check SSH host keys against --ssh-known-hosts-file" },
  { name: "ssh-known-hosts-file", type: "string", default: "/etc/git-secret/known_hosts",
    env: ["GITSYNC_SSH_KNOWN_HOSTS_FILE", "GIT_SYNC_SSH_KNOWN_HOSTS_FILE", "GIT_SSH_KNOWN_HOSTS_FILE"],
    placeholder: "string", group: "auth",
    help: "known_hosts file used when --ssh-known-hosts is on" },
  { name: "cookie-file", type: "bool", default: false, env: ["GITSYNC_COOKIE_FILE", "GIT_SYNC_COOKIE_FILE", "GIT_COOKIE_FILE"],
    placeholder: "", group: "auth",
    help: "hand /etc/git-secret/cookie_file to git as its HTTP cookie file" },
  { name: "github-base-url", type: "string", default: "https://api.github.com/", env: ["GITSYNC_GITHUB_BASE_URL"],
    placeholder: "string", group: "auth",
    help: "GitHub API root used to mint GitHub App installation tokens" },
  { name: "__env__GITSYNC_GITHUB_APP_PRIVATE_KEY", type: "string", default: "", env: ["GITSYNC_GITHUB_APP_PRIVATE_KEY"],
    placeholder: "string", group: "auth", hidden: true, flagIgnoresEmpty: true,
    help: "test-only way to set $GITSYNC_GITHUB_APP_PRIVATE_KEY" },
  { name: "github-app-private-key-file", type: "string", default: "", env: ["GITSYNC_GITHUB_APP_PRIVATE_KEY_FILE"],
    placeholder: "string", group: "auth",
    help: "PEM file with the GitHub App's private key; read again at every token refresh" },
  { name: "github-app-application-id", type: "int", default: 0, env: ["GITSYNC_GITHUB_APP_APPLICATION_ID"], placeholder: "int", group: "auth",
    help: "numeric GitHub App ID (or use --github-app-client-id)" },
  { name: "github-app-client-id", type: "string", default: "", env: ["GITSYNC_GITHUB_APP_CLIENT_ID"], placeholder: "string", group: "auth",
    help: "GitHub App client ID (or use --github-app-application-id)" },
  { name: "github-app-installation-id", type: "int", default: 0, env: ["GITSYNC_GITHUB_APP_INSTALLATION_ID"], placeholder: "int", group: "auth",
    help: "installation of the GitHub App whose token is used" },

  // --- git itself
  { name: "git", type: "string", default: "git", env: ["GITSYNC_GIT", "GIT_SYNC_GIT"], placeholder: "string", group: "misc",
    help: "git program to run, looked up on PATH" },
  { name: "git-config", type: "string", default: "", env: ["GITSYNC_GIT_CONFIG", "GIT_SYNC_GIT_CONFIG"], placeholder: "string", group: "misc",
    help: "extra git settings as key:value pairs separated by commas; values may be \"quoted\"" },
  { name: "git-config-add", type: "string-array", default: [], env: [], placeholder: "string", group: "misc",
    help: "one extra key:value git setting, applied after --git-config; repeatable" },
  { name: "git-gc", type: "string", default: "always", env: ["GITSYNC_GIT_GC", "GIT_SYNC_GIT_GC"], placeholder: "string", group: "misc",
    help: "garbage collection after each sync: auto, always, aggressive or off" },

  // --- HTTP endpoint
  { name: "http-bind", type: "string", default: "", env: ["GITSYNC_HTTP_BIND", "GIT_SYNC_HTTP_BIND"], placeholder: "string", group: "http",
    help: "address (host:port or :port) for the health, metrics and profiling server; empty = no server" },
  { name: "http-metrics", type: "bool", default: false, env: ["GITSYNC_HTTP_METRICS", "GIT_SYNC_HTTP_METRICS"], placeholder: "", group: "http",
    help: "serve Prometheus metrics at /metrics" },
  { name: "http-pprof", type: "bool", default: false, env: ["GITSYNC_HTTP_PPROF", "GIT_SYNC_HTTP_PPROF"], placeholder: "", group: "http",
    help: "serve profiling endpoints under /debug/pprof" },
  { name: "http-sync-secret-file", type: "string", default: "", env: ["GITSYNC_HTTP_SYNC_SECRET_FILE"], placeholder: "string", group: "http",
    help: "turn on POST /sync, the push trigger, for requests proven to know the secret in this file (a forge's signature or token, or Authorization: Bearer); off without it" },
  // 1s: a forge sends one request per pushed ref, so a push of several branches or tags is a
  // burst; one sync covers it. An isolated push still wakes the loop at once.
  { name: "http-sync-min-interval", type: "duration", default: 1_000, env: ["GITSYNC_HTTP_SYNC_MIN_INTERVAL"], placeholder: "duration", group: "http",
    help: "space push-triggered syncs at least this far apart; pushes in between join one sync at the end of the interval (0 = no spacing)" },
  // Ours (issue 22): the synced repository served read-only over git's smart HTTP at /git
  // (src/serve/, docs/serve.md).
  { name: "serve-git", type: "bool", default: false, env: ["GITSYNC_SERVE_GIT"], placeholder: "", group: "http",
    help: "also serve the synced repository read-only over git's smart HTTP at /git of --http-bind: only the published refs and what they reach; needs --serve-git-secret-file or --serve-git-anonymous" },
  { name: "serve-git-secret-file", type: "string", default: "", env: ["GITSYNC_SERVE_GIT_SECRET_FILE"], placeholder: "string", group: "http",
    help: "the secret a /git request must carry, as the basic-auth password (any username) or an Authorization: Bearer token; re-read when the file changes" },
  { name: "serve-git-anonymous", type: "bool", default: false, env: ["GITSYNC_SERVE_GIT_ANONYMOUS"], placeholder: "", group: "http",
    help: "serve /git without authentication (instead of --serve-git-secret-file)" },
  { name: "serve-git-max-packs", type: "int", default: 4, env: ["GITSYNC_SERVE_GIT_MAX_PACKS"], placeholder: "int", group: "http",
    help: "how many git processes /git runs at once (each makes a pack or a negotiation round); more requests get 503 with Retry-After" },
  { name: "serve-git-timeout", type: "duration", default: 600_000, env: ["GITSYNC_SERVE_GIT_TIMEOUT"], placeholder: "duration", group: "http",
    help: "the longest one /git request may take; past it (or when the client goes away) its git processes are killed" },
  // Ours (issue 23): replicas behind one DNS name share one poll and one fetch (src/peers/, docs/peers.md).
  { name: "peers", type: "string", default: "", env: ["GITSYNC_PEERS"], placeholder: "string", group: "http",
    help: "a DNS name whose A/AAAA records are this git-sync's replicas (a headless Service): one of them polls and fetches from the git host and the others sync from its /git; needs --serve-git with --serve-git-secret-file" },
  { name: "readiness-max-failures", type: "int", default: 0, env: ["GITSYNC_READINESS_MAX_FAILURES"], placeholder: "int", group: "http",
    help: "report not-ready after this many consecutive failed attempts; 0 = never" },
  { name: "readiness-max-age", type: "duration", default: 0, env: ["GITSYNC_READINESS_MAX_AGE"], placeholder: "duration", group: "http",
    help: "report not-ready when the last successful sync is older than this; 0 = never" },

  // --- deprecated and v3 spellings (hidden)
  { name: "branch", type: "string", default: "", env: ["GIT_SYNC_BRANCH"], placeholder: "string", group: "compat",
    deprecated: "use --ref instead", help: "old way to choose a branch" },
  { name: "change-permissions", type: "int", default: 0, env: ["GIT_SYNC_PERMISSIONS"], placeholder: "int", group: "compat",
    deprecated: "use --group-write instead", help: "no longer supported; any non-zero value is an error" },
  { name: "dest", type: "string", default: "", env: ["GIT_SYNC_DEST"], placeholder: "string", group: "compat",
    deprecated: "use --link instead", help: "old name of --link" },
  { name: "max-sync-failures", type: "int", default: 0, env: ["GIT_SYNC_MAX_SYNC_FAILURES"], placeholder: "int", group: "compat",
    deprecated: "use --max-failures instead", help: "old name of --max-failures" },
  { name: "password", type: "string", default: "", env: [], placeholder: "string", group: "compat",
    deprecated: "use $GITSYNC_PASSWORD or --password-file instead", help: "password on the command line (unsafe)" },
  { name: "rev", type: "string", default: "", env: ["GIT_SYNC_REV"], placeholder: "string", group: "compat",
    deprecated: "use --ref instead", help: "old way to choose a revision" },
  { name: "ssh", type: "bool", default: false, env: [], placeholder: "", group: "compat",
    deprecated: "it is no longer needed", help: "no effect" },
  { name: "sync-hook-command", type: "string", default: "", env: ["GIT_SYNC_HOOK_COMMAND"], placeholder: "string", group: "compat",
    deprecated: "use --exechook-command instead", help: "old name of --exechook-command" },
  { name: "timeout", type: "int", default: 0, env: ["GIT_SYNC_TIMEOUT"], placeholder: "int", group: "compat",
    deprecated: "use --sync-timeout instead", help: "old sync timeout in seconds" },
  { name: "v", type: "int", default: -1, env: [], placeholder: "int", group: "compat",
    deprecated: "use -v or --verbose instead", help: "old name of --verbose" },
  { name: "wait", type: "float", default: 0, env: ["GIT_SYNC_WAIT"], placeholder: "float", group: "compat",
    deprecated: "use --period instead", help: "old period in (fractional) seconds" },
] as const satisfies readonly OptionSpec[];

type Opt = (typeof OPTIONS)[number];
export type OptionName = Opt["name"];

type ValueOfType<T extends OptionType> = T extends "string"
  ? string
  : T extends "bool"
    ? boolean
    : T extends "int" | "duration" | "float"
      ? number
      : T extends "string-array"
        ? string[]
        : Credential[];

/** The value of each option after env and argv, keyed by flag name. */
export type OptionValues = { [N in OptionName]: ValueOfType<Extract<Opt, { name: N }>["type"]> };

export type OptionValue = OptionValues[OptionName];

const BY_NAME = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.name, o]));
const BY_SHORT = new Map<string, OptionSpec>(
  OPTIONS.filter((o): o is Extract<Opt, { short: string }> => "short" in o).map((o) => [o.short, o]),
);

export function findOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

export function findShort(c: string): OptionSpec | undefined {
  return BY_SHORT.get(c);
}

/** Hidden from --help, --man and the startup flag log. */
export function isHidden(o: OptionSpec): boolean {
  return o.hidden === true || o.deprecated !== undefined;
}
