// --askpass-url (behaviour.md 6.3): GET the URL at every sync attempt, 1s timeout, no redirects,
// status 200 required, body lines `username=…` / `password=…`.
import { readBounded } from "../lib/bounded-body.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { goQuote } from "../lib/go.ts";
import { askpassCount } from "../state/metrics.ts";
import type { Logger } from "../log/logger.ts";
import { redactURLsInText } from "../log/redact.ts";

export interface AskpassAnswer {
  username: string;
  password: string;
}

/** Split on "\n", split each line at its first "=", last occurrence wins, values not trimmed. */
export function parseAskpassBody(body: string): AskpassAnswer {
  const out: AskpassAnswer = { username: "", password: "" };
  for (const line of body.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    if (k === "username" || k === "password") out[k] = line.slice(eq + 1);
  }
  return out;
}

const TIMEOUT_MS = 1000;
/**
 * Ours, not upstream's: a failed call is retried within the same attempt (a server that is
 * restarting or briefly overloaded then costs a pause, not a failed sync), as long as the sync
 * deadline leaves room for one more full timeout. Upstream fails the attempt at once.
 */
const TRIES = 3;
const PAUSE_MS = 250;

const client = createHttpClient({ timeoutMs: TIMEOUT_MS, redirect: "manual" });

/** Two lines of credentials; anything near this size is not an askpass answer. */
export const MAX_ANSWER = 64 << 10;

/** The answer's text, read within the call's timeout (the client's covers only the headers). */
async function readAnswer(res: Response, deadline: number): Promise<string> {
  try {
    return new TextDecoder().decode(await readBounded(res, { maxBytes: MAX_ANSWER, deadline, what: "the auth URL's answer" }));
  } catch (e) {
    throw new Error(`can't read auth URL answer: ${(e as Error).message}`, { cause: e });
  }
}

export async function callAskpassURL(url: string, deadline: number, log: Logger): Promise<AskpassAnswer> {
  let lastErr: Error = new Error("can't access auth URL: no attempt made");
  for (let i = 0; i < TRIES; i++) {
    if (i > 0) {
      if (Date.now() + PAUSE_MS + TIMEOUT_MS > deadline) break;
      await Bun.sleep(PAUSE_MS);
    }
    try {
      const answer = await callOnce(url);
      askpassCount.inc({ status: "success" });
      return answer;
    } catch (e) {
      askpassCount.inc({ status: "error" });
      lastErr = e as Error;
      log.v(3, "askpass URL call failed", { try: i + 1, error: lastErr.message });
    }
  }
  throw lastErr;
}

async function callOnce(url: string): Promise<AskpassAnswer> {
  const deadline = Date.now() + TIMEOUT_MS;
  let res;
  try {
    res = await client.raw(url, { method: "GET", responseType: "stream" });
  } catch (e) {
    // ofetch quotes the URL, query (?access_token=...) and all: the text shows it redacted.
    throw new Error(`can't access auth URL: ${redactURLsInText((e as Error).message)}`, { cause: e });
  }
  const body = await readAnswer(res, deadline);
  if (res.status !== 200) throw new Error(`auth URL returned status ${res.status}, body: ${goQuote(body)}`);
  return parseAskpassBody(body);
}
