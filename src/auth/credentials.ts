// Credentials for remotes git prompts for (http(s), and file:// as upstream's own tests use it): moving userinfo out of --repo (behaviour.md 3 step 5), reading
// password files, and matching git's askpass prompts against the credential list.
//
// Upstream stores credentials with `git credential approve` into `credential-cache`. A credential
// helper needs /bin/sh, which the shipped image does not have, so git-sync is its own GIT_ASKPASS
// instead: the list travels to each git child in one environment variable and the askpass mode
// (askpass.ts) answers git's "Username for '…'" / "Password for '…'" prompts from it.
import type { Config, Credential } from "../config/types.ts";

/** What the askpass mode needs: a password already read (files are read by the parent). */
export interface ResolvedCredential {
  url: string;
  username: string;
  password: string;
}

/**
 * behaviour.md 3 step 5: an http(s) --repo with userinfo loses it, and (with no --username) it becomes
 * the first credential. The username credential, when there is one, always comes first.
 */
export function mergeRepoCredentials(config: Pick<Config, "repo" | "username" | "password" | "passwordFile" | "credentials">): {
  repo: string;
  credentials: Credential[];
} {
  let repo = config.repo;
  let username = config.username;
  let password = config.password;
  if (username === "") {
    const u = parseURL(repo);
    if (u && (u.protocol === "http:" || u.protocol === "https:") && (u.username !== "" || u.password !== "")) {
      username = safeDecode(u.username);
      password = safeDecode(u.password);
      u.username = "";
      u.password = "";
      repo = u.toString();
      // URL.toString() adds a "/" to a bare origin; keep the user's spelling otherwise.
      if (!config.repo.replace(/^[a-z]+:\/\/[^/]*/i, "").startsWith("/") && repo.endsWith("/")) repo = repo.slice(0, -1);
    }
  }
  const credentials = [...config.credentials];
  if (username !== "") {
    credentials.unshift({ url: repo, username, password, passwordFile: username === config.username ? config.passwordFile : "" });
  }
  return { repo, credentials };
}

// A stray "%" that is not an escape stays literal, as Go's url package would reject it anyway.
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseURL(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

/** The parts git's credential matching compares (credential.c credential_match). */
interface CredKey {
  protocol: string;
  /** "" for a URL with an empty host (file:///path); http(s) hosts are compared as URLs (see below). */
  host: string;
  /** null = the URL names none, which is not the same as "" in git's rules. (A credential's own
   * username is its field, not its URL's.) */
  username: string | null;
  /** Without leading/trailing slashes; null = no path. */
  path: string | null;
}

/**
 * git's credential_from_url: `protocol://[user[:pass]@]host[/path]`, any protocol, an empty
 * host allowed (git prompts "Username for 'file:///srv/repo'"). One deliberate difference: an
 * http(s) host goes through the URL parser, so case and a default port do not matter on either
 * side (git compares the strings; ours accepts what git would only accept spelled alike).
 */
function keyOf(url: string): CredKey | null {
  const protoEnd = url.indexOf("://");
  if (protoEnd <= 0) return null;
  const protocol = url.slice(0, protoEnd).toLowerCase();
  const rest = url.slice(protoEnd + 3);
  const slash = rest.indexOf("/") < 0 ? rest.length : rest.indexOf("/");
  const at = rest.indexOf("@");
  let username: string | null = null;
  let hostStart = 0;
  if (at >= 0 && at < slash) {
    const colon = rest.indexOf(":");
    username = safeDecode(rest.slice(0, colon >= 0 && colon < at ? colon : at));
    hostStart = at + 1;
  }
  let host = safeDecode(rest.slice(hostStart, slash));
  if ((protocol === "http" || protocol === "https") && host !== "") {
    const u = parseURL(`${protocol}://${host}`);
    if (!u) return null;
    host = u.host;
  }
  const path = rest.slice(slash).replace(/^\/+/, "").replace(/\/+$/, "");
  return { protocol, host, username, path: path === "" ? null : safeDecode(path) };
}

export interface Prompt {
  kind: "username" | "password";
  /** The URL git describes in the prompt: protocol://[user@]host[/path]. */
  url: string;
}

/** git's prompts (credential.c credential_ask_one): "Username for 'URL': ", "Password for 'URL': ". */
export function parsePrompt(prompt: string): Prompt | null {
  const m = /^(Username|Password) for '(.+)': ?$/s.exec(prompt);
  if (!m) return null;
  return { kind: m[1] === "Username" ? "username" : "password", url: m[2]! };
}

/**
 * The credential git's rules would pick for a prompt (credential.c credential_match, the rule
 * credential-store and credential-cache answer by): every part the prompt names (protocol, host,
 * path, username) must be named alike by the credential; a part the prompt leaves out matches
 * anything. git puts a path in the prompt only when it keeps one: always for non-http protocols
 * (file://), for http(s) only with credential.useHttpPath, and then a credential stored without
 * a path does not match, as in git. Among equals the first in the list wins, as with upstream's
 * credential-cache, which answers with its oldest matching entry.
 */
export function matchCredential(promptURL: string, creds: readonly ResolvedCredential[]): ResolvedCredential | null {
  const want = keyOf(promptURL);
  if (!want) return null;
  for (const c of creds) {
    const have = keyOf(c.url);
    if (!have) continue;
    const named = (w: string | null, h: string | null) => w === null || w === h;
    if (named(want.protocol, have.protocol) && named(want.host, have.host) && named(want.path, have.path) && named(want.username, c.username)) return c;
  }
  return null;
}

/** The askpass answer for one prompt, or null when no credential applies. */
export function answerPrompt(prompt: string, creds: readonly ResolvedCredential[]): string | null {
  const p = parsePrompt(prompt);
  if (!p) return null;
  const c = matchCredential(p.url, creds);
  if (!c) return null;
  return p.kind === "username" ? c.username : c.password;
}
