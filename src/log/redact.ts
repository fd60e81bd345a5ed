// The one redaction path: every URL that reaches a log line, the error file, /status, a webhook
// payload, a hook's environment or /debug/pprof/cmdline passes through here. A URL shows its
// scheme, host and path; its user info (user name AND password: a token is often put in the user
// name, https://ghp_xxx@github.com/org/repo) and its query string (?access_token=...) become
// REDACTED: https://REDACTED@host/path?REDACTED. scp-like ssh addresses (git@host:org/repo) are
// not URLs and stay as they are: their user is the ssh login, and ssh takes no password from them.

const R = "REDACTED";

// scheme://authority rest; the authority ends at the first "/", "?" or "#", as URL parsers say.
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

export function redactURL(s: string): string {
  const m = URL_PARTS.exec(s);
  if (!m) return s;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const shownAuthority = at >= 0 ? `${R}@${authority.slice(at + 1)}` : authority;
  let shownRest = rest;
  const q = rest.indexOf("?");
  if (q >= 0) {
    const hash = rest.indexOf("#", q);
    shownRest = `${rest.slice(0, q)}?${R}${hash >= 0 ? rest.slice(hash) : ""}`;
  }
  return scheme + shownAuthority + shownRest;
}

// git, ofetch and Bun quote URLs in their messages. A URL in text ends at white space, a quote,
// <> or a backslash (so a JSON-escaped line stays valid JSON); sentence punctuation after it is kept.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>\\]+/gi;
const TRAILING = /[.,;:!)\]}]+$/;

/** redactURL applied to every URL inside a free-form text (an error message, git's stderr, a log line). */
export function redactURLsInText(s: string): string {
  if (!s.includes("://")) return s;
  return s.replace(URL_IN_TEXT, (u) => {
    const tail = TRAILING.exec(u)?.[0] ?? "";
    return redactURL(u.slice(0, u.length - tail.length)) + tail;
  });
}

/** Replace every occurrence of each secret (longer first) in a free-form text, e.g. git's stderr. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of list) out = out.split(s).join(R);
  return out;
}

/** Config keys and header names whose values are credentials (http.extraHeader, *.password, tokens...). */
export function isSecretKey(name: string): boolean {
  return /extraheader|password|passwd|token|secret|authorization|cookie|signature/i.test(name);
}
