// What the tests need beyond git and `npm ci`, and the one way a test decides to skip for lack of it.
// `npm test` (scripts/test.ts) apt-installs the missing tools when it runs as root, gives each
// test process a file to note its skips in (GIT_SYNC_TEST_SKIPS) and ends with one line naming
// what was missing and how to get it. Under GIT_SYNC_REQUIRE_TOOLS=1 (tools and conditions) or
// GIT_SYNC_REQUIRE_IMAGE=1 (podman and the built images), which .ci/run sets, a gap is a failing
// test instead of a skip.
//
// Tools are found on PATH only: a PATH stripped on purpose stays stripped. scripts/test.ts adds
// the sbin directories a root shell has (sshd lives in /usr/sbin) when PATH lacks them.
import { test } from "bun:test";
import { appendFileSync } from "node:fs";
import { relative } from "node:path";

/** Which switch makes a gap fail instead of skip; "opt-in" gaps never fail. */
export type Strictness = "tools" | "image" | "opt-in";

/** The env var that turns each kind of gap into a failure. */
export const REQUIRE_ENV = { tools: "GIT_SYNC_REQUIRE_TOOLS", image: "GIT_SYNC_REQUIRE_IMAGE" } as const;

/** Something a test needs and this machine lacks: as the summary names it, and how to get it. */
export interface Gap {
  what: string;
  get: string;
  strictness: Strictness;
}

interface Tool {
  /** The Debian package; scripts/test.ts installs it as root. */
  apt?: string;
  /** How to get it when there is no package to install. */
  get?: string;
  /** Every executable the tests run from it; by default just the tool's name. */
  bins?: readonly string[];
  strictness?: Strictness;
  /** Who needs it, for a reader of this table. */
  for: string;
}

export const TOOLS = {
  sshd: { apt: "openssh-server", for: "test/servers/sshd.ts: ssh auth (test/auth, test/e2e/auth-ssh, test/image)" },
  ssh: { apt: "openssh-client", for: "git over ssh:// (git-sync runs `ssh -F <config>`)" },
  "ssh-keygen": { apt: "openssh-client", for: "test keys, and SSH-signed commits (git runs ssh-keygen -Y sign)" },
  gpg: { apt: "gnupg", bins: ["gpg", "gpg-agent", "gpgconf"], for: "OpenPGP-signed commits (test/verify, test/e2e/verify, test/image)" },
  openssl: { apt: "openssl", for: "test/servers/tls.ts: the throw-away CA behind the HTTPS tests" },
  script: { apt: "bsdutils", for: "a pseudo-terminal for the progress test" },
  unshare: { apt: "util-linux", bins: ["unshare", "nsenter"], for: "PID namespaces (test/pid1, test/e2e/ops-pid1, ops-status)" },
  dnsmasq: { apt: "dnsmasq-base", for: "test/peers: the DNS server a fleet resolves --peers through" },
  ip: { apt: "iproute2", for: "test/peers: lo up in a fleet's network namespace" },
  setpriv: { apt: "util-linux", for: "an instance run by another user (test/e2e/ops-select)" },
  mount: { apt: "mount", bins: ["mount", "umount"], for: "a small tmpfs for the disk-full test" },
  file: { apt: "file", for: "the release binaries' formats (test/release)" },
  podman: { get: "bash scripts/image/build.sh", strictness: "image", for: "test/image, test/pod" },
  catatonit: { get: "bash scripts/image/build.sh", strictness: "image", for: "every Pod's infra container (test/pod)" },
} as const satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

const binsOf = (name: ToolName): readonly string[] => (TOOLS[name] as Tool).bins ?? [name];

/** The absolute path of `bin` on PATH, or undefined. */
export function which(bin: string): string | undefined {
  return Bun.which(bin, { PATH: process.env.PATH ?? "" }) ?? undefined;
}

/** The absolute path of a tool's executable; throws when it is missing (check with `missing` first). */
export function toolPath(bin: string): string {
  const p = which(bin);
  if (!p) throw new Error(`${bin} is not on PATH`);
  return p;
}

/** Which of `names` lack an executable on PATH. */
export function missingTools(names: readonly ToolName[] = Object.keys(TOOLS) as ToolName[]): ToolName[] {
  return names.filter((n) => binsOf(n).some((b) => which(b) === undefined));
}

/** A missing tool as the summary names it: "sshd missing (apt-get install openssh-server)". */
export function toolGap(name: ToolName): Gap {
  const t: Tool = TOOLS[name];
  return { what: `${name} missing`, get: t.apt ? `apt-get install ${t.apt}` : t.get!, strictness: t.strictness ?? "tools" };
}

let pidNamespaces: boolean | undefined;
let fleetNamespaces: boolean | undefined;

/** Conditions of the machine rather than tools: counted and required like tools. */
export const CONDITIONS = {
  root: (): Gap | undefined => (process.getuid?.() === 0 ? undefined : { what: "mounting a tmpfs not permitted", get: "run the tests as root", strictness: "tools" }),
  /** Starting a process as another user (nobody): root and setpriv. */
  "other-user": (): Gap | undefined => {
    if (missingTools(["setpriv"]).length > 0) return toolGap("setpriv");
    return process.getuid?.() === 0 ? undefined : { what: "starting a process as another user not permitted", get: "run the tests as root", strictness: "tools" };
  },
  "pid-namespace": (): Gap | undefined => {
    if (missingTools(["unshare"]).length > 0) return toolGap("unshare");
    pidNamespaces ??= Bun.spawnSync(["unshare", "--pid", "--fork", "--mount-proc", "true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
    return pidNamespaces ? undefined : { what: "PID namespaces not permitted", get: "run the tests as root", strictness: "tools" };
  },
  /** Private PID, network and mount namespaces, as test/peers runs a fleet in. */
  "net-namespace": (): Gap | undefined => {
    if (missingTools(["unshare"]).length > 0) return toolGap("unshare");
    fleetNamespaces ??= Bun.spawnSync(["unshare", "--pid", "--net", "--mount", "--fork", "--mount-proc", "true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
    return fleetNamespaces ? undefined : { what: "network namespaces not permitted", get: "run the tests as root", strictness: "tools" };
  },
} as const;

export type Need = ToolName | keyof typeof CONDITIONS;

/**
 * Whether tests that need all of `wanted` must skip here: `describe.skipIf(missing("sshd"))(...)`.
 * A skip is noted for the summary (printed when not run by `npm test`); when the gap's
 * GIT_SYNC_REQUIRE_* is 1, a failing test that says what is missing is registered in the
 * guarded tests' place (they are still skipped).
 */
export function missing(...wanted: Need[]): boolean {
  return unmet(wanted.map((n) => (n in CONDITIONS ? CONDITIONS[n as keyof typeof CONDITIONS]() : missingTools([n as ToolName]).map(toolGap)[0])));
}

/** Like `missing`, for gaps a test file finds itself (an image not built, a test left opt-in). */
export function unmet(found: ReadonlyArray<Gap | undefined>): boolean {
  const list = found.filter((g): g is Gap => g !== undefined);
  if (list.length === 0) return false;
  const reason = list.map(describeGap).join(", ");
  // Several files share a process without --parallel: once per file and reason.
  const file = relative(`${import.meta.dir}/../..`, Bun.main);
  const once = `${file}\0${reason}`;
  if (told.has(once)) return true;
  told.add(once);
  const notes = process.env.GIT_SYNC_TEST_SKIPS;
  if (notes) appendFileSync(notes, list.map((g) => `${file}\t${describeGap(g)}\n`).join(""));
  const strict = list.filter((g) => g.strictness !== "opt-in" && process.env[REQUIRE_ENV[g.strictness]] === "1");
  if (strict.length > 0) {
    const envs = [...new Set(strict.map((g) => `${REQUIRE_ENV[g.strictness as keyof typeof REQUIRE_ENV]}=1`))].join(", ");
    test(`prerequisites (${envs}): ${reason}`, () => {
      throw new Error(`${envs}, but ${reason}`);
    });
  } else if (!notes) console.log(`${file}: skipping tests: ${reason}`);
  return true;
}

const told = new Set<string>();

export const describeGap = (g: Gap) => `${g.what} (${g.get})`;
