// Every URL that reaches a log line or an error message passes through here
// (compat.md 6.8). scp-like addresses (user@host:path) are not URLs and stay as they are.

export function redactURL(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return s;
  }
  if (u.password === "") return s;
  u.password = "REDACTED";
  return u.toString();
}

// git and HTTP clients quote URLs in their messages; a password in one must not reach a reader.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;

/** redactURL applied to every URL inside a free-form text (an error message). */
export function redactURLsInText(s: string): string {
  return s.replace(URL_IN_TEXT, (u) => redactURL(u));
}

/** Replace every occurrence of each secret (longer first) in a free-form text, e.g. git's stderr. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of list) out = out.split(s).join("REDACTED");
  return out;
}

/** Config keys and header names whose values are credentials (http.extraHeader, *.password, tokens...). */
export function isSecretKey(name: string): boolean {
  return /extraheader|password|passwd|token|secret|authorization|cookie|signature/i.test(name);
}
