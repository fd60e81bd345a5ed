// Request bodies for tests that measure what a server reads.

/**
 * A body produced only as fast as it is read, up to `limit` bytes (the test's own bound, so code
 * that reads without end still finishes): `sent()` says how much the reader took.
 */
export function metered(limit: number, chunk: Uint8Array = new Uint8Array(64 << 10).fill(0x61)): { stream: ReadableStream<Uint8Array>; sent: () => number } {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= limit) return c.close();
      const part = chunk.subarray(0, Math.min(chunk.length, limit - sent));
      sent += part.length;
      c.enqueue(part);
    },
  });
  return { stream, sent: () => sent };
}
