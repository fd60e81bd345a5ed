// Derived values and the validation rules of behaviour.md 2.4, in upstream's order (the first
// failure wins, and tests look for the exact message).
import { isAbsolute, resolve } from "node:path";
import { absPath, defaultLinkName, makeAbsPath } from "./paths.ts";
import { formatGoDuration, goQuote, parseGoInt } from "../lib/go.ts";
import { rangeError, semverRange } from "../lib/semver.ts";
import { shownCredentials, shownLink, shownListItem, shownString } from "./shown.ts";
import { OPTIONS, isHidden, type OptionValue, type OptionValues } from "./options.ts";
import type { ParseState } from "./parse.ts";
import type { AlsoLink, Config, Credential, GitGCMode, LinkMode, SubmoduleMode } from "./types.ts";

/** A fatal config error: message, usage, message on stderr; the message alone in the error file. */
export class ConfigError extends Error {
  constructor(
    message: string,
    /** Absolute error-file path, or "" when none is configured or the logger does not exist yet. */
    readonly errorFile: string,
  ) {
    super(message);
  }
}

export interface Validated {
  config: Config;
  /** V0 log messages (`setting --ref from deprecated --branch`) for main to log once the logger exists. */
  logs: string[];
}

const UNCATCHABLE = new Set(["SIGKILL", "SIGSTOP"]);

/**
 * behaviour.md 2.4 step 12: a base-0 number, `SIGHUP` or `HUP` (exact case) -> the signal name.
 * Returns undefined when it is not a signal we can listen for. Bun needs a name, so numbers
 * without one, SIGKILL and SIGSTOP are refused (a deliberate deviation, behaviour.md 4.6).
 */
export function resolveSignal(s: string): string | undefined {
  // Required here: node:os costs ~2.5 ms to load, and only a --sync-on-signal needs its table.
  const table = (require("node:os") as typeof import("node:os")).constants.signals as Record<string, number>;
  let name: string | undefined;
  let num: number | undefined;
  try {
    num = parseGoInt(s);
  } catch {
    num = undefined;
  }
  if (num !== undefined) {
    if (num === 0) return undefined;
    name = Object.keys(table).find((k) => table[k] === num);
  } else if (Object.hasOwn(table, s)) name = s;
  else if (Object.hasOwn(table, "SIG" + s)) name = "SIG" + s;
  if (name === undefined || UNCATCHABLE.has(name)) return undefined;
  return name;
}

/** Our `--*-exechook-argv`: a non-empty JSON array of strings whose first element names a program. */
function parseArgvJSON(flag: string, raw: string, fail: (m: string) => never): string[] {
  if (raw === "") return [];
  const bad = () => fail(`invalid flag: --${flag} must be a JSON array of strings, e.g. ["/bin/echo","hi"]`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return bad();
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string") || v[0] === "") return bad();
  return v as string[];
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Our `--webhook-header "Name: value"` (value trimmed like HTTP optional whitespace). */
function parseHeader(h: string, fail: (m: string) => never): [string, string] {
  const i = h.indexOf(":");
  const name = i < 0 ? "" : h.slice(0, i).trim();
  if (!HEADER_NAME.test(name)) return fail(`invalid flag: --webhook-header must look like "Name: value"`);
  return [name, h.slice(i + 1).trim()];
}

function hasUserinfo(repo: string): boolean {
  try {
    const u = new URL(repo);
    return u.username !== "" || u.password !== "";
  } catch {
    return false;
  }
}

/** The flag's Go String() form, used in the `starting up` flag list (shown.ts redacts). */
function flagText(name: string, v: OptionValue, type: string): string {
  if (type === "duration") return formatGoDuration(v as number);
  if (type === "string-array") return `[${(v as string[]).map((item) => shownListItem(name, item)).join(",")}]`;
  if (type === "credential-array") return shownCredentials(v as Credential[]);
  return shownString({ name }, String(v));
}

function buildFlagLog(values: OptionValues, changed: Set<string>): Config["flagLog"] {
  const vals = values as Record<string, OptionValue>;
  return OPTIONS.filter((o) => !isHidden(o))
    .map((o) => {
      // A link named after the repo URL may hold its credentials.
      const value = o.name === "link" ? shownLink(vals.link as string, vals.repo as string) : flagText(o.name, vals[o.name]!, o.type);
      return { name: o.name, text: `--${o.name}=${value}`, changed: changed.has(o.name), empty: value === "" };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * behaviour.md 2.4 steps 2-22 plus our opt-in options. `st.values` is updated in place with the
 * back-compat overrides, as upstream rewrites its flag variables (the flag log shows them).
 * Step 1 (--version/--help/--man) is the caller's.
 */
export function validate(st: ParseState, cwd: string): Validated {
  const v = st.values;
  const logs: string[] = [];

  // Step 2: no logger yet, so the error file is not written.
  if (v.root === "") throw new ConfigError("required flag: --root must be specified", "");

  // Step 3.
  const root = absPath(v.root, cwd);
  if (v.v >= 0) v.verbose = v.v;
  const errorFile = makeAbsPath(v["error-file"], root);
  const fail = (m: string): never => {
    throw new ConfigError(m, errorFile);
  };

  // Step 4.
  if (v.repo === "") fail("required flag: --repo must be specified");

  // Step 5.
  const branch = v.branch;
  const rev = v.rev;
  if (branch !== "" && rev !== "" && rev !== "HEAD") {
    fail("deprecated flag combo: can't set --ref from deprecated --branch and --rev (one or the other is OK)");
  } else if (branch !== "") {
    v.ref = branch;
    logs.push("setting --ref from deprecated --branch");
  } else if (rev !== "") {
    v.ref = rev;
    logs.push("setting --ref from deprecated --rev");
  }
  if (v.ref === "") fail("required flag: --ref must be specified");
  // Ours: Bun.semver would read a malformed range as "*" and follow every tag.
  const range = semverRange(v.ref);
  const badRange = range === null ? "" : rangeError(range);
  if (badRange !== "") fail(`invalid flag: --ref ${JSON.stringify(v.ref)} is not a valid semver range: ${badRange}`);

  // Steps 6-8.
  if (v.depth < 0) fail("invalid flag: --depth must be greater than or equal to 0");
  if (!["recursive", "shallow", "off"].includes(v.submodules)) {
    fail('invalid flag: --submodules must be one of "recursive", "shallow", or "off"');
  }
  if (!["auto", "always", "aggressive", "off"].includes(v["git-gc"])) {
    fail('invalid flag: --git-gc must be one of "auto", "always", "aggressive", or "off"');
  }

  // Step 9.
  if (v.dest !== "") {
    v.link = v.dest;
    logs.push("setting --link from deprecated --dest");
  }
  if (v.link === "") v.link = defaultLinkName(v.repo);
  const alsoLinks = parseAlsoLinks(v["also-link"], root, makeAbsPath(v.link, root), fail);
  // Ours: the refs of --also-link share one poll and one fetch by name; a `semver:` range picks
  // its tag with a poll of its own, so it follows releases as the only ref of a process.
  if (alsoLinks.length > 0 && range !== null) fail("invalid flag: --ref=semver:RANGE can't be combined with --also-link (run it as a process of its own)");
  const rangeLink = alsoLinks.find((l) => semverRange(l.ref) !== null);
  if (rangeLink) fail(`invalid flag: --also-link ${goQuote(rangeLink.name)}: a semver: range can only be --ref, without --also-link`);

  // Step 10.
  if (v.wait !== 0) {
    v.period = Math.trunc(v.wait * 1000);
    logs.push("setting --period from deprecated --wait");
  }
  if (v.period < 10) fail("invalid flag: --period must be at least 10ms");
  const initPeriod = v["init-period"] === 0 ? v.period : v["init-period"];
  if (initPeriod < 10) fail("invalid flag: --init-period must be at least 10ms");

  // Step 11.
  if (v["change-permissions"] !== 0) fail("deprecated flag: --change-permissions is no longer supported");

  // Step 12.
  let syncOnSignal = "";
  if (v["sync-on-signal"] !== "") {
    syncOnSignal = resolveSignal(v["sync-on-signal"]) ?? fail("invalid flag: --sync-on-signal must be a valid signal name or number");
  }

  // Step 13.
  if (v.timeout !== 0) {
    v["sync-timeout"] = v.timeout * 1000;
    logs.push("setting --sync-timeout from deprecated --timeout");
  }
  if (v["sync-timeout"] < 10) fail("invalid flag: --sync-timeout must be at least 10ms");

  // Step 14.
  if (v["max-sync-failures"] !== 0) {
    v["max-failures"] = v["max-sync-failures"];
    logs.push("setting --max-failures from deprecated --max-sync-failures");
  }
  if (v["sync-hook-command"] !== "") {
    v["exechook-command"] = v["sync-hook-command"];
    logs.push("setting --exechook-command from deprecated --sync-hook-command");
  }

  // Step 15, with our argv forms: argv counts as "a command is set".
  const hook = (prefix: "exechook" | "pre-publish-exechook") => {
    const command = v[`${prefix}-command`];
    const argv = parseArgvJSON(`${prefix}-argv`, v[`${prefix}-argv`], fail);
    if (command !== "" && argv.length > 0) fail(`invalid flag: only one of --${prefix}-command and --${prefix}-argv may be specified`);
    const timeout = v[`${prefix}-timeout`];
    const backoff = v[`${prefix}-backoff`];
    if (command !== "" || argv.length > 0) {
      if (timeout < 1000) fail(`invalid flag: --${prefix}-timeout must be at least 1s`);
      if (backoff < 1000) fail(`invalid flag: --${prefix}-backoff must be at least 1s`);
    }
    return { command, argv, timeout, backoff };
  };
  const exechook = hook("exechook");
  const prePublish = hook("pre-publish-exechook");
  if (v["pre-publish-exechook-gate"] && prePublish.command === "" && prePublish.argv.length === 0) {
    fail("invalid flag: --pre-publish-exechook-gate requires --pre-publish-exechook-command or --pre-publish-exechook-argv");
  }

  // Step 16: webhook options only matter with a URL.
  if (v["webhook-url"] !== "") {
    if (v["webhook-success-status"] === -1) v["webhook-success-status"] = 0;
    if (v["webhook-success-status"] < 0) fail("invalid flag: --webhook-success-status must be a valid HTTP code or 0");
    if (v["webhook-timeout"] < 1000) fail("invalid flag: --webhook-timeout must be at least 1s");
    if (v["webhook-backoff"] < 1000) fail("invalid flag: --webhook-backoff must be at least 1s");
  }
  // Ours, checked even without a URL: a malformed header is a typo worth reporting.
  const headers = v["webhook-header"].map((h) => parseHeader(h, fail));

  // Step 17.
  let password = v["__env__GITSYNC_PASSWORD"];
  if (v.password !== "") {
    password = v.password;
    logs.push("setting $GITSYNC_PASSWORD from deprecated --password");
  }

  // Step 18.
  const username = v.username;
  const passwordFile = v["password-file"];
  if (username !== "") {
    if (password === "" && passwordFile === "") {
      fail("required flag: $GITSYNC_PASSWORD or --password-file must be specified when --username is specified");
    }
    if (password !== "" && passwordFile !== "") fail("invalid flag: only one of $GITSYNC_PASSWORD and --password-file may be specified");
    if (hasUserinfo(v.repo)) fail("invalid flag: credentials may not be specified in --repo when --username is specified");
  } else {
    if (password !== "") fail("invalid flag: $GITSYNC_PASSWORD may only be specified when --username is specified");
    if (passwordFile !== "") fail("invalid flag: --password-file may only be specified when --username is specified");
  }

  // Step 19.
  const appID = v["github-app-application-id"];
  const clientID = v["github-app-client-id"];
  const installID = v["github-app-installation-id"];
  const key = v["__env__GITSYNC_GITHUB_APP_PRIVATE_KEY"];
  const keyFile = v["github-app-private-key-file"];
  if (appID !== 0 || clientID !== "") {
    if (appID !== 0 && clientID !== "") {
      fail("invalid flag: only one of --github-app-application-id or --github-app-client-id may be specified");
    }
    if (installID === 0) {
      fail("invalid flag: --github-app-installation-id must be specified when --github-app-application-id or --github-app-client-id are specified");
    }
    if (key === "" && keyFile === "") {
      fail("invalid flag: $GITSYNC_GITHUB_APP_PRIVATE_KEY or --github-app-private-key-file must be specified when --github-app-application-id or --github-app-client-id are specified");
    }
    if (key !== "" && keyFile !== "") {
      fail("invalid flag: only one of $GITSYNC_GITHUB_APP_PRIVATE_KEY or --github-app-private-key-file may be specified");
    }
    if (username !== "") fail("invalid flag: --username may not be specified when --github-app-private-key-file is specified");
    if (password !== "") fail("invalid flag: --password may not be specified when --github-app-private-key-file is specified");
    if (passwordFile !== "") fail("invalid flag: --password-file may not be specified when --github-app-private-key-file is specified");
  } else if (installID !== 0) {
    fail("invalid flag: --github-app-installation-id may only be specified when --github-app-private-key-file is specified");
  }

  // Step 20.
  for (const c of v.credential) {
    if (c.url === "") fail("invalid flag: --credential URL must be specified");
    if (c.username === "") fail("invalid flag: --credential username must be specified");
    if (c.password === "" && c.passwordFile === "") fail("invalid flag: --credential password or password-file must be specified");
    if (c.password !== "" && c.passwordFile !== "") fail("invalid flag: only one of --credential password and password-file may be specified");
  }

  // Step 21.
  if (v["http-bind"] === "" && v["http-metrics"]) fail("required flag: --http-bind must be specified when --http-metrics is set");
  if (v["http-bind"] === "" && v["http-pprof"]) fail("required flag: --http-bind must be specified when --http-pprof is set");
  if (v["http-bind"] === "" && v["http-sync-secret-file"] !== "") fail("required flag: --http-bind must be specified when --http-sync-secret-file is set");

  // Ours (issue 22): a mirror never serves by accident without a secret.
  if (v["serve-git"]) {
    if (v["http-bind"] === "") fail("required flag: --http-bind must be specified when --serve-git is set");
    if (v["serve-git-secret-file"] === "" && !v["serve-git-anonymous"]) fail("required flag: --serve-git needs --serve-git-secret-file, or --serve-git-anonymous to serve without authentication");
    // A --filter root is a partial clone: upload-pack cannot pack what root does not hold.
    if (v.filter !== "") fail("invalid flag: --serve-git can't be combined with --filter (a partial clone cannot serve whole packs)");
    if (v["serve-git-secret-file"] !== "" && v["serve-git-anonymous"]) fail("invalid flag: --serve-git-secret-file and --serve-git-anonymous contradict each other; give one");
  } else {
    for (const f of ["serve-git-secret-file", "serve-git-anonymous"] as const) if (v[f]) fail(`invalid flag: --${f} has no effect without --serve-git`);
  }
  // Ours (issue 23): peers authenticate every request between them with the mirror's secret.
  if (v.peers !== "") {
    if (v["http-bind"] === "") fail("required flag: --http-bind must be specified when --peers is set (peers reach each other at its port)");
    if (!v["serve-git"]) fail("required flag: --peers needs --serve-git (followers fetch from the owner's /git)");
    if (v["serve-git-secret-file"] === "") fail("required flag: --peers needs --serve-git-secret-file (every request between peers proves the secret)");
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/.test(v.peers) || v.peers.length > 253) fail(`invalid flag: --peers must be a DNS name, not ${JSON.stringify(v.peers)}`);
  }
  if (v["serve-git-max-packs"] < 1) fail("invalid flag: --serve-git-max-packs must be at least 1");
  if (v["serve-git-timeout"] <= 0) fail("invalid flag: --serve-git-timeout must be greater than 0");

  // Ours.
  if (v["readiness-max-failures"] < 0) fail("invalid flag: --readiness-max-failures must be greater than or equal to 0");
  if (v["readiness-max-age"] < 0) fail("invalid flag: --readiness-max-age must be greater than or equal to 0");
  if (v["http-sync-min-interval"] < 0) fail("invalid flag: --http-sync-min-interval must be greater than or equal to 0");

  // Ours: --verify-signatures.
  const verifyMode = v["verify-signatures"];
  if (!["", "commit", "tag", "tag-and-commit"].includes(verifyMode)) {
    fail('invalid flag: --verify-signatures must be one of "commit", "tag", or "tag-and-commit"');
  }
  if (verifyMode !== "" && v["allowed-signers-file"] === "" && v["trusted-keys-file"] === "") {
    fail("required flag: --allowed-signers-file or --trusted-keys-file must be specified when --verify-signatures is set");
  }
  if (verifyMode === "" && (v["allowed-signers-file"] !== "" || v["trusted-keys-file"] !== "")) {
    fail("invalid flag: --allowed-signers-file and --trusted-keys-file may only be specified when --verify-signatures is set");
  }
  if (verifyMode.startsWith("tag") && (v.ref === "HEAD" || v.ref.startsWith("refs/heads/"))) {
    fail(`invalid flag: --verify-signatures=${verifyMode} needs --ref to name an annotated tag, not ${v.ref}`);
  }
  // Ours: --link-mode=copy has no worktree (blobs are copied from the object store).
  const linkMode = v["link-mode"];
  if (linkMode !== "symlink" && linkMode !== "copy") fail('invalid flag: --link-mode must be one of "symlink" or "copy"');
  if (v["copy-drop-repo"] && !(v["one-time"] && linkMode === "copy")) fail("invalid flag: --copy-drop-repo requires --one-time and --link-mode=copy");
  if (linkMode === "copy") {
    if (alsoLinks.length > 0) fail("invalid flag: --also-link is not supported with --link-mode=copy");
    if (v["sparse-checkout-file"] !== "") fail("invalid flag: --sparse-checkout-file is not supported with --link-mode=copy");
    if (prePublish.command !== "" || prePublish.argv.length > 0) {
      fail("invalid flag: --pre-publish-exechook-command and --pre-publish-exechook-argv are not supported with --link-mode=copy (there is no checkout to run them in before the copy is updated)");
    }
    const link = makeAbsPath(v.link, root);
    const inside = (dir: string) => link === dir || link.startsWith(dir + "/");
    if (link === root || root.startsWith(link + "/") || inside(resolve(root, ".git")) || inside(resolve(root, ".worktrees"))) {
      fail("invalid flag: with --link-mode=copy, --link must be a directory of its own, not --root, above it, or inside root/.git or root/.worktrees");
    }
  }

  // Ours: --log-format. Set but empty is a mistake, as for upstream's enums (behaviour.md 2.1).
  const logFormat = v["log-format"];
  const logFormatGiven = st.changed.has("log-format") || st.fromEnv.has("log-format");
  if (logFormat !== "json" && logFormat !== "text" && (logFormat !== "" || logFormatGiven)) {
    fail('invalid flag: --log-format must be one of "json" or "text"');
  }

  const config: Config = {
    repo: v.repo,
    ref: v.ref,
    root,
    link: v.link,
    alsoLinks,
    linkMode: linkMode as LinkMode,
    copyDropRepo: v["copy-drop-repo"],
    period: v.period,
    initPeriod,
    syncTimeout: v["sync-timeout"],
    maxFailures: v["max-failures"],
    initMaxFailures: st.changed.has("init-max-failures") || st.fromEnv.has("init-max-failures") ? v["init-max-failures"] : undefined,
    oneTime: v["one-time"],
    syncOnSignal,
    depth: v.depth,
    filter: v.filter,
    submodules: v.submodules as SubmoduleMode,
    sparseCheckoutFile: v["sparse-checkout-file"],
    gitGC: v["git-gc"] as GitGCMode,
    git: v.git,
    gitConfig: v["git-config"],
    gitConfigAdd: v["git-config-add"],
    errorFile,
    touchFile: v["touch-file"],
    staleWorktreeTimeout: v["stale-worktree-timeout"],
    groupWrite: v["group-write"],
    addUser: v["add-user"],
    exechook,
    prePublish: { ...prePublish, gate: v["pre-publish-exechook-gate"] },
    webhook: {
      url: v["webhook-url"],
      method: v["webhook-method"],
      successStatus: v["webhook-success-status"],
      timeout: v["webhook-timeout"],
      backoff: v["webhook-backoff"],
      payload: v["webhook-payload"],
      signatureSecretFile: v["webhook-signature-secret-file"],
      headers,
    },
    username,
    password,
    passwordFile,
    credentials: v.credential,
    askpassURL: v["askpass-url"],
    sshKeyFiles: v["ssh-key-file"],
    sshKnownHosts: v["ssh-known-hosts"],
    sshKnownHostsFile: v["ssh-known-hosts-file"],
    cookieFile: v["cookie-file"],
    githubBaseURL: v["github-base-url"],
    githubAppPrivateKey: key,
    githubAppPrivateKeyFile: keyFile,
    githubAppApplicationID: appID,
    githubAppClientID: clientID,
    githubAppInstallationID: installID,
    httpBind: v["http-bind"],
    httpMetrics: v["http-metrics"],
    httpPprof: v["http-pprof"],
    readinessMaxFailures: v["readiness-max-failures"],
    readinessMaxAge: v["readiness-max-age"],
    httpSyncSecretFile: v["http-sync-secret-file"],
    httpSyncMinInterval: v["http-sync-min-interval"],
    serveGit: {
      enabled: v["serve-git"],
      secretFile: v["serve-git-secret-file"],
      anonymous: v["serve-git-anonymous"],
      maxPacks: v["serve-git-max-packs"],
      timeout: v["serve-git-timeout"],
    },
    peers: v.peers,
    verify: {
      mode: verifyMode as Config["verify"]["mode"],
      allowedSignersFile: v["allowed-signers-file"],
      trustedKeysFile: v["trusted-keys-file"],
    },
    verbose: v.verbose,
    logFormat: logFormat === "json" || logFormat === "text" ? logFormat : "auto",
    flagLog: buildFlagLog(v, st.changed),
  };
  return { config, logs };
}

/**
 * --also-link NAME=REF (ours, issue 15). NAME is a path relative to root, inside it, with no
 * component starting with "." (root's own .git, .worktrees and git-sync's files live there), not
 * the main link, not listed twice, and no link inside another (a link is a symlink into a
 * worktree, so a path below it would be inside a checkout).
 */
function parseAlsoLinks(items: string[], root: string, mainLink: string, fail: (m: string) => never): AlsoLink[] {
  const out: AlsoLink[] = [];
  for (const item of items) {
    const eq = item.indexOf("=");
    const name = eq < 0 ? "" : item.slice(0, eq).trim();
    const ref = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (name === "" || ref === "") fail(`invalid flag: --also-link must be NAME=REF, got ${goQuote(item)}`);
    if (isAbsolute(name) || name.split("/").some((part) => part === "" || part.startsWith("."))) {
      fail(`invalid flag: --also-link name ${goQuote(name)} must be a path relative to --root with no empty or dot-prefixed component`);
    }
    const link = resolve(root, name);
    if (link === mainLink) fail(`invalid flag: --also-link name ${goQuote(name)} is the --link path ${goQuote(mainLink)}`);
    const seen = out.find((o) => o.link === link);
    if (seen) fail(`invalid flag: --also-link name ${goQuote(name)} is given twice`);
    for (const other of [mainLink, ...out.map((o) => o.link)]) {
      if (other.startsWith(`${link}/`) || link.startsWith(`${other}/`)) fail(`invalid flag: --also-link name ${goQuote(name)} and the link ${goQuote(other)} are inside one another`);
    }
    out.push({ name, ref, link });
  }
  return out;
}
