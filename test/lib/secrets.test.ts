import { describe, expect, it } from "bun:test";
import { signBody } from "../../src/lib/secrets.ts";

describe("signBody", () => {
  it("signs as GitHub does (sha256=<hex HMAC>)", () => {
    expect(signBody("key", "x")).toBe("sha256=4fc3b7eaf34d7e594a6f51d9517ba543abf41067b27587ffd82ba3584e4d3cdd");
  });

  it("is not thrown off by an OpenSSL error a failed key import left behind", async () => {
    // A key that does not parse leaves its error on OpenSSL's queue, where Bun's HMAC finds it.
    const bad = crypto.subtle.importKey("pkcs8", Buffer.from("AAAA", "base64"), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
    await expect(bad).rejects.toThrow();
    expect(signBody("key", "x")).toBe("sha256=4fc3b7eaf34d7e594a6f51d9517ba543abf41067b27587ffd82ba3584e4d3cdd");
  });
});
