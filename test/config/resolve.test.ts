// resolveConfig end to end: exits to stdout, the v3 seed style, the upstream e2e invocation, and
// the startup flag log (behaviour.md 3 step 1).
import { describe, expect, it } from "bun:test";
import { OPTIONS, isHidden, manual, resolveConfig, usage, type Config, type ConfigResult } from "../../src/config/index.ts";

const resolve = (argv: string[], env: Record<string, string> = {}): ConfigResult =>
  resolveConfig(argv, env, { cwd: "/work/cwd", version: "v9.9.9" });

function config(argv: string[], env: Record<string, string> = {}): Config {
  const r = resolve(argv, env);
  if (r.kind !== "run") throw new Error(`expected a run, got exit ${r.code}: ${r.stderr.split("\n")[0]}`);
  return r.config;
}

describe("--version, --help, -h, -?, --man exit 0 on stdout (checked before --root)", () => {
  it.each<[string[], (out: string) => boolean]>([
    [["--version"], (o) => o === "v9.9.9\n"],
    [["--version", "--help"], (o) => o === "v9.9.9\n"],
    [["--help"], (o) => o === usage()],
    [["-h"], (o) => o === usage()],
    [["-?"], (o) => o === usage()],
    [["-h", "--man"], (o) => o === usage()],
    [["--man"], (o) => o === manual()],
    [["--man", "--root="], (o) => o.startsWith("GIT-SYNC(1)")],
    [["--depth=-5", "--help"], (o) => o.startsWith("Usage of git-sync:")],
  ])("%p", (argv, check) => {
    const r = resolve(argv);
    if (r.kind !== "exit") throw new Error("expected exit");
    expect(r.code).toBe(0);
    expect(check(r.stdout)).toBe(true);
    expect(r.stderr).toBe("");
  });
  it("env deprecation notices still go to stderr", () => {
    const r = resolve(["--version"], { GIT_SYNC_REPO: "x" });
    expect(r.kind === "exit" && r.stderr).toBe("env $GIT_SYNC_REPO has been deprecated, use $GITSYNC_REPO instead\n");
  });
  it("help shows env-provided defaults", () => {
    const r = resolve(["--help"], { GITSYNC_REF: "main" });
    expect(r.kind === "exit" && r.stdout).toContain('(default "main")');
  });
});

describe("usage lists visible options only", () => {
  const text = usage();
  it.each(OPTIONS.map((o) => [o.name, !isHidden(o)] as const))("%p", (name, shown) => {
    expect(text.includes(`--${name} `) || text.includes(`--${name}\n`)).toBe(shown);
  });
});

describe("manual", () => {
  const text = manual();
  it.each(["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "HOOKS", "AUTH", "EXIT CODES", "EXAMPLES"])("has section %p", (s) => {
    expect(text).toContain(`\n${s}\n`);
  });
  it.each(OPTIONS.filter((o) => !isHidden(o)).flatMap((o) => o.env.map((e) => [o.name, e] as const)))("%p lists $%s", (_n, env) => {
    expect(text).toContain("$" + env);
  });
  it.each(["branch", "wait", "__env__GITSYNC_PASSWORD", "__?"])("hides --%s", (name) => {
    expect(text).not.toContain(`--${name} `);
  });
});

describe("v3 seed style", () => {
  const env = {
    GIT_SYNC_REPO: "https://github.com/org/repository.git",
    GIT_SYNC_BRANCH: "main",
    GIT_SYNC_ROOT: "/shared-volume",
    GIT_SYNC_WAIT: "3",
  };
  it.each<[string, (c: Config) => unknown, unknown]>([
    ["ref", (c) => c.ref, "main"],
    ["period", (c) => c.period, 3000],
    ["link", (c) => c.link, "repository.git"],
    ["root", (c) => c.root, "/shared-volume"],
    ["repo", (c) => c.repo, "https://github.com/org/repository.git"],
  ])("%s", (_name, get, want) => {
    expect(get(config([], env))).toEqual(want);
  });
  it("warnings", () => {
    const r = resolve([], env);
    expect(r.kind === "run" && r.warnings).toEqual([
      "env $GIT_SYNC_REPO has been deprecated, use $GITSYNC_REPO instead",
      "env $GIT_SYNC_ROOT has been deprecated, use $GITSYNC_ROOT instead",
    ]);
  });
});

describe("upstream e2e invocation is accepted", () => {
  const argv = [
    "--repo=file:///tmp/repo", "--root=/tmp/root", "--one-time",
    "-v=6", "--add-user", "--group-write", "--touch-file=touch/me", "--http-bind=:1234", "--http-metrics", "--http-pprof",
    "--git-config-add=safe.directory:*", "--git-config-add=user.name:me",
  ];
  it.each<[string, (c: Config) => unknown, unknown]>([
    ["verbose", (c) => c.verbose, 6],
    ["addUser", (c) => c.addUser, true],
    ["groupWrite", (c) => c.groupWrite, true],
    ["touchFile", (c) => c.touchFile, "touch/me"],
    ["httpBind", (c) => c.httpBind, ":1234"],
    ["httpMetrics", (c) => c.httpMetrics, true],
    ["httpPprof", (c) => c.httpPprof, true],
    ["gitConfigAdd", (c) => c.gitConfigAdd, ["safe.directory:*", "user.name:me"]],
    ["link", (c) => c.link, "repo"],
  ])("%s", (_name, get, want) => {
    expect(get(config(argv))).toEqual(want);
  });
});

describe("flag log", () => {
  // --username forbids userinfo in --repo, so those rows use a plain URL.
  const log = (argv: string[], env: Record<string, string> = {}) => {
    const repo = argv.includes("--username=u") ? "https://example.com/r.git" : "https://user:secret@example.com/r.git";
    return config([`--repo=${repo}`, "--root=/tmp/root", ...argv], env).flagLog;
  };
  const find = (argv: string[], name: string, env: Record<string, string> = {}) => log(argv, env).find((f) => f.name === name);

  it.each<[string[], string, Record<string, string>, { text: string; changed: boolean; empty: boolean } | undefined]>([
    [[], "repo", {}, { text: "--repo=https://REDACTED@example.com/r.git", changed: true, empty: false }],
    [[], "ref", {}, { text: "--ref=HEAD", changed: false, empty: false }],
    [["--branch=dev"], "ref", {}, { text: "--ref=dev", changed: false, empty: false }],
    [[], "link", {}, { text: "--link=r.git", changed: false, empty: false }],
    [[], "period", {}, { text: "--period=10s", changed: false, empty: false }],
    [["--period=90s"], "period", {}, { text: "--period=1m30s", changed: true, empty: false }],
    [[], "sync-timeout", {}, { text: "--sync-timeout=2m0s", changed: false, empty: false }],
    [[], "filter", {}, { text: "--filter=", changed: false, empty: true }],
    [[], "one-time", { GITSYNC_ONE_TIME: "true" }, { text: "--one-time=true", changed: false, empty: false }],
    [["-v", "2"], "verbose", {}, { text: "--verbose=2", changed: true, empty: false }],
    [[], "ssh-key-file", {}, { text: "--ssh-key-file=[/etc/git-secret/ssh]", changed: false, empty: false }],
    [["--git-config-add=a:b", "--git-config-add=c:d"], "git-config-add", {}, { text: "--git-config-add=[a:b,c:d]", changed: true, empty: false }],
    [
      ['--credential={"url":"https://x","username":"u","password":"hunter2"}'],
      "credential",
      {},
      { text: '--credential=[{"url":"https://x","username":"u","password":"REDACTED"}]', changed: true, empty: false },
    ],
    [
      ['--credential={"url":"https://x","username":"u","password-file":"/f"}'],
      "credential",
      {},
      { text: '--credential=[{"url":"https://x","username":"u","password-file":"/f"}]', changed: true, empty: false },
    ],
    [["--git-config=http.extraHeader:Authorization: Bearer t0k,core.abbrev:12"], "git-config", {}, { text: "--git-config=http.extraHeader:REDACTED,core.abbrev:12", changed: true, empty: false }],
    [["--git-config-add=http.extraHeader:Bearer t0k", "--git-config-add=c:d"], "git-config-add", {}, { text: "--git-config-add=[http.extraHeader:REDACTED,c:d]", changed: true, empty: false }],
    [["--git-config=password-but-no-colon"], "git-config", {}, { text: "--git-config=REDACTED", changed: true, empty: false }],
    [["--webhook-url=https://hook:pw@example.com/x"], "webhook-url", {}, { text: "--webhook-url=https://REDACTED@example.com/x", changed: true, empty: false }],
    [["--askpass-url=http://a:pw@127.0.0.1/"], "askpass-url", {}, { text: "--askpass-url=http://REDACTED@127.0.0.1/", changed: true, empty: false }],
    [["--askpass-url=http://127.0.0.1/creds?access_token=t0k"], "askpass-url", {}, { text: "--askpass-url=http://127.0.0.1/creds?REDACTED", changed: true, empty: false }],
    [
      ['--credential={"url":"https://tok@x/r","username":"u","password":"p"}'],
      "credential",
      {},
      { text: '--credential=[{"url":"https://REDACTED@x/r","username":"u","password":"REDACTED"}]', changed: true, empty: false },
    ],
    [["--git-config=url.https://tok@github.com/.insteadOf:https://github.com/"], "git-config", {}, { text: "--git-config=url.https://REDACTED@github.com/.insteadOf:https://github.com/", changed: true, empty: false }],
    [["--webhook-header=Authorization: Bearer t0k", "--webhook-header=X-Env: prod"], "webhook-header", {}, { text: "--webhook-header=[Authorization: REDACTED,X-Env: prod]", changed: true, empty: false }],
    [["--wait=1"], "wait", {}, undefined],
    [["--password=p", "--username=u"], "password", {}, undefined],
    [[], "__env__GITSYNC_PASSWORD", {}, undefined],
    [[], "__?", {}, undefined],
    [[], "v", {}, undefined],
  ])("%p %p %p", (argv, name, env, want) => {
    const entry = find(argv, name, env);
    expect(entry === undefined ? undefined : { text: entry.text, changed: entry.changed, empty: entry.empty }).toEqual(want);
  });

  it("is sorted by name", () => {
    const names = log([]).map((f) => f.name);
    expect(names).toEqual([...names].sort());
  });
  it("never contains a secret", () => {
    const all = JSON.stringify(
      log(["--username=u", "--password=pw-flag-s3kr1t", '--credential={"url":"https://x","username":"u","password":"cred-s3kr1t"}'], {
        GITSYNC_GITHUB_APP_PRIVATE_KEY: "pem-s3kr1t",
      }),
    );
    expect(all).not.toMatch(/s3kr1t/);
  });
});
