// How option values are shown wherever git-sync shows them: the startup flag log, the command
// line at /debug/pprof/cmdline and the GITSYNC_* variables a hook inherits. One rule per option,
// read from the option table: secrets are REDACTED (or, in a hook's environment, left out),
// URLs go through redactURL, secret-named git config keys and webhook headers lose their values.
import { isSecretKey, redactURL, redactURLsInText } from "../log/redact.ts";
import { parseGitConfigList } from "./gitconfig.ts";
import { defaultLinkName } from "./paths.ts";
import { OPTIONS, findOption, type OptionSpec } from "./options.ts";
import { parseCredentials } from "./parse.ts";
import type { Credential } from "./types.ts";

const R = "REDACTED";

/** Options whose whole value is a secret: shown as REDACTED, never passed to hooks. */
const SECRET_OPTIONS = new Set(["password", "__env__GITSYNC_PASSWORD", "__env__GITSYNC_GITHUB_APP_PRIVATE_KEY", "credential"]);

/** `k:v,...` with the values of secret-looking keys (http.extraHeader, ...) replaced and URLs redacted. */
export function redactGitConfig(text: string): string {
  try {
    return parseGitConfigList(text)
      // The pair as one text: a URL may span the key and the value (url.https://tok@host/.insteadOf).
      .map(([k, val]) => redactURLsInText(`${k}:${isSecretKey(k) ? R : val}`))
      .join(",");
  } catch {
    // Unparsable: startup will refuse it; until then show nothing that might be a secret.
    return isSecretKey(text) ? R : redactURLsInText(text);
  }
}

/** `Name: value` with the value of a secret-looking header (Authorization, ...) replaced. */
function redactHeader(item: string): string {
  const colon = item.indexOf(":");
  return colon > 0 && isSecretKey(item.slice(0, colon)) ? `${item.slice(0, colon)}: ${R}` : redactURLsInText(item);
}

/**
 * A link path as shown. Without --link the link is named after the repo's last path element, and
 * a URL without a path (https://user:token@host) or with a query (…/repo?access_token=…) puts
 * its credentials in that name: they are shown as the repo's are (REDACTED@host, repo?REDACTED).
 */
export function shownLink(link: string, repo: string): string {
  const named = defaultLinkName(repo);
  const shown = defaultLinkName(redactURL(repo));
  if (named === shown || !(link === named || link.endsWith(`/${named}`))) return link;
  return link.slice(0, link.length - named.length) + shown;
}

/** One item of a string-array option as shown. */
export function shownListItem(name: string, item: string): string {
  if (name === "git-config-add") return redactGitConfig(item);
  if (name === "webhook-header") return redactHeader(item);
  return item;
}

/** The credential list as the flag log shows it: passwords REDACTED, URLs redacted, user names and password files kept. */
export function shownCredentials(list: readonly Credential[]): string {
  return JSON.stringify(
    list.map((c) => ({
      url: redactURL(c.url),
      username: c.username,
      ...(c.password !== "" ? { password: R } : {}),
      ...(c.passwordFile !== "" ? { "password-file": c.passwordFile } : {}),
    })),
  );
}

/** A string value of option `o` as shown (not string arrays or credentials: see the two above). */
export function shownString(o: Pick<OptionSpec, "name">, v: string): string {
  if (SECRET_OPTIONS.has(o.name)) return v === "" ? "" : R;
  if (o.name === "repo" || o.name.endsWith("-url")) return redactURL(v);
  if (o.name === "git-config") return redactGitConfig(v);
  return v;
}

/** One raw command-line value of `o` as shown. */
function shownRaw(o: OptionSpec, raw: string): string {
  if (o.type === "credential-array") {
    try {
      return shownCredentials(parseCredentials(raw));
    } catch {
      return R;
    }
  }
  if (o.type === "string-array") return shownListItem(o.name, raw);
  return shownString(o, raw);
}

/**
 * A command line with every option value shown as the flag log shows it (for
 * /debug/pprof/cmdline). Walks argv as the parser does (--name=value, --name value), never
 * throws; anything else keeps its text with URLs redacted.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(arg, ...argv.slice(i + 1).map(redactURLsInText));
      break;
    }
    const m = /^--([^=]+)(=([\s\S]*))?$/.exec(arg);
    const o = m ? findOption(m[1]!) : undefined;
    if (!m || !o) {
      out.push(redactURLsInText(arg));
      continue;
    }
    if (m[2] !== undefined) {
      out.push(`--${m[1]}=${shownRaw(o, m[3]!)}`);
    } else if (o.type !== "bool" && i + 1 < argv.length) {
      out.push(arg, shownRaw(o, argv[++i]!));
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Every env name an option reads (GITSYNC_*, GIT_SYNC_* and the v3 names), with its option. */
const ENV_OPTIONS = new Map<string, OptionSpec>((OPTIONS as readonly OptionSpec[]).flatMap((o) => o.env.map((n) => [n, o] as [string, OptionSpec])));

/**
 * The environment a hook runs with: git-sync's own, where each variable an option reads is
 * shown as the flag log shows it (URLs without user info or query, secret git config values
 * and webhook headers REDACTED) and the secret ones ($GITSYNC_PASSWORD, $GITSYNC_CREDENTIAL,
 * $GITSYNC_GITHUB_APP_PRIVATE_KEY and their old names) are left out. Everything else passes
 * unchanged.
 */
export function hookEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    const o = ENV_OPTIONS.get(k);
    if (!o) out[k] = v;
    else if (SECRET_OPTIONS.has(o.name)) continue;
    else if (o.type === "string-array") {
      const sep = o.envSplit ?? ",";
      out[k] = v
        .split(sep)
        .map((item) => shownListItem(o.name, item))
        .join(sep);
    } else out[k] = shownString(o, v);
  }
  return out;
}
