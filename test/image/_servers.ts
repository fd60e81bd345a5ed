// Minimal loopback servers for the image test: smart HTTP(S) through `git http-backend` with
// optional basic auth, a throw-away CA, sshd with one key, and a webhook receiver.
// (test/servers/ was empty when these were written; switch to it once it offers the same.)
import { mkdirSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "../helpers/index.ts";

export interface Server {
  url: string;
  stop(): void;
}

function which(name: string, dirs = ["/usr/lib/git-core", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]): string | undefined {
  return [Bun.which(name), ...dirs.map((d) => join(d, name))].find((p) => p && Bun.file(p).size > 0) ?? undefined;
}

export const haveSshd = () => which("sshd") !== undefined;
export const haveOpenssl = () => which("openssl") !== undefined;

/** Smart HTTP for every bare repo under `projectRoot`; with `auth`, Basic auth is required. */
export function startGitHttp(opts: { projectRoot: string; auth?: { user: string; pass: string }; tls?: { cert: string; key: string } }): Server {
  const backend = which("git-http-backend");
  if (!backend) throw new Error("git-http-backend not found");
  const expected = opts.auth ? `Basic ${btoa(`${opts.auth.user}:${opts.auth.pass}`)}` : undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(opts.tls ? { tls: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    async fetch(req) {
      if (expected && req.headers.get("authorization") !== expected) {
        return new Response("auth required\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="git"' } });
      }
      const url = new URL(req.url);
      const body = req.method === "POST" ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array();
      const proc = Bun.spawn([backend], {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GIT_PROJECT_ROOT: opts.projectRoot,
          GIT_HTTP_EXPORT_ALL: "1",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method,
          CONTENT_TYPE: req.headers.get("content-type") ?? "",
          CONTENT_LENGTH: String(body.byteLength),
          HTTP_CONTENT_ENCODING: req.headers.get("content-encoding") ?? "",
          GIT_PROTOCOL: req.headers.get("git-protocol") ?? "",
          REMOTE_ADDR: "127.0.0.1",
          ...(opts.auth ? { REMOTE_USER: opts.auth.user } : {}),
        },
        stdin: body,
        stdout: "pipe",
        stderr: "pipe",
      });
      const out = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
      await proc.exited;
      return cgiResponse(out);
    },
  });
  return { url: `${opts.tls ? "https" : "http"}://127.0.0.1:${server.port}`, stop: () => void server.stop(true) };
}

function cgiResponse(out: Uint8Array): Response {
  const text = new TextDecoder("latin1").decode(out);
  let end = text.indexOf("\r\n\r\n");
  let sep = 4;
  if (end < 0) {
    end = text.indexOf("\n\n");
    sep = 2;
  }
  if (end < 0) return new Response("bad CGI output\n", { status: 500 });
  const headers = new Headers();
  let status = 200;
  for (const line of text.slice(0, end).split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
    else headers.append(k, v);
  }
  return new Response(out.slice(end + sep), { status, headers });
}

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it (PEM strings and files). */
export function makeCA(dir: string): { caFile: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const ossl = (...args: string[]) => {
    const p = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: process.env });
    if (p.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${p.stderr.toString()}`);
  };
  ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=git-sync test CA");
  ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
  chmodSync(join(dir, "ca.pem"), 0o644);
  return { caFile: join(dir, "ca.pem"), cert: readFileSync(join(dir, "server.pem"), "utf8"), key: readFileSync(join(dir, "server.key"), "utf8") };
}

/**
 * sshd on 127.0.0.1 accepting one client key for the current (root) user. `secretDir` gets
 * `ssh` (the private key) and `known_hosts`, the layout git-sync expects in /etc/git-secret.
 * The key is world-readable and owned by root, so ssh accepts it whatever uid runs the container.
 */
export async function startSshd(dir: string, secretDir: string): Promise<{ port: number; stop(): void }> {
  const sshd = which("sshd");
  if (!sshd) throw new Error("sshd not found");
  mkdirSync(dir, { recursive: true });
  mkdirSync(secretDir, { recursive: true });
  mkdirSync("/run/sshd", { recursive: true });
  const keygen = (file: string) => {
    const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", file], { stdout: "pipe", stderr: "pipe", env: process.env });
    if (p.exitCode !== 0) throw new Error(`ssh-keygen failed: ${p.stderr.toString()}`);
  };
  keygen(join(dir, "host"));
  keygen(join(dir, "client"));
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client.pub")));
  const port = freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "",
    ].join("\n"),
  );
  writeFileSync(join(secretDir, "ssh"), readFileSync(join(dir, "client")));
  chmodSync(join(secretDir, "ssh"), 0o444);
  const hostPub = readFileSync(join(dir, "host.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  writeFileSync(join(secretDir, "known_hosts"), `[127.0.0.1]:${port} ${hostPub}\n`);
  chmodSync(join(secretDir, "known_hosts"), 0o444);
  const proc = Bun.spawn([sshd, "-D", "-e", "-f", join(dir, "sshd_config")], { stdout: "ignore", stderr: "pipe", env: process.env });
  await waitFor("sshd to listen", async () => {
    if (proc.exitCode !== null) throw new Error(`sshd exited: ${await new Response(proc.stderr).text()}`);
    return await new Promise<boolean>((resolve) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open: (s) => {
            s.end();
            resolve(true);
          },
          data() {},
          connectError: () => resolve(false),
        },
      }).catch(() => resolve(false));
    });
  });
  return { port, stop: () => proc.kill("SIGTERM") };
}

export interface Received {
  method: string;
  path: string;
  hash: string | null;
}

/** A webhook receiver that records every request and answers 200. */
export function startReceiver(): Server & { requests: Received[] } {
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
