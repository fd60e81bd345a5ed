// --askpass-url with a file:// repo, exercised the way upstream's own e2e tests do it: a --git
// wrapper (upstream's askpass_git.sh) that, before clone/ls-remote/fetch, asks
// `git credential fill` for the repo's file:// URL and refuses to run git unless the answer is
// the username and password the askpass URL handed out. git then prompts our GIT_ASKPASS with
// "Username for 'file:///…/repo': " — a URL with no host, matched by path (credentials.ts).
// Issue 12; behaviour.md 6.3.
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commit, freePort, jsonLines, type Running, type Scenario, scenario, waitFor } from "../helpers/index.ts";
import { startAskpassServer } from "../servers/index.ts";

const TIMEOUT = 60_000;
const SYNCED_WITHIN = 30_000;
const LOOP = ["--period=100ms", "--max-failures=-1"];
const USER = "my-username";

/** Stops a test server when the test's scope ends. */
function own<T extends { stop(): unknown }>(s: T): T & Disposable {
  return Object.assign(s, { [Symbol.dispose]: () => void s.stop() });
}

/**
 * upstream's askpass_git.sh, in bash: checks the credential git would use for the file:// URL in
 * argv, and logs one line per checked command to `<dir>/askpass-git.log` (never the password).
 */
function askpassGit(t: Scenario, password: string): { path: string; log: string } {
  const path = join(t.dir, "askpass-git");
  const log = join(t.dir, "askpass-git.log");
  const git = Bun.which("git") ?? "git";
  writeFileSync(
    path,
    `#!/bin/bash
"${git}" config --global credential.helper store
case "$1" in clone|ls-remote|fetch) ;; *) exec "${git}" "$@" ;; esac
repo=$(printf '%s\\n' "$@" | grep -o 'file://[^ ]*' | head -n 1)
out=$(printf 'url=%s\\n' "$repo" | "${git}" credential fill) || { echo "git credential fill failed for $repo" >&2; exit 1; }
user=$(grep '^username=' <<<"$out")
pass=$(grep '^password=' <<<"$out")
if [ "$user" != "username=${USER}" ] || [ "$pass" != "password=${password}" ]; then
  echo "invalid test username/password pair: $user" >&2
  exit 1
fi
echo "checked $1 $repo" >> "${log}"
exec "${git}" "$@"
`,
    { mode: 0o755 },
  );
  return { path, log };
}

/** A scenario with a $HOME of its own (the wrapper writes a global gitconfig). */
async function setup() {
  const t = await scenario();
  const home = join(t.dir, "home");
  mkdirSync(home);
  Object.assign(t.env, { HOME: home, XDG_CONFIG_HOME: join(home, ".config") });
  const password = `S3cr3t${Math.random().toString(36).slice(2, 10)}`;
  return { t, password, wrapper: askpassGit(t, password), repoURL: `file://${t.repo}` };
}

function checked(log: string): number {
  try {
    return readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("checked fetch")).length;
  } catch {
    return 0;
  }
}

function errors(r: Running): string[] {
  return jsonLines(r.stderr)
    .filter((l) => l.error !== undefined)
    .map((l) => String(l.error));
}

/**
 * The first sync and one update go through the wrapper's check; the password never reaches the
 * log. Returns the errors logged until then (the stop itself may kill a running gc).
 */
async function syncsTwice(t: Scenario, r: Running, log: string, password: string): Promise<string[]> {
  await t.waitHash(commit(t.repo, "file", "first\n"), SYNCED_WITHIN, r);
  await t.waitHash(commit(t.repo, "file", "second\n"), SYNCED_WITHIN, r);
  expect(t.read()).toBe("second\n");
  expect(checked(log)).toBeGreaterThanOrEqual(2);
  const logged = errors(r);
  await r.stop();
  expect(r.stderr).not.toContain(password);
  return logged;
}

test.concurrent("askpass URL, file:// repo: the correct password reaches `git credential fill`", async () => {
  const { t, password, wrapper, repoURL } = await setup();
  await using _ = t;
  using ap = own(startAskpassServer({ username: USER, password }));
  const r = t.spawn([`--repo=${repoURL}`, `--root=${t.root}`, "--link=link", `--git=${wrapper.path}`, `--askpass-url=${ap.url}`, ...LOOP]);
  expect(await syncsTwice(t, r, wrapper.log, password)).toEqual([]);
}, TIMEOUT);

test.concurrent("askpass URL, file:// repo: a server that alternates wrong passwords", async () => {
  const { t, password, wrapper, repoURL } = await setup();
  await using _ = t;
  using ap = own(startAskpassServer({ username: USER, password, mode: { kind: "alternate" } }));
  const r = t.spawn([`--repo=${repoURL}`, `--root=${t.root}`, "--link=link", `--git=${wrapper.path}`, `--askpass-url=${ap.url}`, ...LOOP]);
  const logged = await syncsTwice(t, r, wrapper.log, password);
  // The wrong answers were handed to git and refused by the wrapper: attempts failed and were retried.
  expect(logged.some((e) => e.includes("invalid test username/password pair"))).toBe(true);
  expect(ap.calls).toBeGreaterThanOrEqual(3);
}, TIMEOUT);

test.concurrent("askpass URL, file:// repo: a server that fails with 503 at first", async () => {
  const { t, password, wrapper, repoURL } = await setup();
  await using _ = t;
  using ap = own(startAskpassServer({ username: USER, password, mode: { kind: "status", status: 503 } }));
  const r = t.spawn([`--repo=${repoURL}`, `--root=${t.root}`, "--link=link", `--git=${wrapper.path}`, `--askpass-url=${ap.url}`, ...LOOP]);
  await waitFor("two failed attempts", () => errors(r).length >= 2, SYNCED_WITHIN);
  expect(errors(r).join("\n")).toMatch(/auth URL returned status 503|can't access auth URL/);
  expect(t.hash()).toBe("");
  ap.mode = { kind: "ok" };
  await syncsTwice(t, r, wrapper.log, password);
}, TIMEOUT);

test.concurrent("askpass URL, file:// repo: a server that starts only after ~4 s", async () => {
  const { t, password, wrapper, repoURL } = await setup();
  await using _ = t;
  const port = freePort();
  const started = Date.now();
  const r = t.spawn([`--repo=${repoURL}`, `--root=${t.root}`, "--link=link", `--git=${wrapper.path}`, `--askpass-url=http://127.0.0.1:${port}/creds`, ...LOOP]);
  await waitFor("a failed attempt", () => errors(r).length >= 1, SYNCED_WITHIN);
  expect(errors(r).join("\n")).toContain("can't access auth URL");
  await Bun.sleep(Math.max(0, 4000 - (Date.now() - started)));
  expect(t.hash()).toBe("");
  expect(r.done).toBe(false);
  using ap = own(startAskpassServer({ username: USER, password, port }));
  await syncsTwice(t, r, wrapper.log, password);
  expect(ap.calls).toBeGreaterThanOrEqual(2);
}, TIMEOUT);
