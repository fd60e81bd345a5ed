// behaviour.md 2.4: derived values and every validation message, with exit code and error file.
import { describe, expect, it } from "bun:test";
import { SEE_HELP, defaultLinkName, makeAbsPath, resolveConfig, resolveSignal, type Config, type ConfigResult } from "../../src/config/index.ts";

const REPO = "--repo=https://example.com/org/repo.git";
const ROOT = "--root=/tmp/root";
const resolve = (argv: string[], env: Record<string, string> = {}, cwd = "/work/cwd"): ConfigResult =>
  resolveConfig(argv, env, { cwd, version: "v9.9.9" });

function config(argv: string[], env: Record<string, string> = {}, cwd?: string): Config {
  const r = resolve(argv, env, cwd);
  if (r.kind !== "run") throw new Error(`expected a run, got exit ${r.code}: ${r.stderr.split("\n")[0]}`);
  return r.config;
}

const KEY = "--__env__GITSYNC_GITHUB_APP_PRIVATE_KEY=pem";
const CRED = (o: Record<string, string>) => `--credential=${JSON.stringify(o)}`;

describe("fatal config errors: message and where the usage is; error file; exit 1", () => {
  it.each<[string[], Record<string, string>, string]>([
    [[ROOT], {}, "required flag: --repo must be specified"],
    [[ROOT, "--repo="], {}, "required flag: --repo must be specified"],
    [[ROOT, REPO, "--branch=b", "--rev=r"], {}, "deprecated flag combo: can't set --ref from deprecated --branch and --rev (one or the other is OK)"],
    [[ROOT, REPO, "--ref="], {}, "required flag: --ref must be specified"],
    [[ROOT, REPO], { GITSYNC_REF: "" }, "required flag: --ref must be specified"],
    [[ROOT, REPO, "--depth=-1"], {}, "invalid flag: --depth must be greater than or equal to 0"],
    [[ROOT, REPO, "--submodules=Recursive"], {}, 'invalid flag: --submodules must be one of "recursive", "shallow", or "off"'],
    [[ROOT, REPO, "--git-gc=never"], {}, 'invalid flag: --git-gc must be one of "auto", "always", "aggressive", or "off"'],
    [[ROOT, REPO, "--period=9ms"], {}, "invalid flag: --period must be at least 10ms"],
    [[ROOT, REPO, "--period=0"], {}, "invalid flag: --period must be at least 10ms"],
    [[ROOT, REPO, "--wait=0.001"], {}, "invalid flag: --period must be at least 10ms"],
    [[ROOT, REPO, "--init-period=5ms"], {}, "invalid flag: --init-period must be at least 10ms"],
    [[ROOT, REPO, "--init-period=-1s"], {}, "invalid flag: --init-period must be at least 10ms"],
    [[ROOT, REPO, "--change-permissions=0775"], {}, "deprecated flag: --change-permissions is no longer supported"],
    [[ROOT, REPO], { GIT_SYNC_PERMISSIONS: "1" }, "deprecated flag: --change-permissions is no longer supported"],
    [[ROOT, REPO, "--sync-on-signal=sighup"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-on-signal=0"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-on-signal=SIGFOO"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-on-signal=SIGKILL"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-on-signal=STOP"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-on-signal=9"], {}, "invalid flag: --sync-on-signal must be a valid signal name or number"],
    [[ROOT, REPO, "--sync-timeout=5ms"], {}, "invalid flag: --sync-timeout must be at least 10ms"],
    [[ROOT, REPO, "--timeout=-1"], {}, "invalid flag: --sync-timeout must be at least 10ms"],
    [[ROOT, REPO, "--exechook-command=/x", "--exechook-timeout=999ms"], {}, "invalid flag: --exechook-timeout must be at least 1s"],
    [[ROOT, REPO, "--exechook-command=/x", "--exechook-backoff=0"], {}, "invalid flag: --exechook-backoff must be at least 1s"],
    [[ROOT, REPO, "--sync-hook-command=/x", "--exechook-timeout=0"], {}, "invalid flag: --exechook-timeout must be at least 1s"],
    [[ROOT, REPO, '--exechook-argv=["/x"]', "--exechook-backoff=0"], {}, "invalid flag: --exechook-backoff must be at least 1s"],
    [[ROOT, REPO, "--pre-publish-exechook-command=/x", "--pre-publish-exechook-timeout=0"], {}, "invalid flag: --pre-publish-exechook-timeout must be at least 1s"],
    [[ROOT, REPO, "--pre-publish-exechook-command=/x", "--pre-publish-exechook-backoff=1ms"], {}, "invalid flag: --pre-publish-exechook-backoff must be at least 1s"],
    [[ROOT, REPO, '--pre-publish-exechook-argv=["/x"]', "--pre-publish-exechook-timeout=0"], {}, "invalid flag: --pre-publish-exechook-timeout must be at least 1s"],
    [[ROOT, REPO, "--exechook-argv=/bin/echo"], {}, 'invalid flag: --exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, "--exechook-argv=[]"], {}, 'invalid flag: --exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, '--exechook-argv=["/x",1]'], {}, 'invalid flag: --exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, '--exechook-argv={"a":"b"}'], {}, 'invalid flag: --exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, '--exechook-argv=[""]'], {}, 'invalid flag: --exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, "--pre-publish-exechook-argv=x"], {}, 'invalid flag: --pre-publish-exechook-argv must be a JSON array of strings, e.g. ["/bin/echo","hi"]'],
    [[ROOT, REPO, "--exechook-command=/x", '--exechook-argv=["/y"]'], {}, "invalid flag: only one of --exechook-command and --exechook-argv may be specified"],
    [[ROOT, REPO, "--sync-hook-command=/x", '--exechook-argv=["/y"]'], {}, "invalid flag: only one of --exechook-command and --exechook-argv may be specified"],
    [[ROOT, REPO, "--pre-publish-exechook-command=/x", '--pre-publish-exechook-argv=["/y"]'], {}, "invalid flag: only one of --pre-publish-exechook-command and --pre-publish-exechook-argv may be specified"],
    [[ROOT, REPO, "--pre-publish-exechook-gate"], {}, "invalid flag: --pre-publish-exechook-gate requires --pre-publish-exechook-command or --pre-publish-exechook-argv"],
    [[ROOT, REPO, "--pre-publish-exechook-gate", "--exechook-command=/x"], {}, "invalid flag: --pre-publish-exechook-gate requires --pre-publish-exechook-command or --pre-publish-exechook-argv"],
    [[ROOT, REPO, "--webhook-url=http://h", "--webhook-success-status=-2"], {}, "invalid flag: --webhook-success-status must be a valid HTTP code or 0"],
    [[ROOT, REPO, "--webhook-url=http://h", "--webhook-timeout=500ms"], {}, "invalid flag: --webhook-timeout must be at least 1s"],
    [[ROOT, REPO, "--webhook-url=http://h", "--webhook-backoff=0"], {}, "invalid flag: --webhook-backoff must be at least 1s"],
    [[ROOT, REPO, "--webhook-header=NoColon"], {}, 'invalid flag: --webhook-header must look like "Name: value"'],
    [[ROOT, REPO, "--webhook-header=: value"], {}, 'invalid flag: --webhook-header must look like "Name: value"'],
    [[ROOT, REPO, "--webhook-header=Bad Name: v"], {}, 'invalid flag: --webhook-header must look like "Name: value"'],
    // --peers (issue 23): peers reach each other at --http-bind's port and prove the mirror's secret.
    [[ROOT, REPO, "--peers=peers"], {}, "required flag: --http-bind must be specified when --peers is set (peers reach each other at its port)"],
    [[ROOT, REPO, "--peers=peers", "--http-bind=:8080"], {}, "required flag: --peers needs --serve-git (followers fetch from the owner's /git)"],
    [[ROOT, REPO, "--http-bind=:8080", "--serve-git", "--serve-git-anonymous"], { GITSYNC_PEERS: "peers" }, "required flag: --peers needs --serve-git-secret-file (every request between peers proves the secret)"],
    [[ROOT, REPO, "--peers=http://peers", "--http-bind=:8080", "--serve-git", "--serve-git-secret-file=/s"], {}, 'invalid flag: --peers must be a DNS name, not "http://peers"'],
    [[ROOT, REPO, "--peers=peers:8080", "--http-bind=:8080", "--serve-git", "--serve-git-secret-file=/s"], {}, 'invalid flag: --peers must be a DNS name, not "peers:8080"'],
    [[ROOT, REPO, "--username=u"], {}, "required flag: $GITSYNC_PASSWORD or --password-file must be specified when --username is specified"],
    [[ROOT, REPO, "--username=u", "--password-file=/f"], { GITSYNC_PASSWORD: "p" }, "invalid flag: only one of $GITSYNC_PASSWORD and --password-file may be specified"],
    [[ROOT, REPO, "--username=u", "--password=p", "--password-file=/f"], {}, "invalid flag: only one of $GITSYNC_PASSWORD and --password-file may be specified"],
    [[ROOT, "--repo=https://a:b@example.com/r", "--username=u", "--password-file=/f"], {}, "invalid flag: credentials may not be specified in --repo when --username is specified"],
    [[ROOT, "--repo=https://a@example.com/r", "--username=u", "--password-file=/f"], {}, "invalid flag: credentials may not be specified in --repo when --username is specified"],
    [[ROOT, REPO], { GITSYNC_PASSWORD: "p" }, "invalid flag: $GITSYNC_PASSWORD may only be specified when --username is specified"],
    [[ROOT, REPO, "--password=p"], {}, "invalid flag: $GITSYNC_PASSWORD may only be specified when --username is specified"],
    [[ROOT, REPO, "--password-file=/f"], {}, "invalid flag: --password-file may only be specified when --username is specified"],
    [[ROOT, REPO, "--github-app-application-id=1", "--github-app-client-id=c", "--github-app-installation-id=2", KEY], {}, "invalid flag: only one of --github-app-application-id or --github-app-client-id may be specified"],
    [[ROOT, REPO, "--github-app-application-id=1", KEY], {}, "invalid flag: --github-app-installation-id must be specified when --github-app-application-id or --github-app-client-id are specified"],
    [[ROOT, REPO, "--github-app-client-id=c", "--github-app-installation-id=2"], {}, "invalid flag: $GITSYNC_GITHUB_APP_PRIVATE_KEY or --github-app-private-key-file must be specified when --github-app-application-id or --github-app-client-id are specified"],
    [[ROOT, REPO, "--github-app-client-id=c", "--github-app-installation-id=2", KEY, "--github-app-private-key-file=/k"], {}, "invalid flag: only one of $GITSYNC_GITHUB_APP_PRIVATE_KEY or --github-app-private-key-file may be specified"],
    [[ROOT, REPO, "--github-app-client-id=c", "--github-app-installation-id=2", KEY, "--username=u", "--password-file=/f"], {}, "invalid flag: --username may not be specified when --github-app-private-key-file is specified"],
    [[ROOT, REPO, "--github-app-installation-id=2"], {}, "invalid flag: --github-app-installation-id may only be specified when --github-app-private-key-file is specified"],
    [[ROOT, REPO, CRED({ username: "u", password: "p" })], {}, "invalid flag: --credential URL must be specified"],
    [[ROOT, REPO, CRED({ url: "https://x", password: "p" })], {}, "invalid flag: --credential username must be specified"],
    [[ROOT, REPO, CRED({ url: "https://x", username: "u" })], {}, "invalid flag: --credential password or password-file must be specified"],
    [[ROOT, REPO, CRED({ url: "https://x", username: "u", password: "p", "password-file": "/f" })], {}, "invalid flag: only one of --credential password and password-file may be specified"],
    [[ROOT, REPO], { GITSYNC_CREDENTIAL: JSON.stringify({ url: "https://x" }) }, "invalid flag: --credential username must be specified"],
    [[ROOT, REPO, "--http-metrics"], {}, "required flag: --http-bind must be specified when --http-metrics is set"],
    [[ROOT, REPO, "--http-pprof"], {}, "required flag: --http-bind must be specified when --http-pprof is set"],
    [[ROOT, REPO, "--http-sync-secret-file=/s"], {}, "required flag: --http-bind must be specified when --http-sync-secret-file is set"],
    [[ROOT, REPO, "--readiness-max-failures=-1"], {}, "invalid flag: --readiness-max-failures must be greater than or equal to 0"],
    [[ROOT, REPO, "--readiness-max-age=-1s"], {}, "invalid flag: --readiness-max-age must be greater than or equal to 0"],
    [[ROOT, REPO, "--http-sync-min-interval=-1s"], {}, "invalid flag: --http-sync-min-interval must be greater than or equal to 0"],
    [[ROOT, REPO, "--log-format=logfmt"], {}, 'invalid flag: --log-format must be one of "json" or "text"'],
    [[ROOT, REPO, "--log-format=Text"], {}, 'invalid flag: --log-format must be one of "json" or "text"'],
    [[ROOT, REPO, "--log-format="], {}, 'invalid flag: --log-format must be one of "json" or "text"'],
    [[ROOT, REPO], { GITSYNC_LOG_FORMAT: "" }, 'invalid flag: --log-format must be one of "json" or "text"'],
  ])("%p %p", (argv, env, msg) => {
    const r = resolve([...argv, "--error-file=errs/e.txt"], env);
    if (r.kind !== "exit") throw new Error(`expected exit for ${msg}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    // Deprecated flags used to provoke the error print their notice first.
    const at = lines.indexOf(msg);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines.slice(at + 1)).toEqual([SEE_HELP, ""]);
    expect(r.errorFile).toEqual({ path: "/tmp/root/errs/e.txt", content: msg });
  });
});

describe("the first failure wins", () => {
  it.each<[string[], string]>([
    [[ROOT, "--depth=-1"], "required flag: --repo must be specified"],
    [[ROOT, REPO, "--depth=-1", "--git-gc=x"], "invalid flag: --depth must be greater than or equal to 0"],
    [[ROOT, REPO, "--period=1ms", "--sync-timeout=1ms"], "invalid flag: --period must be at least 10ms"],
    [[ROOT, REPO, "--http-metrics", "--username=u"], "required flag: $GITSYNC_PASSWORD or --password-file must be specified when --username is specified"],
  ])("%p", (argv, msg) => {
    const r = resolve(argv);
    expect(r.kind === "exit" && r.stderr.split("\n")[0]).toBe(msg);
  });
});

describe("missing --root: message and where the usage is, exit 1, no error file", () => {
  it.each<[string[], Record<string, string>]>([
    [[REPO], {}],
    [[REPO, "--root="], {}],
    [[REPO, "--error-file=/tmp/e"], {}],
    [[REPO], { GITSYNC_ROOT: "" }],
    [[REPO, "--root="], { GITSYNC_ROOT: "/git" }],
  ])("%p %p", (argv, env) => {
    const r = resolve(argv, env);
    if (r.kind !== "exit") throw new Error("expected exit");
    expect(r.code).toBe(1);
    expect(r.stderr).toEndWith(`required flag: --root must be specified\n${SEE_HELP}\n`);
    expect(r.stderr).not.toContain("Usage of git-sync:");
    expect(r.errorFile).toBeUndefined();
  });
});

describe("--peers", () => {
  it("is off by default and takes a DNS name, short or qualified, from the flag or GITSYNC_PEERS", () => {
    const base = [ROOT, REPO, "--http-bind=:8080", "--serve-git", "--serve-git-secret-file=/s"];
    expect(config(base).peers).toBe("");
    expect(config([...base, "--peers=git-sync-peers"]).peers).toBe("git-sync-peers");
    expect(config(base, { GITSYNC_PEERS: "git-sync-peers.apps.svc.cluster.local." }).peers).toBe("git-sync-peers.apps.svc.cluster.local.");
  });
});

describe("derived values", () => {
  it.each<[string[], Record<string, string>, (c: Config) => unknown, unknown]>([
    [[REPO, "--root=../../x/../../x"], {}, (c) => c.root, "/x"],
    [[REPO, "--root=rel//dir/"], {}, (c) => c.root, "/work/cwd/rel/dir"],
    [[REPO, "--root=/a/./b/../c/"], {}, (c) => c.root, "/a/c"],
    [[REPO, "--root=/"], {}, (c) => c.root, "/"],
    [[REPO, ROOT, "--error-file=e"], {}, (c) => c.errorFile, "/tmp/root/e"],
    [[REPO, "--root=r", "--error-file=../e/"], {}, (c) => c.errorFile, "/work/cwd/e"],
    [[REPO, ROOT, "--error-file=/abs/e"], {}, (c) => c.errorFile, "/abs/e"],
    [[REPO, ROOT], {}, (c) => c.errorFile, ""],
    [[REPO, ROOT], {}, (c) => c.link, "repo.git"],
    [[ROOT, "--repo=git@github.com:foo/bar"], {}, (c) => c.link, "bar"],
    [[ROOT, "--repo=git@host:repo"], {}, (c) => c.link, "git@host:repo"],
    [[ROOT, "--repo=/srv/git/project/"], {}, (c) => c.link, "project"],
    [[REPO, ROOT, "--link=mylink"], {}, (c) => c.link, "mylink"],
    [[REPO, ROOT, "--link=a", "--dest=d"], {}, (c) => c.link, "d"],
    [[REPO, ROOT, "--touch-file=t"], {}, (c) => c.touchFile, "t"],
    [[REPO, ROOT, "--branch=b"], {}, (c) => c.ref, "b"],
    [[REPO, ROOT, "--branch=b", "--rev=HEAD"], {}, (c) => c.ref, "b"],
    [[REPO, ROOT, "--ref=x", "--branch=b"], {}, (c) => c.ref, "b"],
    [[REPO, ROOT, "--rev=r"], {}, (c) => c.ref, "r"],
    [[REPO, ROOT, "--ref=x", "--rev=HEAD"], {}, (c) => c.ref, "HEAD"],
    [[REPO, ROOT], {}, (c) => c.ref, "HEAD"],
    [[REPO, ROOT, "--wait=1.5"], {}, (c) => c.period, 1500],
    [[REPO, ROOT, "--wait=0.0105"], {}, (c) => c.period, 10],
    [[REPO, ROOT, "--period=1ms", "--wait=1"], {}, (c) => c.period, 1000],
    [[REPO, ROOT, "--period=20s"], {}, (c) => c.initPeriod, 20_000],
    [[REPO, ROOT, "--init-period=1s"], {}, (c) => c.initPeriod, 1000],
    [[REPO, ROOT, "--timeout=5"], {}, (c) => c.syncTimeout, 5000],
    [[REPO, ROOT], {}, (c) => c.syncTimeout, 120_000],
    [[REPO, ROOT, "--max-failures=3", "--max-sync-failures=5"], {}, (c) => c.maxFailures, 5],
    [[REPO, ROOT, "--max-failures=-1"], {}, (c) => c.maxFailures, -1],
    [[REPO, ROOT, "--exechook-command=/a", "--sync-hook-command=/b"], {}, (c) => c.exechook.command, "/b"],
    [[REPO, ROOT, "--exechook-timeout=0"], {}, (c) => c.exechook.timeout, 0],
    [[REPO, ROOT, '--pre-publish-exechook-argv=["/p","1"]', "--pre-publish-exechook-gate"], {}, (c) => c.prePublish, { command: "", argv: ["/p", "1"], timeout: 30_000, backoff: 3000, gate: true }],
    [[REPO, ROOT, "--webhook-url=http://h", "--webhook-success-status=-1"], {}, (c) => c.webhook.successStatus, 0],
    [[REPO, ROOT, "--webhook-success-status=-5", "--webhook-timeout=0"], {}, (c) => c.webhook.url, ""],
    [[REPO, ROOT, "--webhook-url=http://h", "--webhook-success-status=204", "--webhook-method=PUT"], {}, (c) => [c.webhook.successStatus, c.webhook.method], [204, "PUT"]],
    [[REPO, ROOT, "--webhook-payload", "--webhook-signature-secret-file=/s"], {}, (c) => [c.webhook.payload, c.webhook.signatureSecretFile], [true, "/s"]],
    [[REPO, ROOT, "--sync-on-signal=SIGHUP"], {}, (c) => c.syncOnSignal, "SIGHUP"],
    [[REPO, ROOT, "--sync-on-signal=HUP"], {}, (c) => c.syncOnSignal, "SIGHUP"],
    [[REPO, ROOT, "--sync-on-signal=1"], {}, (c) => c.syncOnSignal, "SIGHUP"],
    [[REPO, ROOT, "--sync-on-signal=0xa"], {}, (c) => c.syncOnSignal, "SIGUSR1"],
    [[REPO, ROOT, "--sync-on-signal=USR2"], {}, (c) => c.syncOnSignal, "SIGUSR2"],
    [[REPO, ROOT, "--sync-on-signal=SIGTERM"], {}, (c) => c.syncOnSignal, "SIGTERM"],
    [[REPO, ROOT, "--v=6"], {}, (c) => c.verbose, 6],
    [[REPO, ROOT, "--username=u", "--password=p"], {}, (c) => [c.username, c.password], ["u", "p"]],
    [[REPO, ROOT, "--username=u", "--password=p"], { GITSYNC_PASSWORD: "env" }, (c) => c.password, "p"],
    [[REPO, ROOT, "--username=u", "--password-file=/f"], {}, (c) => c.passwordFile, "/f"],
    [[ROOT, "--repo=git@github.com:a/b", "--username=u", "--password-file=/f"], {}, (c) => c.username, "u"],
    [[REPO, ROOT, "--github-app-application-id=1", "--github-app-installation-id=2", KEY], {}, (c) => [c.githubAppApplicationID, c.githubAppInstallationID, c.githubAppPrivateKey], [1, 2, "pem"]],
    [[REPO, ROOT, "--github-app-client-id=c", "--github-app-installation-id=2", "--github-app-private-key-file=/k"], {}, (c) => c.githubAppClientID, "c"],
    [[REPO, ROOT, "--github-app-private-key-file=/k"], {}, (c) => c.githubAppPrivateKeyFile, "/k"],
    [[REPO, ROOT, "--http-bind=:8080", "--http-metrics", "--http-pprof"], {}, (c) => [c.httpBind, c.httpMetrics, c.httpPprof], [":8080", true, true]],
    [[REPO, ROOT, "--cookie-file"], {}, (c) => c.cookieFile, true],
    [[REPO, ROOT, "--ssh-known-hosts=false"], {}, (c) => c.sshKnownHosts, false],
    [[REPO, ROOT, "--git-config=a:b", "--git=/usr/bin/git"], {}, (c) => [c.gitConfig, c.git], ["a:b", "/usr/bin/git"]],
    [[REPO, ROOT, "--stale-worktree-timeout=-5s"], {}, (c) => c.staleWorktreeTimeout, -5000],
    [[REPO, ROOT, "--readiness-max-failures=3", "--readiness-max-age=1m"], {}, (c) => [c.readinessMaxFailures, c.readinessMaxAge], [3, 60_000]],
    [[REPO, ROOT], {}, (c) => [c.httpSyncSecretFile, c.httpSyncMinInterval], ["", 1_000]],
    [[REPO, ROOT, "--http-bind=:80", "--http-sync-secret-file=/s", "--http-sync-min-interval=250ms"], {}, (c) => [c.httpSyncSecretFile, c.httpSyncMinInterval], ["/s", 250]],
    [[REPO, ROOT, "--http-sync-min-interval=0"], {}, (c) => c.httpSyncMinInterval, 0],
    [[REPO, ROOT], {}, (c) => c.logFormat, "auto"],
    [[REPO, ROOT, "--log-format=text"], {}, (c) => c.logFormat, "text"],
    [[REPO, ROOT], { GITSYNC_LOG_FORMAT: "json" }, (c) => c.logFormat, "json"],
    [[REPO, ROOT, "--log-format=json"], { GITSYNC_LOG_FORMAT: "text" }, (c) => c.logFormat, "json"],
  ])("%p %p", (argv, env, get, want) => {
    expect(get(config(argv, env))).toEqual(want);
  });
});

describe("back-compat override logs", () => {
  it.each<[string[], string[]]>([
    [["--branch=b"], ["setting --ref from deprecated --branch"]],
    [["--rev=r"], ["setting --ref from deprecated --rev"]],
    [["--dest=d"], ["setting --link from deprecated --dest"]],
    [["--wait=1"], ["setting --period from deprecated --wait"]],
    [["--timeout=3"], ["setting --sync-timeout from deprecated --timeout"]],
    [["--max-sync-failures=2"], ["setting --max-failures from deprecated --max-sync-failures"]],
    [["--sync-hook-command=/h"], ["setting --exechook-command from deprecated --sync-hook-command"]],
    [["--username=u", "--password=p"], ["setting $GITSYNC_PASSWORD from deprecated --password"]],
    [[], []],
  ])("%p", (argv, logs) => {
    const r = resolve([REPO, ROOT, ...argv]);
    expect(r.kind === "run" && r.logs).toEqual(logs);
  });
});

describe("resolveSignal", () => {
  it.each<[string, string | undefined]>([
    ["SIGHUP", "SIGHUP"], ["HUP", "SIGHUP"], ["1", "SIGHUP"], ["SIGUSR1", "SIGUSR1"], ["012", "SIGUSR1"], ["0xc", "SIGUSR2"], ["SIGINT", "SIGINT"],
    ["sighup", undefined], ["hup", undefined], ["0", undefined], ["-1", undefined], ["999", undefined], ["SIGKILL", undefined],
    ["KILL", undefined], ["9", undefined], ["SIGSTOP", undefined], ["19", undefined], ["", undefined], [" SIGHUP", undefined],
  ])("%p -> %p", (input, want) => {
    expect(resolveSignal(input)).toBe(want);
  });
});

describe("defaultLinkName", () => {
  it.each<[string, string]>([
    ["https://github.com/org/repository.git", "repository.git"],
    ["https://github.com/org/repository/", "repository"],
    ["git@github.com:foo/bar", "bar"],
    ["git@host:repo", "git@host:repo"],
    ["/local/path//", "path"],
    ["ssh://git@host:22/a/b.git", "b.git"],
  ])("%p -> %p", (repo, want) => {
    expect(defaultLinkName(repo)).toBe(want);
  });
});

describe("makeAbsPath", () => {
  it.each<[string, string, string]>([
    ["", "/root", ""],
    ["/abs", "/root", "/abs"],
    ["rel", "/root", "/root/rel"],
    ["a/../b/", "/root", "/root/b"],
    ["../up", "/root/x", "/root/up"],
  ])("%p in %p -> %p", (p, root, want) => {
    expect(makeAbsPath(p, root)).toBe(want);
  });
});
