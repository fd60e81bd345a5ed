// sshd on a free 127.0.0.1 port with a test host key, an authorized_keys file the test chooses,
// and a matching known_hosts line. Needs sshd and ssh-keygen on PATH (tests check with
// `missing("sshd", "ssh-keygen")` from test/helpers/prereqs.ts) and, as root, /run/sshd (privilege separation directory).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "../helpers/index.ts";
import { toolPath } from "../helpers/prereqs.ts";

/** ed25519 key pair at <path> and <path>.pub (mode 0600, as ssh demands); returns the public line. */
export function genKey(path: string, comment = "git-sync-test"): string {
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ssh-keygen failed: ${p.stderr.toString()}`);
  chmodSync(path, 0o600);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

export interface SSHServer {
  port: number;
  /** `[127.0.0.1]:<port> <host key>`: a known_hosts line for this server. */
  knownHostsLine: string;
  /** A known_hosts file holding that line. */
  knownHostsFile: string;
  /** The login name to put in URLs (the user running the tests). */
  user: string;
  /** Replace authorized_keys (takes effect on the next connection). */
  authorize(pubKeys: string[]): void;
  stop(): Promise<void>;
}

export async function startSSHD(dir: string, authorizedKeys: string[]): Promise<SSHServer> {
  // Only a root sshd chroots its unprivileged child there; another user could not create it.
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "host_key");
  const hostPub = genKey(hostKey, "host");
  const authFile = join(dir, "authorized_keys");
  const authorize = (keys: string[]) => writeFileSync(authFile, keys.join("\n") + "\n", { mode: 0o600 });
  authorize(authorizedKeys);
  const port = freePort();
  const cfg = join(dir, "sshd_config");
  writeFileSync(
    cfg,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authFile}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "StrictModes no",
      // Parallel tests open many connections at once; the default 10:30:100 drops some.
      "MaxStartups 200",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // sshd re-executes itself, which needs its absolute path.
  const proc = Bun.spawn([toolPath("sshd"), "-D", "-e", "-f", cfg], { stdout: "pipe", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
  })();
  await waitFor(`sshd listening on ${port}: ${log}`, async () => {
    if (proc.exitCode !== null) throw new Error(`sshd exited: ${log}`);
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return true;
    } catch {
      return false;
    }
  });
  const knownHostsLine = `[127.0.0.1]:${port} ${hostPub.split(" ").slice(0, 2).join(" ")}`;
  const knownHostsFile = join(dir, "known_hosts");
  writeFileSync(knownHostsFile, knownHostsLine + "\n");
  const user = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
  return {
    port,
    knownHostsLine,
    knownHostsFile,
    user,
    authorize,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
