// The one reader of bodies from peers (src/lib/bounded-body.ts): a size cap, a deadline, and the
// stream cancelled (the connection closed) whenever either stops the read.
import { describe, expect, it } from "bun:test";
import { BodyTooLarge, BodyTooSlow, formatBytes, readBounded } from "../../src/lib/bounded-body.ts";

/** A stream of `chunks` chunks of `size` bytes, then open forever when `endless`; counts pulls and cancels. */
function source(chunks: number, size: number, opts: { length?: number; endless?: boolean } = {}) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (seen.pulled === chunks) {
        if (opts.endless) return new Promise<void>(() => {});
        return c.close();
      }
      seen.pulled++;
      c.enqueue(new Uint8Array(size).fill(0x61));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  const headers = new Headers(opts.length === undefined ? {} : { "Content-Length": String(opts.length) });
  return { src: { headers, body }, seen };
}

describe("readBounded", () => {
  it.each<[string, number, number, number]>([
    // name, chunks, chunk size, cap
    ["empty body", 0, 0, 10],
    ["one chunk under the cap", 1, 5, 10],
    ["exactly the cap, over several chunks", 5, 2, 10],
  ])("%s: the whole body", async (_name, chunks, size, cap) => {
    const { src } = source(chunks, size);
    expect((await readBounded(src, { maxBytes: cap, what: "x" })).length).toBe(chunks * size);
  });

  it("no body at all: empty", async () => {
    expect((await readBounded({ headers: new Headers(), body: null }, { maxBytes: 1, what: "x" })).length).toBe(0);
  });

  it("a Content-Length over the cap: refused before any read, stream cancelled", async () => {
    const { src, seen } = source(100, 1 << 10, { length: 100 << 10 });
    const err = await readBounded(src, { maxBytes: 64 << 10, what: "the answer" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLarge);
    expect((err as Error).message).toBe("the answer is over 64 KiB");
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(1);
  });

  it("an endless body: stops one chunk past the cap and cancels", async () => {
    const { src, seen } = source(1_000_000, 1 << 10, { endless: true });
    const err = await readBounded(src, { maxBytes: 10 << 10, what: "the listing" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLarge);
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(20);
  });

  it("a body that stops arriving: BodyTooSlow at the deadline, cancelled", async () => {
    const { src, seen } = source(1, 3, { endless: true });
    const err = await readBounded(src, { maxBytes: 1 << 20, deadline: Date.now() + 50, what: "request body" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooSlow);
    expect((err as Error).message).toBe("request body was not complete in time (3 bytes in)");
    expect(seen.cancelled).toBe(true);
  });
});

describe("formatBytes", () => {
  it.each<[number, string]>([
    [32 << 20, "32 MiB"],
    [64 << 10, "64 KiB"],
    [1500, "1500 bytes"],
    [(1 << 20) + 1, "1048577 bytes"],
  ])("%d -> %s", (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});
