// Credentials for http(s) remotes: moving userinfo out of --repo (compat.md 3 step 5), reading
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
 * compat.md 3 step 5: an http(s) --repo with userinfo loses it, and (with no --username) it becomes
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
  host: string;
  username: string;
  /** Without leading/trailing slashes; "" = no path. */
  path: string;
}

function keyOf(url: string): CredKey | null {
  const u = parseURL(url);
  if (!u || u.host === "") return null;
  return {
    protocol: u.protocol.replace(/:$/, ""),
    // URL lower-cases the host and drops a default port, on both sides alike.
    host: u.host,
    username: safeDecode(u.username),
    path: safeDecode(u.pathname).replace(/^\/+|\/+$/g, ""),
  };
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
 * The credential git's rules would pick for a prompt: same protocol and host (with port); the
 * prompt's username, when it has one, must equal the credential's; when the prompt carries a path
 * (credential.useHttpPath), a credential for exactly that path beats one without a path, and one
 * for another path never matches. Among equals the first in the list wins, as with upstream's
 * credential-cache, which answers with its oldest matching entry.
 */
export function matchCredential(promptURL: string, creds: readonly ResolvedCredential[]): ResolvedCredential | null {
  const want = keyOf(promptURL);
  if (!want) return null;
  let fallback: ResolvedCredential | null = null;
  for (const c of creds) {
    const have = keyOf(c.url);
    if (!have || have.protocol !== want.protocol || have.host !== want.host) continue;
    if (want.username !== "" && want.username !== c.username) continue;
    if (want.path === "" || have.path === want.path) return c;
    if (have.path === "" && !fallback) fallback = c;
  }
  return fallback;
}

/** The askpass answer for one prompt, or null when no credential applies. */
export function answerPrompt(prompt: string, creds: readonly ResolvedCredential[]): string | null {
  const p = parsePrompt(prompt);
  if (!p) return null;
  const c = matchCredential(p.url, creds);
  if (!c) return null;
  return p.kind === "username" ? c.username : c.password;
}
