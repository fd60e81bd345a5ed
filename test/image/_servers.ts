// What the image test needs beyond test/servers/: the /etc/git-secret layout over the shared sshd,
// and a webhook receiver (test/servers/ has none). The servers listen on 127.0.0.1; containers
// reach them with --network=host.
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { genKey, startSSHD, type SSHServer } from "../servers/index.ts";

/**
 * The shared sshd accepting one fresh client key. `secretDir` gets `ssh` (the private key) and
 * `known_hosts`, the layout git-sync expects in /etc/git-secret. Both are world-readable and owned
 * by root, so ssh accepts the key whatever uid runs the container.
 */
export async function startSecretSshd(dir: string, secretDir: string): Promise<SSHServer> {
  mkdirSync(dir, { recursive: true });
  mkdirSync(secretDir, { recursive: true });
  const client = join(dir, "client");
  const server = await startSSHD(dir, [genKey(client)]);
  copyFileSync(client, join(secretDir, "ssh"));
  chmodSync(join(secretDir, "ssh"), 0o444);
  writeFileSync(join(secretDir, "known_hosts"), `${server.knownHostsLine}\n`);
  chmodSync(join(secretDir, "known_hosts"), 0o444);
  return server;
}

export interface Received {
  method: string;
  path: string;
  hash: string | null;
}

/** A webhook receiver that records every request and answers 200. */
export function startReceiver(): { url: string; requests: Received[]; stop(): void } {
  const requests: Received[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      requests.push({ method: req.method, path: new URL(req.url).pathname, hash: req.headers.get("gitsync-hash") });
      return new Response("ok\n");
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => void server.stop(true) };
}
