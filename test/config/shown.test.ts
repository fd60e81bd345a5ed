// The one redaction path as tables: URLs (log/redact.ts), URLs inside text, a command line as
// /debug/pprof/cmdline shows it, and the environment a hook gets (config/shown.ts).
import { describe, expect, it } from "bun:test";
import { hookEnv, redactArgv, resolveConfig, shownLink } from "../../src/config/index.ts";
import { redactURL, redactURLsInText } from "../../src/log/redact.ts";

describe("redactURL", () => {
  it.each([
    ["https://user:pw@example.com/org/repo.git", "https://REDACTED@example.com/org/repo.git"],
    ["https://ghp_token@github.com/org/repo", "https://REDACTED@github.com/org/repo"],
    ["https://example.com/creds?access_token=t0k&x=1", "https://example.com/creds?REDACTED"],
    ["https://u:p@example.com:8443/a?b=c#frag", "https://REDACTED@example.com:8443/a?REDACTED#frag"],
    ["ssh://git@example.com/org/repo.git", "ssh://REDACTED@example.com/org/repo.git"],
    // Not URLs: an scp-like address keeps its ssh login, a path stays a path.
    ["git@github.com:org/repo.git", "git@github.com:org/repo.git"],
    ["/srv/git/repo", "/srv/git/repo"],
    ["file:///srv/git/repo", "file:///srv/git/repo"],
    ["https://example.com/org/repo.git", "https://example.com/org/repo.git"],
    // A port no parser accepts still loses its user info.
    ["https://u:p@example.com:notaport/x", "https://REDACTED@example.com:notaport/x"],
    ["https://u%40x:p%2F@example.com/", "https://REDACTED@example.com/"],
  ])("%s", (input, want) => {
    expect(redactURL(input)).toBe(want);
  });
});

describe("redactURLsInText", () => {
  it.each([
    ["fatal: unable to access 'https://tok@host/r.git/': 403", "fatal: unable to access 'https://REDACTED@host/r.git/': 403"],
    ['[GET] "http://127.0.0.1:1/creds?access_token=t0k": <no response>', '[GET] "http://127.0.0.1:1/creds?REDACTED": <no response>'],
    ["see https://u:p@host/x.", "see https://REDACTED@host/x."],
    ["GET http://127.0.0.1:1/a?tok=abc: refused", "GET http://127.0.0.1:1/a?REDACTED: refused"],
    // JSON-escaped text stays valid JSON.
    ['{"e":"x \\"https://u:p@h/r?q=1\\" y"}', '{"e":"x \\"https://REDACTED@h/r?REDACTED\\" y"}'],
    ["no url here", "no url here"],
  ])("%s", (input, want) => {
    expect(redactURLsInText(input)).toBe(want);
  });
});

describe("shownLink: a link named after the repo URL shows none of its credentials", () => {
  it.each([
    ["/git/user:tok@host", "https://user:tok@host", "/git/REDACTED@host"],
    ["/git/ghp_x@github.com", "https://ghp_x@github.com/", "/git/REDACTED@github.com"],
    ["user:tok@host:8443", "https://user:tok@host:8443", "REDACTED@host:8443"],
    ["/git/repo?access_token=t0k", "https://host/org/repo?access_token=t0k", "/git/repo?REDACTED"],
    // Named otherwise, or after a repo with nothing to hide: as it is.
    ["/git/link", "https://user:tok@host", "/git/link"],
    ["/git/repo.git", "https://user:tok@host/org/repo.git", "/git/repo.git"],
    ["/git/host", "https://host", "/git/host"],
    ["/git/xuser:tok@host", "https://user:tok@host", "/git/xuser:tok@host"],
    ["/git/repo", "/srv/repo", "/git/repo"],
  ])("%s of %s", (link, repo, want) => {
    expect(shownLink(link, repo)).toBe(want);
  });
  it("in the flag log", () => {
    const r = resolveConfig(["--repo=https://user:tok@host", "--root=/git", "-v6"], {}, { cwd: "/", version: "v" });
    if (r.kind !== "run") throw new Error(r.stderr);
    expect(r.config.flagLog.find((f) => f.name === "link")?.text).toBe("--link=REDACTED@host");
  });
});

describe("redactArgv", () => {
  it.each<[string[], string[]]>([
    [["--password=hunter2"], ["--password=REDACTED"]],
    [["--password", "hunter2", "--one-time"], ["--password", "REDACTED", "--one-time"]],
    [["--repo=https://u:p@h/r"], ["--repo=https://REDACTED@h/r"]],
    [["--repo", "https://tok@h/r"], ["--repo", "https://REDACTED@h/r"]],
    [["--askpass-url=http://127.0.0.1/c?access_token=t"], ["--askpass-url=http://127.0.0.1/c?REDACTED"]],
    [['--credential={"url":"https://h","username":"u","password":"s3"}'], ['--credential=[{"url":"https://h","username":"u","password":"REDACTED"}]']],
    [["--credential=not json s3cret"], ["--credential=REDACTED"]],
    [["--webhook-header=Authorization: Bearer t"], ["--webhook-header=Authorization: REDACTED"]],
    [["--git-config=http.extraHeader:Bearer t,core.x:y"], ["--git-config=http.extraHeader:REDACTED,core.x:y"]],
    [["--__env__GITSYNC_PASSWORD=p4ss"], ["--__env__GITSYNC_PASSWORD=REDACTED"]],
    [["-v=9", "--one-time", "--root=/tmp/r"], ["-v=9", "--one-time", "--root=/tmp/r"]],
    [["--unknown=https://u:p@h/"], ["--unknown=https://REDACTED@h/"]],
    [["--", "https://u:p@h/"], ["--", "https://REDACTED@h/"]],
  ])("%j", (argv, want) => {
    expect(redactArgv(argv)).toEqual(want);
  });
});

describe("hookEnv", () => {
  it("passes git-sync's non-secret variables as the flag log shows them, leaves the secret ones out, and keeps the rest", () => {
    const env = hookEnv({
      GITSYNC_REPO: "https://u:p@h/r.git",
      GIT_SYNC_REPO: "https://tok@h/r.git",
      GITSYNC_PASSWORD: "p",
      GIT_SYNC_PASSWORD: "p",
      GITSYNC_CREDENTIAL: '{"url":"https://h","username":"u","password":"p"}',
      GITSYNC_GITHUB_APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----",
      GITSYNC_ASKPASS_URL: "http://127.0.0.1/c?access_token=t",
      GIT_ASKPASS_URL: "http://127.0.0.1/c?access_token=t",
      GITSYNC_WEBHOOK_HEADER: "Authorization: Bearer t\nX-Env: prod",
      GITSYNC_GIT_CONFIG: "http.extraHeader:Bearer t",
      GITSYNC_PASSWORD_FILE: "/etc/secret/pw",
      GITSYNC_ROOT: "/git",
      GITSYNC_HASH: "abc",
      PATH: "/usr/bin",
      MY_TOKEN: "the user's own",
      UNSET: undefined,
    });
    expect(env).toEqual({
      GITSYNC_REPO: "https://REDACTED@h/r.git",
      GIT_SYNC_REPO: "https://REDACTED@h/r.git",
      GITSYNC_ASKPASS_URL: "http://127.0.0.1/c?REDACTED",
      GIT_ASKPASS_URL: "http://127.0.0.1/c?REDACTED",
      GITSYNC_WEBHOOK_HEADER: "Authorization: REDACTED\nX-Env: prod",
      GITSYNC_GIT_CONFIG: "http.extraHeader:REDACTED",
      GITSYNC_PASSWORD_FILE: "/etc/secret/pw",
      GITSYNC_ROOT: "/git",
      GITSYNC_HASH: "abc",
      PATH: "/usr/bin",
      MY_TOKEN: "the user's own",
    });
  });
});

describe("--help", () => {
  it("shows a default taken from the environment without its URL user info or query", () => {
    const r = resolveConfig(["--help"], { GITSYNC_REPO: "https://tok:pw@h/r.git", GITSYNC_ASKPASS_URL: "http://h/c?access_token=t0k" }, { cwd: "/", version: "test" });
    expect(r.kind).toBe("exit");
    const out = r.kind === "exit" ? r.stdout : "";
    expect(out).toContain('(default "https://REDACTED@h/r.git")');
    expect(out).toContain('(default "http://h/c?REDACTED")');
    expect(out).not.toContain("t0k");
  });
});
