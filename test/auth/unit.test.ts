import { describe, expect, it } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAskpassBody } from "../../src/auth/askpass-url.ts";
import { answerPrompt, matchCredential, mergeRepoCredentials, parsePrompt, type ResolvedCredential } from "../../src/auth/credentials.ts";
import { stripOneNewline } from "../../src/lib/secrets.ts";
import { importRSAPrivateKey, signAppJWT, tokenURL } from "../../src/auth/github.ts";
import { internalRole, runInternalMode } from "../../src/auth/internal.ts";
import { looksLikeSSHInvocation, sshConfigText } from "../../src/auth/ssh.ts";
import { addUser, hasPasswdEntry } from "../../src/auth/user.ts";
import { cleanup, tmpDir } from "../helpers/index.ts";
import { makeAppKey } from "../servers/github.ts";

describe("mergeRepoCredentials", () => {
  const base = { username: "", password: "", passwordFile: "", credentials: [] };
  const rows: Array<[string, string, string | null, string | null]> = [
    // repo, stripped repo, username, password
    ["https://user:pass@example.com/org/repo.git", "https://example.com/org/repo.git", "user", "pass"],
    ["https://user@example.com/repo", "https://example.com/repo", "user", ""],
    ["http://u%40x:p%3Aw@127.0.0.1:8080/r", "http://127.0.0.1:8080/r", "u@x", "p:w"],
    ["https://user:pass@example.com", "https://example.com", "user", "pass"],
    ["https://example.com/repo", "https://example.com/repo", null, null],
    ["ssh://git@example.com/repo", "ssh://git@example.com/repo", null, null],
    ["git@example.com:org/repo.git", "git@example.com:org/repo.git", null, null],
  ];
  for (const [repo, stripped, user, pass] of rows) {
    it(repo, () => {
      const r = mergeRepoCredentials({ ...base, repo });
      expect(r.repo).toBe(stripped);
      if (user === null) expect(r.credentials).toEqual([]);
      else expect(r.credentials).toEqual([{ url: stripped, username: user, password: pass!, passwordFile: "" }]);
    });
  }
  it("--username goes first, with its password file", () => {
    const other = { url: "https://b.example/", username: "b", password: "bp", passwordFile: "" };
    const r = mergeRepoCredentials({ repo: "https://a.example/r", username: "a", password: "", passwordFile: "/pw", credentials: [other] });
    expect(r.credentials).toEqual([{ url: "https://a.example/r", username: "a", password: "", passwordFile: "/pw" }, other]);
  });
  it("--username leaves --repo alone", () => {
    expect(mergeRepoCredentials({ ...base, repo: "https://x.example/r", username: "a", password: "p" }).repo).toBe("https://x.example/r");
  });
});

describe("parsePrompt", () => {
  it("Username for 'https://host': ", () => expect(parsePrompt("Username for 'https://host': ")).toEqual({ kind: "username", url: "https://host" }));
  it("Password for 'https://u@host:8443/p': ", () => expect(parsePrompt("Password for 'https://u@host:8443/p': ")).toEqual({ kind: "password", url: "https://u@host:8443/p" }));
  it("Enter passphrase for key: (not git's)", () => expect(parsePrompt("Enter passphrase for key '/k': ")).toBeNull());
});

describe("matchCredential", () => {
  const creds: ResolvedCredential[] = [
    { url: "https://a.example/org/one", username: "ua1", password: "pa1" },
    { url: "https://a.example/org/two", username: "ua2", password: "pa2" },
    { url: "https://a.example:8443/", username: "port", password: "pp" },
    { url: "http://a.example/", username: "plain", password: "ph" },
    { url: "https://b.example", username: "ub", password: "pb" },
    { url: "https://c.example/x", username: "alice", password: "pc-alice" },
    { url: "https://c.example/x", username: "bob", password: "pc-bob" },
    { url: "file:///srv/git/repo", username: "local", password: "pl" },
    { url: "file:///srv/git/other/", username: "other", password: "po" },
  ];
  const rows: Array<[string, string | null]> = [
    ["https://a.example", "ua1"], // no path in the prompt: the first for the host wins
    ["https://a.example/org/two", "ua2"], // useHttpPath: the exact path
    ["https://a.example/org/three", null], // another path and no path-less credential
    ["https://a.example:443", "ua1"], // the default port is no port
    ["https://a.example:8443", "port"],
    ["http://a.example", "plain"], // scheme matters
    ["https://B.EXAMPLE", "ub"], // host case does not
    // useHttpPath: a credential stored without a path does not serve a prompt with one (git's rule).
    ["https://b.example/any/path", null],
    ["https://bob@c.example", "bob"], // the prompt's username must match
    ["https://carol@c.example", null],
    ["https://d.example", null],
    ["not a url", null],
    // file:// (no host): git always keeps the path, and an empty host matches an empty host.
    ["file:///srv/git/repo", "local"],
    ["file:///srv/git/repo/", "local"], // trailing slashes are trimmed on both sides
    ["file:///srv/git/other", "other"],
    ["file://local@/srv/git/repo", "local"],
    ["file://someone@/srv/git/repo", null],
    ["file:///srv/git", null], // a parent path is another path
    ["file:///srv/git/repo/sub", null],
    ["file://host/srv/git/repo", null], // a host the credential does not name
    ["https:///srv/git/repo", null], // protocol matters
    // ssh:// and scp-like URLs are never prompted for: ssh asks for passphrases, not git.
  ];
  for (const [url, user] of rows) {
    it(url, () => expect(matchCredential(url, creds)?.username ?? null).toBe(user));
  }
  it("answers username then password prompts", () => {
    expect(answerPrompt("Username for 'https://b.example': ", creds)).toBe("ub");
    expect(answerPrompt("Password for 'https://ub@b.example': ", creds)).toBe("pb");
    expect(answerPrompt("Password for 'https://nobody.example': ", creds)).toBeNull();
  });
});

describe("stripOneNewline", () => {
  const rows: Array<[string, string]> = [
    ["secret", "secret"],
    ["secret\n", "secret"],
    ["secret\n\n", "secret\n"],
    ["secret\r\n", "secret"],
    [" secret \n", " secret "],
  ];
  for (const [i, o] of rows) it(JSON.stringify(i), () => expect(stripOneNewline(i)).toBe(o));
});

describe("parseAskpassBody", () => {
  const rows: Array<[string, { username: string; password: string }]> = [
    ["username=u\npassword=p\n", { username: "u", password: "p" }],
    ["password=p=q\nusername=u", { username: "u", password: "p=q" }],
    ["username=a\nusername=b\npassword=x", { username: "b", password: "x" }],
    ["garbage\nusername=u", { username: "u", password: "" }],
    ["username=u\r\npassword=p\r\n", { username: "u\r", password: "p\r" }],
    [" username=u\nfoo=bar", { username: "", password: "" }],
    ["", { username: "", password: "" }],
  ];
  for (const [body, want] of rows) it(JSON.stringify(body), () => expect(parseAskpassBody(body)).toEqual(want));
});

describe("sshConfigText", () => {
  it("keys and known hosts on", () => {
    expect(sshConfigText({ keyFiles: ["/k/one", "/k/two words"], knownHosts: true, knownHostsFile: "/etc/git-secret/known_hosts", verbose: 0, include: [] })).toBe(
      [
        "# Written by git-sync at startup; ssh runs with -F <this file>.",
        'IdentityFile "/k/one"',
        'IdentityFile "/k/two words"',
        "IdentitiesOnly yes",
        "StrictHostKeyChecking yes",
        'UserKnownHostsFile "/etc/git-secret/known_hosts"',
        "",
      ].join("\n"),
    );
  });
  it("known hosts off, verbose 7, an include, a % in a path", () => {
    const t = sshConfigText({ keyFiles: ["/k/100%"], knownHosts: false, knownHostsFile: "/x", verbose: 7, include: ["/home/u/.ssh/config"] });
    expect(t).toContain("LogLevel DEBUG2\n");
    expect(t).toContain('IdentityFile "/k/100%%"\n');
    expect(t).toContain("StrictHostKeyChecking no\nUserKnownHostsFile /dev/null\n");
    expect(t.trimEnd().endsWith('Include "/home/u/.ssh/config"')).toBe(true);
  });
  for (const [v, level] of [[4, null], [5, "DEBUG1"], [7, "DEBUG2"], [9, "DEBUG3"]] as const) {
    it(`-v ${v}`, () => {
      const t = sshConfigText({ keyFiles: [], knownHosts: true, knownHostsFile: "/x", verbose: v, include: [] });
      if (level) expect(t).toContain(`LogLevel ${level}`);
      else expect(t).not.toContain("LogLevel");
    });
  }
});

describe("internal mode dispatch", () => {
  const argv = (...a: string[]) => ["bun", "/$bunfs/root/git-sync", ...a];
  it("a normal run is not internal", () => {
    expect(runInternalMode(argv("--repo", "x", "--root", "/tmp"), {})).toBeNull();
    expect(runInternalMode(argv("--version"), { GITSYNC_INTERNAL_SSH_CONFIG: "/c" })).toBeNull();
  });
  it("ssh shape needs the remote command last", () => {
    expect(looksLikeSSHInvocation(["-o", "SendEnv=GIT_PROTOCOL", "-p", "22", "git@h", "git-upload-pack '/r.git'"])).toBe(true);
    expect(looksLikeSSHInvocation(["host", "git-receive-pack 'r'"])).toBe(true);
    expect(looksLikeSSHInvocation(["--repo", "x"])).toBe(false);
    expect(looksLikeSSHInvocation(["git-upload-pack 'r'"])).toBe(false);
  });
});

describe("internalRole: which calls of the binary are git's helpers (git-sync status leaves them out)", () => {
  const ssh = { GITSYNC_INTERNAL_SSH_CONFIG: "/c" };
  const askpass = { GITSYNC_INTERNAL_ASKPASS: "[]" };
  it.each<[string[], Record<string, string>, "ssh" | "askpass" | null]>([
    [["Password for 'https://u@h': "], askpass, "askpass"],
    [["--repo=x"], askpass, "askpass"],
    [["--repo=x", "--root=/r"], askpass, null],
    [["Password for 'https://u@h': "], {}, null],
    [["-p", "22", "git@h", "git-upload-pack '/r.git'"], ssh, "ssh"],
    [["--repo=x", "--root=/r"], ssh, null],
    [["-p", "22", "git@h", "git-upload-pack '/r.git'"], {}, null],
  ])("%p with %p", (args, env, want) => {
    expect(internalRole(args, env)).toBe(want);
  });
});

describe("GitHub app JWT", () => {
  const key = makeAppKey();
  for (const form of ["pkcs1", "pkcs8"] as const) {
    it(`signs RS256 with a ${form} key`, async () => {
      const k = await importRSAPrivateKey(key[form]);
      const jwt = await signAppJWT(k, "12345", 1_700_000_000);
      const [h, c, s] = jwt.split(".");
      expect(JSON.parse(Buffer.from(h!, "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
      expect(JSON.parse(Buffer.from(c!, "base64url").toString())).toEqual({ iss: "12345", exp: 1_700_000_600, iat: 1_700_000_000 });
      const der = Buffer.from(key.publicKey.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
      const pub = await crypto.subtle.importKey("spki", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
      expect(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", pub, Buffer.from(s!, "base64url"), new TextEncoder().encode(`${h}.${c}`))).toBe(true);
    });
  }
  it("rejects a non-RSA PEM", async () => {
    await expect(importRSAPrivateKey("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")).rejects.toThrow("can't parse private key");
  });
  it("rejects a corrupt RSA PEM", async () => {
    await expect(importRSAPrivateKey("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")).rejects.toThrow("can't parse private key");
  });
  for (const [base, want] of [
    ["https://api.github.com/", "https://api.github.com/app/installations/7/access_tokens"],
    ["https://ghe.example/api/v3", "https://ghe.example/api/v3/app/installations/7/access_tokens"],
    ["https://ghe.example/api/v3//", "https://ghe.example/api/v3/app/installations/7/access_tokens"],
  ] as const) {
    it(`token URL for ${base}`, () => expect(tokenURL(base, 7)).toBe(want));
  }
});

describe("--add-user", () => {
  it("finds an existing uid", () => expect(hasPasswdEntry("root:x:0:0:root:/root:/bin/bash\nme:x:1000:1000::/home/me:/bin/sh\n", 1000)).toBe(true));
  it("appends a line for a missing uid, once", () => {
    const dir = tmpDir();
    try {
      const f = join(dir, "passwd");
      writeFileSync(f, "root:x:0:0:root:/root:/bin/bash\n");
      expect(addUser({ passwdFile: f, uid: 65533, gid: 65533, home: "/tmp" })).toBe(true);
      expect(addUser({ passwdFile: f, uid: 65533, gid: 65533, home: "/tmp" })).toBe(false);
      expect(readFileSync(f, "utf8")).toBe("root:x:0:0:root:/root:/bin/bash\ngit-sync:x:65533:65533::/tmp:/sbin/nologin\n");
    } finally {
      cleanup(dir);
    }
  });
  it("a failure is fatal", () => {
    expect(() => addUser({ passwdFile: "/nonexistent-dir/passwd", uid: 65533, gid: 1, home: "/" })).toThrow("can't add user");
  });
});
