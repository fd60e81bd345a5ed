// Where the replicas are (src/peers/address.ts): which address is this replica's own, in the
// documented order (--http-bind's host, then $POD_IP, then an interface address that is in the
// DNS answer), how a peer's endpoint is spelled, and what a lookup returns.
import { describe, expect, it } from "bun:test";
import { networkInterfaces } from "node:os";
import { boundAddress, endpointOf, lookupPeers, ownAddress } from "../../src/peers/address.ts";

/** An address of one of this machine's interfaces (loopback is one). */
const mine = Object.values(networkInterfaces())
  .flatMap((l) => l ?? [])
  .map((i) => i.address);
const local = mine.find((a) => a === "127.0.0.1") ?? mine[0]!;
/** Addresses no interface here has (TEST-NET-3, documentation IPv6). */
const FOREIGN = ["203.0.113.7", "2001:db8::7"];

describe("ownAddress", () => {
  it.each<[string, string, Record<string, string>, string[], { address: string; from: string }]>([
    ["--http-bind's IPv4 host first, over POD_IP", "10.1.2.3", { POD_IP: "10.9.9.9" }, [local], { address: "10.1.2.3", from: "--http-bind" }],
    ["--http-bind's IPv6 host", "fd00::11", { POD_IP: "10.9.9.9" }, [], { address: "fd00::11", from: "--http-bind" }],
    ["--http-bind :port (all interfaces): POD_IP", "", { POD_IP: "10.9.9.9" }, [local], { address: "10.9.9.9", from: "POD_IP" }],
    ["--http-bind 0.0.0.0: POD_IP", "0.0.0.0", { POD_IP: "10.9.9.9" }, [], { address: "10.9.9.9", from: "POD_IP" }],
    ["--http-bind [::]: POD_IP", "::", { POD_IP: "fd00::9" }, [], { address: "fd00::9", from: "POD_IP" }],
    ["--http-bind names a host, not an address: POD_IP", "localhost", { POD_IP: "10.9.9.9" }, [], { address: "10.9.9.9", from: "POD_IP" }],
    ["POD_IP with blanks around it", "", { POD_IP: " 10.9.9.9\n" }, [], { address: "10.9.9.9", from: "POD_IP" }],
    ["POD_IP not an address: the interface in the answer", "", { POD_IP: "my-pod" }, [...FOREIGN, local], { address: local, from: "interfaces" }],
    ["no POD_IP: the interface in the answer", "", {}, [FOREIGN[0]!, local], { address: local, from: "interfaces" }],
    ["empty POD_IP: the interface in the answer", "0.0.0.0", { POD_IP: "" }, [local], { address: local, from: "interfaces" }],
    ["no interface in the answer: unknown", "", {}, FOREIGN, { address: "", from: "" }],
    ["an empty answer: unknown", "", {}, [], { address: "", from: "" }],
  ])("%s", (_name, bindHost, env, answer, want) => {
    expect(ownAddress(bindHost, env, answer)).toEqual(want);
  });
});

describe("boundAddress", () => {
  it.each<[string, string]>([
    ["", ""],
    ["0.0.0.0", ""],
    ["::", ""],
    ["example.com", ""],
    ["127.0.0.11", "127.0.0.11"],
    ["::1", "::1"],
  ])("%j -> %j", (host, want) => {
    expect(boundAddress(host)).toBe(want);
  });
});

describe("endpointOf", () => {
  it.each<[string, number, string]>([
    ["10.0.0.1", 8080, "10.0.0.1:8080"],
    ["fd00::1", 8080, "[fd00::1]:8080"],
    ["::1", 1, "[::1]:1"],
    ["2001:db8::ffff:10.0.0.1", 80, "[2001:db8::ffff:10.0.0.1]:80"],
  ])("%s port %d -> %s", (address, port, want) => {
    expect(endpointOf(address, port)).toBe(want);
    // What the endpoint is for: a URL whose host is the address.
    expect(new URL(`http://${want}/git`).port).toBe(port === 80 ? "" : String(port));
  });
});

describe("lookupPeers", () => {
  it("an address answers itself, once", async () => {
    expect(await lookupPeers("127.0.0.5")).toEqual({ addresses: ["127.0.0.5"], dropped: 0 });
    expect(await lookupPeers("::1")).toEqual({ addresses: ["::1"], dropped: 0 });
  });

  it("a name nobody knows throws what the resolver said", async () => {
    await expect(lookupPeers("nothing.invalid")).rejects.toThrow(/NOTFOUND/);
  });
});
