// --help and --man, both generated from the option table so they cannot drift from the parser.
// The usage layout mimics pflag's PrintDefaults (sorted, aligned, "(default ...)") because
// people diff it against upstream's; the words are our own.
import { formatGoDuration, goQuote } from "../lib/go.ts";
import { OPTIONS, isHidden, type OptionSpec, type OptionValue } from "./options.ts";
import { shownListItem, shownString } from "./shown.ts";

type Defaults = Partial<Record<string, OptionValue>>;

/** pflag prints a default unless it is the type's zero value. */
function defaultText(o: OptionSpec, d: OptionValue | undefined): string {
  const v = d ?? (o.default as OptionValue);
  switch (o.type) {
    case "bool":
      return v === true ? " (default true)" : "";
    case "int":
    case "float":
      return v === 0 ? "" : ` (default ${String(v)})`;
    case "duration":
      return v === 0 ? "" : ` (default ${formatGoDuration(v as number)})`;
    case "string":
      // A default from the environment is shown as the flag log shows it (no URL user info).
      return v === "" ? "" : ` (default ${goQuote(shownString(o, v as string))})`;
    case "string-array":
      return (v as string[]).length === 0 ? "" : ` (default [${(v as string[]).map((item) => shownListItem(o.name, item)).join(",")}])`;
    case "credential-array":
      return "";
  }
}

function visible(): OptionSpec[] {
  return [...(OPTIONS as readonly OptionSpec[])].filter((o) => !isHidden(o));
}

function flagColumn(o: OptionSpec): string {
  const head = o.short ? `  -${o.short}, --${o.name}` : `      --${o.name}`;
  return o.placeholder ? `${head} ${o.placeholder}` : head;
}

/**
 * The flag list printed by --help (stdout) and after flag errors (stderr). `defaults` carries
 * env-provided values: like upstream, a default that came from the environment is shown.
 */
export function usage(defaults: Defaults = {}): string {
  const opts = visible().sort((a, b) => (a.name < b.name ? -1 : 1));
  const cols = opts.map(flagColumn);
  const width = Math.max(...cols.map((c) => c.length));
  const lines = opts.map((o, i) => {
    const col = cols[i]!;
    return `${col}${" ".repeat(width - col.length + 3)}${o.help}${defaultText(o, defaults[o.name])}`;
  });
  return `Usage of git-sync:\n${lines.join("\n")}\n${COMMANDS}`;
}

/**
 * After the flag list, where a terminal leaves the reader: the operator subcommands (src/cli),
 * which parse flags of their own. Their full usage is `git-sync help <name>`.
 */
const COMMANDS = `
Commands (in the git-sync container, e.g. kubectl exec <pod> -c git-sync -- /git-sync status, or on the same host):
  git-sync status [--json] [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N]
        report on a running git-sync: hash, last success, failures, hooks; exit 0 healthy, 1 failing, 2 unreachable
  git-sync sync-now [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N] [--secret-file FILE]
        ask a running git-sync to sync now (POST /sync with its secret, or its --sync-on-signal signal)
  Both pick your own instance their flags belong to; with none, PID 1 in a container, else the one
  the environment's GITSYNC_ROOT names, else the only one running (several: listed, exit 2).
  git-sync help [status|sync-now]
        this text, or a subcommand's flags (the same as git-sync status --help)
`;

const GROUP_TITLES: Record<OptionSpec["group"], string> = {
  sync: "What to sync and when",
  paths: "Files and directories",
  hooks: "Exec hooks",
  webhook: "Webhook",
  auth: "Authentication",
  http: "HTTP endpoint",
  misc: "Git and general",
  compat: "",
};

function manualOption(o: OptionSpec): string {
  const flag = o.short ? `-${o.short}, --${o.name}` : `--${o.name}`;
  const head = o.placeholder ? `${flag} <${o.placeholder}>` : flag;
  const env = o.env.length > 0 ? `\n            env: ${o.env.map((e) => "$" + e).join(", ")}` : "";
  const def = defaultText(o, undefined).replace(/^ \(|\)$/g, "");
  return `    ${head}${env}\n            ${o.help}${def ? `\n            ${def}` : ""}`;
}

/** The manual page for --man. */
export function manual(): string {
  const groups = (Object.keys(GROUP_TITLES) as Array<OptionSpec["group"]>).filter((g) => g !== "compat");
  const options = groups
    .map((g) => {
      const list = visible().filter((o) => o.group === g);
      return `  ${GROUP_TITLES[g]}\n\n${list.map(manualOption).join("\n\n")}`;
    })
    .join("\n\n");
  return `GIT-SYNC(1)

NAME
    git-sync - keep a local directory in step with a remote git repository

SYNOPSIS
    git-sync --repo=<url> --root=<dir> [OPTIONS]...

DESCRIPTION
    git-sync fetches one ref of a remote repository, checks the commit out into its own
    worktree under --root, and then atomically points a symlink (--link) at that worktree.
    It repeats this every --period, so a program reading through the link always sees one
    complete commit, never a half-updated tree. The link target is relative, which lets the
    volume be mounted elsewhere by another container.

    Old worktrees are removed after a publish (or later, see --stale-worktree-timeout).
    When --ref is a commit hash there is nothing more to fetch, and git-sync idles after the
    first success. With --one-time it exits after one successful sync instead.

    Every option can be given as a flag or through the environment. A flag beats the
    environment, which beats the built-in default. Where an option lists several variables,
    each one that is set (even to an empty value) is considered and the last one listed wins;
    the older names print a deprecation notice. Values use Go syntax: durations like 100ms,
    1m30s or 2h; booleans 1/t/true/0/f/false; integers in decimal, 0x hex, 0o or leading-0
    octal, or 0b binary.

OPTIONS
${options}

HOOKS
    Three optional hooks report new commits. Each has its own runner, which only remembers
    the newest hash: if a hook keeps failing while several commits arrive, the next try uses
    the newest one, so intermediate commits may be skipped. Failures are retried after the
    hook's backoff until they succeed; in --one-time mode a hook runs exactly once and its
    result decides the exit code. Hooks also fire again on every start, so they must be safe
    to repeat.

    --exechook-command runs a program (a path, no shell, no arguments) in the new worktree
    after the link moved, with $GITSYNC_HASH set to the commit. The worktree is its working
    directory, so a relative path (./hook.sh) names a file of the synced tree; give an
    absolute path for a program that lives elsewhere. --exechook-argv takes a JSON
    array instead, so arguments can be passed. --pre-publish-exechook-* is the same, started
    just before the link moves; it does not hold the publish back unless
    --pre-publish-exechook-gate is set. --webhook-url receives an HTTP request with the hash
    in the Gitsync-Hash header once the link moved; --webhook-success-status=0 accepts any
    status, but connection errors are still retried.

AUTH
    HTTPS: --username with $GITSYNC_PASSWORD or --password-file, credentials embedded in
    --repo, --credential for per-URL credentials (submodules on other hosts), --askpass-url
    for a service that hands out short-lived credentials, or a GitHub App
    (--github-app-application-id or --github-app-client-id, --github-app-installation-id, and
    $GITSYNC_GITHUB_APP_PRIVATE_KEY or --github-app-private-key-file). Password files, the
    askpass URL and App tokens are refreshed before sync attempts, so rotated secrets work.

    SSH: keys from --ssh-key-file, host keys checked against --ssh-known-hosts-file unless
    --ssh-known-hosts=false. ssh needs a passwd entry for the running UID; --add-user creates
    one when the container runs under an arbitrary UID.

    Passwords and tokens never appear in logs or in the error file.

HTTP ENDPOINT
    With --http-bind, any path answers 503 until the first sync of this process succeeded,
    then 200 (a probe). --http-metrics adds /metrics (Prometheus text); --http-pprof adds
    /debug/pprof/ (memory, cmdline). Three paths are ours: /readyz, which also turns 503
    after --readiness-max-failures consecutive failures or when the last success is older
    than --readiness-max-age; /status, the sync state as JSON (hash, last attempt and
    success, failures, last error, hooks); and POST /sync, the push trigger.

PUSH TRIGGER
    POST /sync starts a sync now instead of at the next --period, for a forge's push webhook
    or a CI job; polling goes on as the safety net. It is off (403) unless
    --http-sync-secret-file names a file holding a secret, and it never syncs on a request
    that does not prove it knows that secret (401): an HMAC-SHA256 of the body in
    X-Hub-Signature-256 (GitHub, Gitea, Forgejo), X-Gitea-Signature, X-Forgejo-Signature or
    Gitsync-Signature-256 (a git-sync --webhook-signature-secret-file), or the secret itself in
    X-Gitlab-Token or "Authorization: Bearer". The file is read on every request.

    A push to another ref than the one synced, a ping or another event answers 200 and
    syncs nothing; a body without a ref (or no body) is a request to sync. An accepted push
    answers 202: the first after a quiet --http-sync-min-interval wakes the loop at once, later
    ones join a single sync at the end of the interval. Beyond 30 authenticated requests in a
    burst (10 per second sustained) the answer is 429 with Retry-After, and a sync is still
    scheduled. More in docs/push.md.

SUBCOMMANDS
    git-sync status [--json] [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N]
            report on a running git-sync (kubectl exec into its container, or on the same
            host). Exit 0 when healthy, 1 when failing or not ready, 2 when nothing could be
            read or it is unclear which instance is meant.
    git-sync sync-now [--root DIR] [--link PATH] [--http-bind ADDR] [--pid N]
            ask a running git-sync to sync right away: POST /sync with its
            --http-sync-secret-file as a bearer token, or else its --sync-on-signal signal
            sent to that instance's process. Exit 2 when the instance has neither.
    Both choose the instance the same way, among the git-syncs running as the same user:
    the one --root, --link or --http-bind belongs to, or --pid; with none given, PID 1 when
    it is git-sync (a container), else the one the environment's GITSYNC_ROOT names, else
    the only one running. With several and nothing to tell them apart they list the
    candidates (pid, root, link, endpoint) and exit 2. Another user's instance is never
    used (--pid naming one exits 2): its files would be read with your rights.
    git-sync help [status|sync-now]
            print the flag list (as --help) or a subcommand's usage (as status --help).

EXIT CODES
    0   --one-time finished and every hook succeeded; or --help, --man, --version
    1   a configuration error, too many failed sync attempts (--max-failures), a failed hook
        in --one-time mode, or a fatal startup problem
    2   the command line could not be parsed (unknown flag, bad value, missing value)

EXAMPLES
    Mirror the default branch into /git/site every 30 seconds:
        git-sync --repo=https://github.com/example/site --root=/git --link=site --period=30s

    Check out a tag once and exit, as an init container:
        git-sync --repo=https://github.com/example/app --ref=v1.2.3 --root=/git --one-time

    Rebuild after every change, serving health checks and metrics on port 8080:
        git-sync --repo=git@github.com:example/docs --root=/git \\
            --exechook-argv='["/usr/bin/make","-C","/git/docs","html"]' \\
            --http-bind=:8080 --http-metrics

    Sync a private repository with a token kept in a file:
        git-sync --repo=https://github.com/example/private --root=/git \\
            --username=bot --password-file=/secrets/token
`;
}
