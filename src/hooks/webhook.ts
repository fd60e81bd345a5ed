// The webhook (behaviour.md 5.4): one HTTP request per try, header `Gitsync-Hash`, success iff the
// status matches (any status when successStatus is 0). Opt-in extras (ours): a JSON payload, an
// HMAC-SHA256 signature with a secret re-read at every send (so rotation needs no restart), and
// extra headers. Retries belong to the runner, so the client never retries.
import { shownLink } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import { createHttpClient } from "../lib/http-client.ts";
import { Duration, goQuote } from "../lib/go.ts";
import { readSigningKey, signBody } from "../lib/secrets.ts";
import { errorText, type Logger } from "../log/logger.ts";
import { redactURL, redactURLsInText } from "../log/redact.ts";
import type { HookAction, HookEvent } from "./runner.ts";

export const HASH_HEADER = "Gitsync-Hash";
export const SIGNATURE_HEADER = "Gitsync-Signature-256";
/** Ours, with --also-link only (issue 15): the ref as configured and the link path, for a receiver that serves several refs. */
export const REF_HEADER = "Gitsync-Ref";
export const LINK_HEADER = "Gitsync-Link";
/** Sent with `--ref=semver:` only: the tag chosen, e.g. refs/tags/v1.2.3. */
export const RESOLVED_REF_HEADER = "Gitsync-Resolved-Ref";

/** time.RFC3339 in UTC, without fractional seconds, as Go prints it. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * With --also-link the payload also names the link (`ref` is then the ref of that link);
 * resolvedRef (the tag a `semver:` ref chose) only when there is one: other payloads are unchanged.
 */
export function webhookPayload(config: Pick<Config, "repo" | "ref"> & Partial<Pick<Config, "alsoLinks">>, ev: HookEvent, now = new Date()): string {
  const link = ev.link !== undefined && (config.alsoLinks?.length ?? 0) > 0 ? { link: shownLink(ev.link, config.repo) } : {};
  const resolved = ev.resolvedRef ? { resolvedRef: ev.resolvedRef } : {};
  return JSON.stringify({ repo: redactURL(config.repo), ref: ev.ref ?? config.ref, ...link, ...resolved, hash: ev.hash, previousHash: ev.previousHash, time: rfc3339(now) });
}

/** fetch refuses a body on these methods; the payload (if any) is then not sent. */
const NO_BODY = new Set(["GET", "HEAD"]);

function transportError(e: unknown): string {
  // ofetch's FetchError message embeds the raw URL (credentials included); use the cause's text.
  const cause = (e as { cause?: unknown }).cause ?? e;
  const err = cause as { name?: string; code?: string; message?: string };
  if (err.name === "TimeoutError") return "context deadline exceeded (timeout)";
  const code = err.code && err.message && !err.message.includes(err.code) ? `${err.code}: ` : "";
  return redactURLsInText(code + errorText(cause));
}

export function createWebhookAction(config: Config, log: Logger): HookAction {
  const wh = config.webhook;
  const client = createHttpClient({ timeoutMs: wh.timeout });
  const method = wh.method.toUpperCase();
  const shownURL = redactURL(wh.url);
  return {
    name: "webhook",
    backoff: wh.backoff,
    async run(ev: HookEvent): Promise<void> {
      log.info("sending webhook", { hash: ev.hash, url: shownURL, method: wh.method, timeout: new Duration(wh.timeout) });

      const headers = new Headers();
      for (const [k, v] of wh.headers) headers.append(k, v);
      headers.set(HASH_HEADER, ev.hash);
      if ((config.alsoLinks?.length ?? 0) > 0) {
        if (ev.ref !== undefined) headers.set(REF_HEADER, ev.ref);
        // A link named after a repo URL with credentials (upstream's default name) is shown without them.
        if (ev.link !== undefined) headers.set(LINK_HEADER, shownLink(ev.link, config.repo));
      }
      if (ev.resolvedRef) headers.set(RESOLVED_REF_HEADER, ev.resolvedRef);
      let body = "";
      if (wh.payload && !NO_BODY.has(method)) {
        body = webhookPayload(config, ev);
        headers.set("Content-Type", "application/json");
      }
      if (wh.signatureSecretFile !== "") headers.set(SIGNATURE_HEADER, signBody(readSigningKey(wh.signatureSecretFile, "webhook signature secret file"), body));

      let res;
      try {
        res = await client.raw<string, "text">(wh.url, {
          method: wh.method,
          headers,
          body: body === "" ? undefined : body,
          responseType: "text",
          // ofetch clears its own timeout once the headers arrive; a signal of ours also bounds
          // reading the body, so a server that never closes cannot hang the runner.
          signal: AbortSignal.timeout(wh.timeout),
          // Minimal receivers close the connection after each response; never reuse a socket.
          keepalive: false,
        });
      } catch (e) {
        // No second request of our own here: the receiver may already have acted on this one,
        // and the runner's backoff is the only retry (no hidden retries).
        throw new Error(`${method} ${goQuote(shownURL)}: ${transportError(e)}`, { cause: e });
      }
      const status = res.status;
      const text = typeof res._data === "string" ? res._data : "";
      // 0 (and v3's -1) means any response is a success; transport errors still failed above.
      if (wh.successStatus > 0 && status !== wh.successStatus) {
        throw new Error(`received response code ${status} expected ${wh.successStatus}, body: ${goQuote(text)}`);
      }
      log.v(1, "webhook succeeded", { hash: ev.hash, status, headers: Object.fromEntries(res.headers), body: text });
    },
  };
}
