// Where the replicas are (issue 23): the DNS answer for --peers, and which of its addresses is
// this process. Bun's resolver (c-ares) reads /etc/resolv.conf as a pod's libc does (search
// domains, ndots), and keeps an answer for its TTL: asking on every attempt re-asks the server
// at most once per TTL, and at least once per --period.
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** The most addresses taken from an answer (every replica keeps the same first ones, sorted). */
export const MAX_PEERS = 256;

/** The A and AAAA records of `name`, unique and sorted, at most MAX_PEERS; throws what the resolver said. */
export async function lookupPeers(name: string): Promise<{ addresses: string[]; dropped: number }> {
  const answer = await Bun.dns.lookup(name, {});
  const all = [...new Set(answer.map((a) => a.address))].sort();
  return { addresses: all.slice(0, MAX_PEERS), dropped: Math.max(0, all.length - MAX_PEERS) };
}

/** "addr:port", bracketed for IPv6. */
export function endpointOf(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** --http-bind's host when it names one address (not "", 0.0.0.0 or ::). */
export function boundAddress(host: string): string {
  if (host === "" || host === "0.0.0.0" || host === "::" || isIP(host) === 0) return "";
  return host;
}

/**
 * This replica's address: --http-bind's when it names one, else $POD_IP (the downward API), else
 * the interface address that is in the DNS answer; "" when none tells.
 */
export function ownAddress(bindHost: string, env: Record<string, string | undefined>, answer: readonly string[]): { address: string; from: string } {
  const bound = boundAddress(bindHost);
  if (bound !== "") return { address: bound, from: "--http-bind" };
  const pod = (env.POD_IP ?? "").trim();
  if (isIP(pod) !== 0) return { address: pod, from: "POD_IP" };
  const inAnswer = [...localAddresses()].find((a) => answer.includes(a));
  return inAnswer ? { address: inAnswer, from: "interfaces" } : { address: "", from: "" };
}

/**
 * The answer without this replica's own addresses of the other IP family: a dual-stack Service
 * lists a pod under its IPv4 and its IPv6 address, and a pod that knows itself by one ($POD_IP)
 * must not follow itself under the other.
 */
export function withoutOtherFamilyOfSelf(answer: readonly string[], self: string, local?: ReadonlySet<string>): string[] {
  const family = isIP(self);
  // A single-stack answer (the usual one, every poll) needs no look at the interfaces.
  if (self === "" || answer.every((a) => isIP(a) === family)) return [...answer];
  const mine = local ?? localAddresses();
  return answer.filter((a) => a === self || isIP(a) === family || !mine.has(a));
}

/** Every address of this machine's interfaces (this pod's). */
export function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
}
