// The one place ofetch instances are made. No retries (the hook runner and the
// sync loop own retries and backoff), no throwing on HTTP error statuses (callers compare
// status codes themselves), and always a timeout.
//
// ofetch is loaded on the first request, not at start: importing it builds its default
// instance, ~5 ms of every start (bun --cpu-prof), and most runs never make such a request.
import type { $Fetch } from "ofetch";

export interface HttpClientOptions {
  timeoutMs: number;
  /** "manual" makes a 3xx an ordinary response, so it can count as a failure (askpass). */
  redirect?: RequestRedirect;
}

/** What callers use of an ofetch instance: `raw`, which hands back the response and its status. */
export type HttpClient = Pick<$Fetch, "raw">;

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  let instance: Promise<$Fetch> | undefined;
  const load = () =>
    (instance ??= import("ofetch").then(({ ofetch }) =>
      ofetch.create({
        retry: 0,
        ignoreResponseError: true,
        timeout: opts.timeoutMs,
        redirect: opts.redirect ?? "follow",
      }),
    ));
  return { raw: (async (request: Parameters<$Fetch["raw"]>[0], options?: Parameters<$Fetch["raw"]>[1]) => (await load()).raw(request, options)) as $Fetch["raw"] };
}
