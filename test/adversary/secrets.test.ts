// Secrets stay secret on every surface (issue 20, item 3). Unique canaries go where operators put
// secrets: the repo URL's user name and password (also as $GITSYNC_REPO), --credential and
// $GITSYNC_CREDENTIAL passwords, a credential's password file, an --askpass-url query
// (?access_token=...) and the askpass answer, a GitHub App key file and the tokens minted from it.
// The real binary runs at -v=9 against real servers on 127.0.0.1, with an exechook that dumps its
// environment and a webhook with --webhook-payload; then every surface is scanned: stdout and
// stderr, the error file, /status, /metrics, /debug/pprof/cmdline, the webhook requests, the
// hook's environment and `git-sync status` (text, --json, and read from the root).
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, httpGet, readOr, type Running, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { Receiver, script } from "../hooks/_fixtures.ts";
import { makeAppKey, makeBareRepo, startAskpassServer, startGitHTTP, startGitHubServer, type AskpassServer, type GitHTTPServer, type GitHubServer } from "../servers/index.ts";

setDefaultTimeout(60_000);

const canary = (tag: string) => `${tag}${crypto.randomUUID().replace(/-/g, "")}`;

interface World {
  t: Scenario;
  srv: GitHTTPServer;
  /** name -> secret value; none may appear on any surface. */
  canaries: Record<string, string>;
  port: number;
  errorFile: string;
  hookEnvFile: string;
  receiver: Receiver;
  stop(): void;
}

/** A git server with basic auth (user and password are canaries) serving repo.git, and the shared pieces. */
async function world(): Promise<World> {
  const t = await scenario();
  const projectRoot = join(t.dir, "srv");
  makeBareRepo(projectRoot, "repo.git");
  const canaries: Record<string, string> = { urlUser: canary("cuser"), urlPass: canary("cpass") };
  const srv = startGitHTTP({ projectRoot, users: { [canaries.urlUser!]: canaries.urlPass! } });
  const receiver = new Receiver().start();
  const hookEnvFile = join(t.dir, "hook.env");
  return {
    t,
    srv,
    canaries,
    port: freePort(),
    errorFile: join(t.dir, "error.json"),
    hookEnvFile,
    receiver,
    stop() {
      srv.stop();
      receiver.stop();
    },
  };
}

/** The flags every scenario shares: endpoint with metrics and pprof, -v=9, error file, exechook, webhook with payload. */
function commonArgs(w: World): string[] {
  const hook = script(w.t.dir, "dump-env.sh", `env > '${w.hookEnvFile}.tmp' && mv '${w.hookEnvFile}.tmp' '${w.hookEnvFile}'`);
  return [
    `--root=${w.t.root}`,
    "--link=link",
    "--period=200ms",
    "--max-failures=-1",
    "-v=9",
    `--error-file=${w.errorFile}`,
    `--http-bind=127.0.0.1:${w.port}`,
    "--http-metrics",
    "--http-pprof",
    `--exechook-command=${hook}`,
    "--exechook-backoff=1s",
    `--webhook-url=${w.receiver.url}`,
    "--webhook-payload",
    "--webhook-backoff=1s",
  ];
}

/** The repo URL with the canary user and password in it. */
const repoURL = (w: World, port = w.srv.port) => `http://${w.canaries.urlUser}:${w.canaries.urlPass}@127.0.0.1:${port}/repo.git`;

/** Credentials for other hosts: one in $GITSYNC_CREDENTIAL, one in --credential, one with a password file. */
function credentials(w: World): { env: Record<string, string>; args: string[] } {
  w.canaries.envCred = canary("cenvcred");
  w.canaries.flagCred = canary("cflagcred");
  w.canaries.passwordFile = canary("cpwfile");
  const file = join(w.t.dir, "password");
  writeFileSync(file, `${w.canaries.passwordFile}\n`);
  return {
    env: { GITSYNC_CREDENTIAL: JSON.stringify([{ url: "http://127.0.0.1:1/env", username: "envuser", password: w.canaries.envCred }]) },
    args: [
      `--credential=${JSON.stringify({ url: "http://127.0.0.1:1/flag", username: "flaguser", password: w.canaries.flagCred })}`,
      `--credential=${JSON.stringify({ url: "http://127.0.0.1:2/file", username: "fileuser", "password-file": file })}`,
    ],
  };
}

/** An askpass server answering a canary password; its URL carries a canary query. */
function askpass(w: World, mode?: AskpassServer["mode"]): { server: AskpassServer; arg: string } {
  w.canaries.askpassQuery = canary("cquery");
  w.canaries.askpassAnswer = canary("caskpw");
  const server = startAskpassServer({ username: "askuser", password: w.canaries.askpassAnswer, mode });
  return { server, arg: `--askpass-url=${server.url}?access_token=${w.canaries.askpassQuery}` };
}

/** A GitHub App key file and its token server; the key's body lines are canaries. */
async function githubApp(w: World): Promise<{ server: GitHubServer; args: string[] }> {
  const key = makeAppKey();
  const file = join(w.t.dir, "app.pem");
  writeFileSync(file, key.pkcs1);
  key.pkcs1
    .split("\n")
    .filter((l) => l.length >= 32 && !l.startsWith("-----"))
    .forEach((l, i) => (w.canaries[`appKeyLine${i}`] = l));
  const server = await startGitHubServer({ publicKey: key.publicKey, issuer: "123", installationID: 456 });
  return {
    server,
    args: [`--github-base-url=${server.url}`, `--github-app-private-key-file=${file}`, "--github-app-application-id=123", "--github-app-installation-id=456"],
  };
}

async function statusCLI(w: World, ...args: string[]): Promise<string> {
  const r = await w.t.run(["status", ...args], { timeoutMs: 10_000 });
  return r.stdout + r.stderr;
}

/** Every surface, read now (the process still running), then its logs after it stopped. */
async function surfaces(w: World, gs: Running): Promise<Record<string, string>> {
  const s: Record<string, string> = {};
  s["/status"] = (await httpGet(w.port, "/status")).body;
  s["/metrics"] = (await httpGet(w.port, "/metrics")).body;
  s["/debug/pprof/cmdline"] = (await httpGet(w.port, "/debug/pprof/cmdline")).body;
  s["git-sync status"] = await statusCLI(w, `--http-bind=127.0.0.1:${w.port}`);
  s["git-sync status --json"] = await statusCLI(w, `--http-bind=127.0.0.1:${w.port}`, "--json");
  s["git-sync status (root)"] = await statusCLI(w, "--http-bind=", `--root=${w.t.root}`, "--link=link", `--error-file=${w.errorFile}`, "--pid", String(gs.proc.pid));
  s["git-sync status --json (root)"] = await statusCLI(w, "--http-bind=", `--root=${w.t.root}`, "--link=link", `--error-file=${w.errorFile}`, "--pid", String(gs.proc.pid), "--json");
  s["error file"] = readOr(w.errorFile) ?? "";
  s["exechook env"] = readOr(w.hookEnvFile) ?? "";
  s["webhook requests"] = w.receiver.hits.map((h) => `${h.method} ${JSON.stringify(Object.fromEntries(h.headers))} ${h.body}`).join("\n");
  await gs.stop();
  s["stdout+stderr"] = gs.stdout + gs.stderr;
  return s;
}

/** "surface: canary" for every canary found; [] when nothing leaked. */
function leaks(s: Record<string, string>, canaries: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [surface, text] of Object.entries(s)) {
    for (const [name, value] of Object.entries(canaries)) if (text.includes(value)) out.push(`${surface}: ${name}`);
  }
  return out;
}

const failures = async (w: World) => ((await httpGet(w.port, "/status").then((r) => JSON.parse(r.body) as { consecutiveFailures: number }, () => null))?.consecutiveFailures ?? 0) >= 1;

// Text logs (--log-format=text, for people) unquote git's output and lay values out on lines of
// their own: the same canaries are looked for there.
test.each(["json", "text"])("a sync that works, then fails on a rotated password: no canary on any surface (URL user and password, credentials, password file, askpass query and answer, GitHub App key and token), %s logs", async (format) => {
  const w = await world();
  await using t = w.t;
  const ask = askpass(w);
  const app = await githubApp(w);
  try {
    const creds = credentials(w);
    const gs = t.spawn([`--repo=${repoURL(w)}`, ...commonArgs(w), ...creds.args, ask.arg, ...app.args, `--log-format=${format}`], { env: { ...creds.env, GITSYNC_REPO: repoURL(w) } });
    await waitFor("the webhook and the exechook", () => (w.receiver.hits.length >= 1 && existsSync(w.hookEnvFile)) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    // The token the key minted is a secret too.
    app.server.tokens.forEach((tok, i) => (w.canaries[`appToken${i}`] = tok));
    expect(app.server.tokens.length).toBeGreaterThan(0);
    // Rotate the password upstream: the next attempts fail and write the error file.
    w.srv.users.set(w.canaries.urlUser!, "rotated");
    await waitFor("a failed attempt and the error file", async () => existsSync(w.errorFile) && (await failures(w)), 20_000);
    const s = await surfaces(w, gs);
    expect(leaks(s, w.canaries)).toEqual([]);

    // The surfaces said something: the redacted forms are there.
    const shownRepo = `http://REDACTED@127.0.0.1:${w.srv.port}/repo.git`;
    expect(JSON.parse(s["/status"]!).repo).toBe(shownRepo);
    expect(JSON.parse(w.receiver.hits[0]!.body).repo).toBe(shownRepo);
    expect(s["/debug/pprof/cmdline"]).toContain(`--repo=${shownRepo}`);
    expect(s["/debug/pprof/cmdline"]).toContain(`--askpass-url=${ask.server.url}?REDACTED`);
    expect(s["exechook env"]).toContain(`GITSYNC_REPO=${shownRepo}\n`);
    expect(s["exechook env"]).not.toContain("GITSYNC_CREDENTIAL=");
    expect(s["error file"]).toContain("Authentication failed");
  } finally {
    ask.server.stop();
    app.server.stop();
    w.stop();
  }
});

test("a wrong password file and an askpass URL with a token in its query: the failure shows neither", async () => {
  const w = await world();
  await using t = w.t;
  const ask = askpass(w);
  try {
    w.canaries.wrongPassword = canary("cwrong");
    const file = join(t.dir, "wrong-password");
    writeFileSync(file, w.canaries.wrongPassword);
    const creds = credentials(w);
    const args = [`--repo=http://127.0.0.1:${w.srv.port}/repo.git`, `--username=${w.canaries.urlUser}`, `--password-file=${file}`, ...commonArgs(w), ...creds.args, ask.arg];
    const gs = t.spawn(args, { env: creds.env });
    await waitFor("a failed attempt and the error file", async () => (existsSync(w.errorFile) && (await failures(w))) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    const s = await surfaces(w, gs);
    // --username names a user name, shown as such; the URL user info is the secret one.
    delete w.canaries.urlUser;
    expect(leaks(s, w.canaries)).toEqual([]);
    expect(s["error file"]).toContain("Authentication failed");
  } finally {
    ask.server.stop();
    w.stop();
  }
});

test("an askpass URL that is down: the HTTP client's error quotes the URL, its token query does not reach any surface", async () => {
  const w = await world();
  await using t = w.t;
  const ask = askpass(w);
  ask.server.stop();
  try {
    const gs = t.spawn([`--repo=${repoURL(w)}`, ...commonArgs(w), ask.arg]);
    await waitFor("a failed attempt and the error file", async () => (existsSync(w.errorFile) && (await failures(w))) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    const s = await surfaces(w, gs);
    expect(leaks(s, w.canaries)).toEqual([]);
    expect(s["error file"]).toContain("can't access auth URL");
    expect(s["error file"]).toContain(`${ask.server.url}?REDACTED`);
    expect(JSON.parse(s["/status"]!).lastError).toContain(`${ask.server.url}?REDACTED`);
  } finally {
    w.stop();
  }
});

test("an askpass URL answering 500: the failure shows neither its token query nor the repo URL's user info", async () => {
  const w = await world();
  await using t = w.t;
  const ask = askpass(w, { kind: "status", status: 500 });
  try {
    const gs = t.spawn([`--repo=${repoURL(w)}`, ...commonArgs(w), ask.arg], { env: { GITSYNC_REPO: repoURL(w) } });
    await waitFor("a failed attempt and the error file", async () => (existsSync(w.errorFile) && (await failures(w))) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    const s = await surfaces(w, gs);
    expect(leaks(s, w.canaries)).toEqual([]);
    expect(s["error file"]).toContain("auth URL returned status 500");
  } finally {
    ask.server.stop();
    w.stop();
  }
});

test("an unreachable repo whose URL holds a token as the user name: git's error, /status and the logs show it redacted", async () => {
  const w = await world();
  await using t = w.t;
  // A token alone as the user name (https://ghp_xxx@github.com/org/repo), and a host nobody answers on.
  w.canaries.tokenUser = canary("ghp_");
  const url = `http://${w.canaries.tokenUser}@127.0.0.1:${freePort()}/repo.git?private_token=${w.canaries.urlPass}`;
  try {
    const gs = t.spawn([`--repo=${url}`, ...commonArgs(w)], { env: { GIT_SYNC_REPO: url } });
    await waitFor("a failed attempt and the error file", async () => (existsSync(w.errorFile) && (await failures(w))) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    const s = await surfaces(w, gs);
    expect(leaks(s, w.canaries)).toEqual([]);
    expect(JSON.parse(s["/status"]!).repo).toMatch(/^http:\/\/REDACTED@127\.0\.0\.1:\d+\/repo\.git\?REDACTED$/);
  } finally {
    w.stop();
  }
});

test("a GitHub App key in $GITSYNC_GITHUB_APP_PRIVATE_KEY and a webhook URL with a token query: the sync works through the minted token, and no key line, token or query reaches any surface", async () => {
  const w = await world();
  await using t = w.t;
  const key = makeAppKey();
  key.pkcs8
    .split("\n")
    .filter((l) => l.length >= 32 && !l.startsWith("-----"))
    .forEach((l, i) => (w.canaries[`appKeyLine${i}`] = l));
  const gh = await startGitHubServer({ publicKey: key.publicKey, issuer: "123", installationID: 456 });
  // This server takes only a token the app minted (GitHub's user name for it is ignored).
  const srv = startGitHTTP({ projectRoot: join(t.dir, "srv"), check: (_user, pass) => gh.tokens.includes(pass) });
  w.canaries.webhookQuery = canary("chookq");
  try {
    const repo = `http://127.0.0.1:${srv.port}/repo.git`;
    const args = [`--repo=${repo}`, ...commonArgs(w), `--webhook-url=${w.receiver.url}?token=${w.canaries.webhookQuery}`];
    args.push(`--github-base-url=${gh.url}`, "--github-app-application-id=123", "--github-app-installation-id=456");
    const gs = t.spawn(args, { env: { GITSYNC_GITHUB_APP_PRIVATE_KEY: key.pkcs8 } });
    await waitFor("the webhook and the exechook", () => (w.receiver.hits.length >= 1 && existsSync(w.hookEnvFile)) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    expect(srv.requests.some((r) => r.status === 200)).toBe(true);
    gh.tokens.forEach((tok, i) => (w.canaries[`appToken${i}`] = tok));
    const s = await surfaces(w, gs);
    expect(leaks(s, w.canaries)).toEqual([]);
    expect(s["exechook env"]).not.toContain("GITSYNC_GITHUB_APP_PRIVATE_KEY=");
    expect(s["exechook env"]).toContain(`GITSYNC_HASH=`);
    expect(s["/debug/pprof/cmdline"]).toContain(`--webhook-url=${w.receiver.url}?REDACTED`);
  } finally {
    srv.stop();
    gh.stop();
    w.stop();
  }
});

/**
 * A host that reflects what git sent it: it asks for basic auth, then answers the advertisement
 * with `ERR <the password>`, which git prints as `fatal: remote error: ...` on stderr. git-sync
 * quotes that stderr inside its error text (JSON escapes it again), and text logs unquote it:
 * the password is scrubbed in every one of those spellings.
 */
function reflectingHost(): { url: string; stop(): void } {
  const pkt = (s: string) => (new TextEncoder().encode(s).length + 4).toString(16).padStart(4, "0") + s;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const auth = req.headers.get("authorization");
      if (!auth?.startsWith("Basic ")) return new Response("", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="x"' } });
      const password = atob(auth.slice(6)).split(":").slice(1).join(":");
      const body = pkt("# service=git-upload-pack\n") + "0000" + pkt(`ERR you sent ${password}\n`);
      return new Response(body, { headers: { "Content-Type": "application/x-git-upload-pack-advertisement" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

// A password with a quote and a backslash: git-sync's error text Go-quotes git's stderr, so the
// raw bytes never appear there, only escaped spellings the scrubber must know too.
test.each(["json", "text"])("a host that reflects the password into git's error: no spelling of it on stderr, the error file or /status (%s logs)", async (format) => {
  await using t = await scenario();
  const host = reflectingHost();
  const password = `${canary("pw")}"q\\z`;
  const port = freePort();
  const errorFile = join(t.dir, "error.json");
  try {
    const gs = t.spawn(
      [`--repo=${host.url}/repo.git`, `--root=${t.root}`, "--link=link", "--username=alice", "--period=200ms", "--max-failures=-1", "-v=9", `--error-file=${errorFile}`, `--http-bind=127.0.0.1:${port}`, `--log-format=${format}`],
      { env: { GITSYNC_PASSWORD: password } },
    );
    await waitFor("the reflected error", () => gs.stderr.includes("remote error: you sent") || gs.done, 20_000);
    await waitFor("the error file", () => existsSync(errorFile) || gs.done, 20_000);
    expect(gs.done).toBe(false);
    const status = (await httpGet(port, "/status")).body;
    await gs.stop();
    const core = password.slice(0, password.indexOf('"'));
    for (const [surface, text] of Object.entries({ stderr: gs.stderr, "error file": readOr(errorFile) ?? "", "/status": status })) {
      expect(text, surface).toContain("you sent REDACTED");
      expect(text.includes(core), surface).toBe(false);
    }
  } finally {
    host.stop();
  }
});
