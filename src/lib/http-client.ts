// The one place ofetch instances are made (STYLE.md 8). No retries (the hook runner and the
// sync loop own retries and backoff), no throwing on HTTP error statuses (callers compare
// status codes themselves), and always a timeout.
import { ofetch, type $Fetch } from "ofetch";

export interface HttpClientOptions {
  timeoutMs: number;
  /** "manual" makes a 3xx an ordinary response, so it can count as a failure (askpass). */
  redirect?: RequestRedirect;
}

export function createHttpClient(opts: HttpClientOptions): $Fetch {
  return ofetch.create({
    retry: 0,
    ignoreResponseError: true,
    timeout: opts.timeoutMs,
    redirect: opts.redirect ?? "follow",
  });
}
