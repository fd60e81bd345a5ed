// pflag syntax and env precedence (behaviour.md 2.1), through the public resolveConfig entry.
import { describe, expect, it } from "bun:test";
import { SEE_HELP, resolveConfig, type Config, type ConfigResult } from "../../src/config/index.ts";

const BASE = ["--repo=https://example.com/org/repo.git", "--root=/tmp/root"];
const resolve = (argv: string[], env: Record<string, string> = {}): ConfigResult =>
  resolveConfig(argv, env, { cwd: "/work/cwd", version: "v9.9.9" });

function config(argv: string[], env: Record<string, string> = {}): Config {
  const r = resolve([...BASE, ...argv], env);
  if (r.kind !== "run") throw new Error(`expected a run, got exit ${r.code}: ${r.stderr.split("\n")[0]}`);
  return r.config;
}

function exit(argv: string[], env: Record<string, string> = {}) {
  const r = resolve(argv, env);
  if (r.kind !== "exit") throw new Error("expected an exit");
  return r;
}

describe("pflag syntax accepted", () => {
  it.each<[string[], (c: Config) => unknown, unknown]>([
    [["--ref=main"], (c) => c.ref, "main"],
    [["--ref", "main"], (c) => c.ref, "main"],
    [["--ref="], (c) => c.ref, "fails"],
    [["--one-time"], (c) => c.oneTime, true],
    [["--one-time=false"], (c) => c.oneTime, false],
    [["--one-time=0"], (c) => c.oneTime, false],
    [["--one-time=T"], (c) => c.oneTime, true],
    [["--one-time", "false"], (c) => c.oneTime, true],
    [["-v", "3"], (c) => c.verbose, 3],
    [["-v=3"], (c) => c.verbose, 3],
    [["-v3"], (c) => c.verbose, 3],
    [["--verbose=5"], (c) => c.verbose, 5],
    [["--verbose", "0x6"], (c) => c.verbose, 6],
    [["-v", "3", "--v=7"], (c) => c.verbose, 7],
    [["--v=-1", "-v2"], (c) => c.verbose, 2],
    [["--depth=010"], (c) => c.depth, 8],
    [["--period=1m30s"], (c) => c.period, 90_000],
    [["--period", "100ms"], (c) => c.period, 100],
    [["positional", "--ref=x", "another"], (c) => c.ref, "x"],
    [["--", "--ref=x"], (c) => c.ref, "HEAD"],
    [["--", "--no-such-flag"], (c) => c.ref, "HEAD"],
    [["-"], (c) => c.ref, "HEAD"],
    [["--ref", "--depth=3"], (c) => c.ref, "--depth=3"],
    [["--git-config-add=a:1", "--git-config-add", "b:2"], (c) => c.gitConfigAdd, ["a:1", "b:2"]],
    [["--ssh-key-file=/k1"], (c) => c.sshKeyFiles, ["/k1"]],
    [["--ssh-key-file=/k1", "--ssh-key-file=/k2"], (c) => c.sshKeyFiles, ["/k1", "/k2"]],
    [["--webhook-header=A: 1", "--webhook-header", "B:2"], (c) => c.webhook.headers, [["A", "1"], ["B", "2"]]],
    [["--ssh"], (c) => c.ref, "HEAD"],
    [["--wait=0.1"], (c) => c.period, 100],
    [["--__env__GITSYNC_PASSWORD=pw", "--username=u"], (c) => c.password, "pw"],
    [["--__env__GITSYNC_GITHUB_APP_PRIVATE_KEY=pem"], (c) => c.githubAppPrivateKey, "pem"],
    [["-h=false"], (c) => c.ref, "HEAD"],
    [["--help=false", "--version=0", "--man=f"], (c) => c.ref, "HEAD"],
  ])("%p", (argv, get, want) => {
    if (want === "fails") {
      expect(resolve([...BASE, ...argv]).kind).toBe("exit");
      return;
    }
    expect(get(config(argv))).toEqual(want);
  });
});

describe("pflag errors exit 2 with the error and where the usage is (upstream: the usage itself)", () => {
  it.each<[string[], string]>([
    [["--foo"], "unknown flag: --foo"],
    [["--foo=bar"], "unknown flag: --foo"],
    [["--logtostderr"], "unknown flag: --logtostderr"],
    [["--log_dir=/x"], "unknown flag: --log_dir"],
    [["-repo=x"], "unknown shorthand flag: 'r' in -repo=x"],
    [["-x"], "unknown shorthand flag: 'x' in -x"],
    [["-hx"], "unknown shorthand flag: 'x' in -x"],
    [["--ref"], "flag needs an argument: --ref"],
    [["-v"], "flag needs an argument: 'v' in -v"],
    [["---x"], "bad flag syntax: ---x"],
    [["--=x"], "bad flag syntax: --=x"],
    [["--depth=abc"], 'invalid argument "abc" for "--depth" flag: strconv.ParseInt: parsing "abc": invalid syntax'],
    [["-v", "x"], 'invalid argument "x" for "-v, --verbose" flag: strconv.ParseInt: parsing "x": invalid syntax'],
    [["--one-time=yes"], 'invalid argument "yes" for "--one-time" flag: strconv.ParseBool: parsing "yes": invalid syntax'],
    [["--one-time="], 'invalid argument "" for "--one-time" flag: strconv.ParseBool: parsing "": invalid syntax'],
    [["--period=10"], 'invalid argument "10" for "--period" flag: time: missing unit in duration "10"'],
    [["--period=1d"], 'invalid argument "1d" for "--period" flag: time: unknown unit "d" in duration "1d"'],
    [["--wait=x"], 'invalid argument "x" for "--wait" flag: strconv.ParseFloat: parsing "x": invalid syntax'],
    [["--credential=nope"], 'invalid argument "nope" for "--credential" flag: not a JSON object or list'],
    [["--credential={\"url\":\"u\",\"bogus\":1}"], 'for "--credential" flag: json: unknown field "bogus"'],
    [["--credential={\"url\":1}"], "json: cannot unmarshal number into Go struct field credential.url of type string"],
    [["--credential={"], 'invalid argument "{" for "--credential" flag: invalid JSON'],
    [["--credential={\"url\":\"u\",\"password\":\"s3cr\\\"et\",\"bogus\":1}"], 'invalid argument "{\\"url\\":\\"u\\",\\"password\\":\\"REDACTED\\",\\"bogus\\":1}" for "--credential" flag: json: unknown field "bogus"'],
    [["--help", "--foo"], "unknown flag: --foo"],
  ])("%p", (argv, msg) => {
    const r = exit([...BASE, ...argv]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines[0]).toContain(msg);
    expect(lines.slice(1)).toEqual([SEE_HELP, ""]);
  });
});

describe("deprecated flags warn and continue", () => {
  it.each<[string[], string]>([
    [["--branch=main"], "Flag --branch has been deprecated, use --ref instead"],
    [["--rev=abc"], "Flag --rev has been deprecated, use --ref instead"],
    [["--dest=d"], "Flag --dest has been deprecated, use --link instead"],
    [["--wait=1"], "Flag --wait has been deprecated, use --period instead"],
    [["--timeout=5"], "Flag --timeout has been deprecated, use --sync-timeout instead"],
    [["--max-sync-failures=2"], "Flag --max-sync-failures has been deprecated, use --max-failures instead"],
    [["--sync-hook-command=/x"], "Flag --sync-hook-command has been deprecated, use --exechook-command instead"],
    [["--ssh"], "Flag --ssh has been deprecated, it is no longer needed"],
    [["--v=3"], "Flag --v has been deprecated, use -v or --verbose instead"],
  ])("%p", (argv, line) => {
    const r = resolve([...BASE, ...argv]);
    expect(r.kind).toBe("run");
    if (r.kind === "run") expect(r.warnings).toEqual([line]);
  });
});

describe("repeatable lists", () => {
  it.each<[string, string[], Record<string, string>, (c: Config) => unknown, unknown]>([
    ["ssh key default", [], {}, (c) => c.sshKeyFiles, ["/etc/git-secret/ssh"]],
    ["ssh key env split on :", [], { GITSYNC_SSH_KEY_FILE: "/a:/b" }, (c) => c.sshKeyFiles, ["/a", "/b"]],
    ["ssh key flag replaces env", ["--ssh-key-file=/c"], { GITSYNC_SSH_KEY_FILE: "/a:/b" }, (c) => c.sshKeyFiles, ["/c"]],
    ["ssh key flags append after the first", ["--ssh-key-file=/c", "--ssh-key-file=/d"], { GITSYNC_SSH_KEY_FILE: "/a" }, (c) => c.sshKeyFiles, ["/c", "/d"]],
    ["git-config-add default empty", [], {}, (c) => c.gitConfigAdd, []],
    ["webhook header env per line", [], { GITSYNC_WEBHOOK_HEADER: "A: 1\r\nB: two words\n\n" }, (c) => c.webhook.headers, [["A", "1"], ["B", "two words"]]],
    ["webhook header flag replaces env", ["--webhook-header=C: 3"], { GITSYNC_WEBHOOK_HEADER: "A: 1" }, (c) => c.webhook.headers, [["C", "3"]]],
    [
      "credential env then flags",
      ['--credential={"url":"https://b","username":"u","password-file":"/f"}'],
      { GITSYNC_CREDENTIAL: '[{"url":"https://a","username":"u","password":"p"}]' },
      (c) => c.credentials.map((x) => x.url),
      ["https://a", "https://b"],
    ],
    [
      "credential flags append to each other",
      ['--credential={"url":"https://b","username":"u","password":"p"}', '--credential=[{"url":"https://c","username":"u","password":"p"}]'],
      {},
      (c) => c.credentials.map((x) => x.url),
      ["https://b", "https://c"],
    ],
    ["credential env unparsable is ignored", [], { GITSYNC_CREDENTIAL: "garbage" }, (c) => c.credentials, []],
    ["credential empty string adds nothing", ["--credential=  "], {}, (c) => c.credentials, []],
    [
      "credential whitespace trimmed, keys case-insensitive",
      ['--credential=  {"URL":"https://a","Username":"u","PASSWORD":"p"}\n'],
      {},
      (c) => c.credentials,
      [{ url: "https://a", username: "u", password: "p", passwordFile: "" }],
    ],
  ])("%s", (_name, argv, env, get, want) => {
    expect(get(config(argv, env))).toEqual(want);
  });
});

describe("env precedence", () => {
  it.each<[string, Record<string, string>, string[], (c: Config) => unknown, unknown, string[]]>([
    ["primary only", { GITSYNC_REF: "main" }, [], (c) => c.ref, "main", []],
    ["flag beats env", { GITSYNC_REF: "main" }, ["--ref=dev"], (c) => c.ref, "dev", []],
    ["alt only", { GIT_SYNC_DEPTH: "3" }, [], (c) => c.depth, 3, ["env $GIT_SYNC_DEPTH has been deprecated, use $GITSYNC_DEPTH instead"]],
    [
      "alt beats primary",
      { GITSYNC_DEPTH: "2", GIT_SYNC_DEPTH: "3" },
      [],
      (c) => c.depth,
      3,
      ["env $GIT_SYNC_DEPTH has been deprecated, use $GITSYNC_DEPTH instead", "env $GITSYNC_DEPTH was overridden by $GIT_SYNC_DEPTH"],
    ],
    [
      "last of three wins",
      { GITSYNC_ASKPASS_URL: "a", GIT_SYNC_ASKPASS_URL: "b", GIT_ASKPASS_URL: "c" },
      [],
      (c) => c.askpassURL,
      "c",
      [
        "env $GIT_SYNC_ASKPASS_URL has been deprecated, use $GITSYNC_ASKPASS_URL instead",
        "env $GIT_ASKPASS_URL has been deprecated, use $GITSYNC_ASKPASS_URL instead",
        "env $GITSYNC_ASKPASS_URL was overridden by $GIT_ASKPASS_URL",
      ],
    ],
    [
      "two alts without the primary",
      { GIT_SYNC_KNOWN_HOSTS: "true", GIT_KNOWN_HOSTS: "false" },
      [],
      (c) => c.sshKnownHosts,
      false,
      [
        "env $GIT_SYNC_KNOWN_HOSTS has been deprecated, use $GITSYNC_SSH_KNOWN_HOSTS instead",
        "env $GIT_KNOWN_HOSTS has been deprecated, use $GITSYNC_SSH_KNOWN_HOSTS instead",
        "env $GITSYNC_SSH_KNOWN_HOSTS was overridden by $GIT_KNOWN_HOSTS",
      ],
    ],
    ["empty alt counts as set", { GITSYNC_LINK: "a", GIT_SYNC_LINK: "" }, [], (c) => c.link, "repo.git", [
      "env $GIT_SYNC_LINK has been deprecated, use $GITSYNC_LINK instead",
      "env $GITSYNC_LINK was overridden by $GIT_SYNC_LINK",
    ]],
    ["invalid losing value ignored", { GITSYNC_DEPTH: "nope", GIT_SYNC_DEPTH: "4" }, [], (c) => c.depth, 4, [
      "env $GIT_SYNC_DEPTH has been deprecated, use $GITSYNC_DEPTH instead",
      "env $GITSYNC_DEPTH was overridden by $GIT_SYNC_DEPTH",
    ]],
    ["bool env", { GITSYNC_ONE_TIME: "True" }, [], (c) => c.oneTime, true, []],
    ["duration env", { GITSYNC_PERIOD: "1m" }, [], (c) => c.period, 60_000, []],
    ["int env base 0", { GITSYNC_MAX_FAILURES: "0x10" }, [], (c) => c.maxFailures, 16, []],
    ["verbose env", { GITSYNC_VERBOSE: "4" }, [], (c) => c.verbose, 4, []],
    ["password env", { GITSYNC_PASSWORD: "pw", GITSYNC_USERNAME: "u" }, [], (c) => c.password, "pw", []],
    ["hidden password flag beats env", { GITSYNC_PASSWORD: "pw", GITSYNC_USERNAME: "u" }, ["--__env__GITSYNC_PASSWORD=x"], (c) => c.password, "x", []],
    ["empty hidden password flag is ignored", { GITSYNC_PASSWORD: "pw", GITSYNC_USERNAME: "u" }, ["--__env__GITSYNC_PASSWORD="], (c) => c.password, "pw", []],
    ["init-max-failures unset", {}, [], (c) => c.initMaxFailures, undefined, []],
    ["init-max-failures env", { GITSYNC_INIT_MAX_FAILURES: "0" }, [], (c) => c.initMaxFailures, 0, []],
    ["init-max-failures flag", {}, ["--init-max-failures=3"], (c) => c.initMaxFailures, 3, []],
    ["v3 GIT_SYNC_WAIT", { GIT_SYNC_WAIT: "0.5" }, [], (c) => c.period, 500, []],
    ["v3 GIT_SYNC_HOOK_COMMAND", { GIT_SYNC_HOOK_COMMAND: "/hook" }, [], (c) => c.exechook.command, "/hook", []],
    ["exechook argv env", { GITSYNC_EXECHOOK_ARGV: '["/bin/echo","hi"]' }, [], (c) => c.exechook.argv, ["/bin/echo", "hi"], []],
    ["readiness env", { GITSYNC_READINESS_MAX_AGE: "5m" }, [], (c) => c.readinessMaxAge, 300_000, []],
    ["push trigger env", { GITSYNC_HTTP_BIND: ":80", GITSYNC_HTTP_SYNC_SECRET_FILE: "/s", GITSYNC_HTTP_SYNC_MIN_INTERVAL: "2s" }, [], (c) => [c.httpSyncSecretFile, c.httpSyncMinInterval], ["/s", 2_000], []],
  ])("%s", (_name, env, argv, get, want, warnings) => {
    const r = resolve([...BASE, ...argv], env);
    if (r.kind !== "run") throw new Error(r.stderr);
    expect(get(r.config)).toEqual(want);
    expect(r.warnings).toEqual(warnings);
  });
});

describe("invalid env values are fatal (exit 1), even when the flag is given", () => {
  it.each<[Record<string, string>, string[], string]>([
    [{ GITSYNC_ONE_TIME: "" }, [], 'FATAL: invalid bool env GITSYNC_ONE_TIME="": strconv.ParseBool: parsing "": invalid syntax'],
    [{ GITSYNC_ONE_TIME: "yes" }, ["--one-time"], 'FATAL: invalid bool env GITSYNC_ONE_TIME="yes": strconv.ParseBool: parsing "yes": invalid syntax'],
    [{ GIT_SYNC_DEPTH: "x" }, [], 'FATAL: invalid int env GIT_SYNC_DEPTH="x": strconv.ParseInt: parsing "x": invalid syntax'],
    [{ GITSYNC_PERIOD: "10" }, ["--period=1s"], 'FATAL: invalid duration env GITSYNC_PERIOD="10": time: missing unit in duration "10"'],
    [{ GIT_SYNC_WAIT: "1s" }, [], 'FATAL: invalid float env GIT_SYNC_WAIT="1s": strconv.ParseFloat: parsing "1s": invalid syntax'],
    [{ GITSYNC_VERBOSE: "99999999999999999999" }, [], 'FATAL: invalid int env GITSYNC_VERBOSE="99999999999999999999": strconv.ParseInt: parsing "99999999999999999999": value out of range'],
    [{ GITSYNC_ONE_TIME: "yes" }, ["--version"], 'FATAL: invalid bool env GITSYNC_ONE_TIME="yes"'],
  ])("%p %p", (env, argv, msg) => {
    const r = exit([...BASE, ...argv], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n").find((l) => l.startsWith("FATAL"))).toStartWith(msg);
    expect(r.stderr).not.toContain("Usage of");
  });
  it("deprecation lines of earlier options come before the FATAL", () => {
    // Later options (here --wait's GIT_SYNC_WAIT, also invalid) are never reached.
    const r = exit(BASE, { GIT_SYNC_REPO: "x", GITSYNC_HTTP_METRICS: "nope", GIT_SYNC_GIT_GC: "auto", GIT_SYNC_WAIT: "bad" });
    expect(r.stderr).toBe(
      "env $GIT_SYNC_REPO has been deprecated, use $GITSYNC_REPO instead\n" +
        "env $GIT_SYNC_GIT_GC has been deprecated, use $GITSYNC_GIT_GC instead\n" +
        'FATAL: invalid bool env GITSYNC_HTTP_METRICS="nope": strconv.ParseBool: parsing "nope": invalid syntax\n',
    );
  });
});
