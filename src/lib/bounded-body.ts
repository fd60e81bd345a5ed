// Reading a body someone else controls: a request to POST /sync, or the answer of a git host,
// an askpass URL or a GitHub token endpoint. Each is read with a size cap and a deadline, so a
// peer that sends without end, or trickles, costs at most the cap and the time, and the
// connection is closed as soon as either is passed (the rest is never received).

export interface BodyLimits {
  /** Most bytes accepted; one more and the read stops with BodyTooLarge. */
  maxBytes: number;
  /** Epoch ms by which the whole body must be in; undefined: no deadline of our own. */
  deadline?: number;
  /** What is read, for the message: "answer of the askpass URL". */
  what: string;
}

export class BodyTooLarge extends Error {}
export class BodyTooSlow extends Error {}

/** "32 MiB", "64 KiB", "1500 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n >> 20} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n >> 10} KiB`;
  return `${n} bytes`;
}

/** Whether a Content-Length header already says the body is over the cap. */
export function declaresOver(headers: Headers, maxBytes: number): boolean {
  const length = Number(headers.get("content-length") ?? "");
  return Number.isFinite(length) && length > maxBytes;
}

function tooLarge(limits: BodyLimits): BodyTooLarge {
  return new BodyTooLarge(`${limits.what} is over ${formatBytes(limits.maxBytes)}`);
}

function slow(limits: BodyLimits, size: number): BodyTooSlow {
  return new BodyTooSlow(`${limits.what} was not complete in time (${size} bytes in)`);
}

/**
 * The whole body of a request or response, or a BodyTooLarge / BodyTooSlow error once it passes
 * `maxBytes` (a Content-Length over it fails before any read) or the deadline; either way the
 * stream is cancelled, which closes the connection.
 */
export async function readBounded(source: { headers: Headers; body: ReadableStream<Uint8Array> | null }, limits: BodyLimits): Promise<Uint8Array> {
  const { body } = source;
  if (declaresOver(source.headers, limits.maxBytes)) {
    await body?.cancel().catch(() => {});
    throw tooLarge(limits);
  }
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  let late = false;
  const timer =
    limits.deadline === undefined
      ? undefined
      : setTimeout(
          () => {
            late = true;
            // A pending read then resolves as done; the check after it turns that into BodyTooSlow.
            reader.cancel().catch(() => {});
          },
          Math.max(0, limits.deadline - Date.now()),
        );
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await reader.read();
      } catch (e) {
        if (late) throw slow(limits, size);
        throw e;
      }
      if (late) throw slow(limits, size);
      const { done, value } = step;
      if (done) break;
      size += value.length;
      if (size > limits.maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(limits);
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
