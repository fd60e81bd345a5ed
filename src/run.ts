// The composition root: the startup sequence (behaviour.md 3) and the process lifecycle around the
// sync loop. It resolves git and root, builds the private git config, sets up auth, starts the
// HTTP endpoint and the hook runners, then loops. It is the one place that wires the layers
// together (the loop never starts the server; the server never imports the loop). Returns the
// exit code; SIGTERM/SIGINT stop it cleanly.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FatalAuthError, setupAuth } from "./auth/index.ts";
import { makeAbsPath } from "./config/index.ts";
import { parseGitConfigList } from "./config/gitconfig.ts";
import type { Config } from "./config/types.ts";
import { GitConfigFile } from "./git/config-file.ts";
import { Git } from "./git/runner.ts";
import { createHooks } from "./hooks/index.ts";
import { startHttpServer } from "./http/server.ts";
import { killAllRunning, lookPath } from "./lib/exec.ts";
import { stderrIsPersonsTerminal, stderrIsTerminal } from "./lib/stdio.ts";
import { chooseColor, chooseLogFormat, log, stderrSink } from "./log/logger.ts";
import { isSecretKey, redactURL, redactURLsInText } from "./log/redact.ts";
import { absoluteLocalRepo } from "./repo/local-refs.ts";
import { createRemoteQuery } from "./repo/remote.ts";
import { VERSION } from "./version.ts";
import { runLoop, Wake } from "./loop/loop.ts";
import { newSyncState } from "./state/sync-state.ts";
import { FatalError, Syncer, type SyncResult } from "./loop/sync.ts";
import { Fleet, type FleetMember } from "./loop/fleet.ts";
import { readCurrent } from "./publish/symlink.ts";
import { servedHash, servedPaths } from "./publish/links.ts";
import { RootLock } from "./repo/lock.ts";
import { setUntrustedDirs } from "./lib/no-follow.ts";
import { worktreePath, type RepoContext } from "./repo/context.ts";
import { Verifier } from "./verify/index.ts";
import { createMirror, type LinkServed, type Mirror } from "./serve/mirror.ts";
import { NudgeInbox, Peers } from "./peers/index.ts";

/** Run git-sync with a validated config; resolves with the exit code. */
export async function runGitSync(config: Config, overrideLogs: string[] = []): Promise<number> {
  stderrSink.verbosity = config.verbose;
  stderrSink.errorFile = config.errorFile;
  // Only a person's terminal: a container's (tty: true) keeps upstream's JSON (lib/stdio.ts).
  stderrSink.format = chooseLogFormat(config.logFormat, stderrIsPersonsTerminal());
  stderrSink.color = chooseColor(stderrSink.format, stderrIsTerminal(), process.env);
  // "setting --ref from deprecated --branch" and friends (behaviour.md 2.4).
  for (const msg of overrideLogs) log.info(msg);
  log.info("starting up", {
    version: VERSION,
    pid: process.pid,
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    home: process.env.HOME ?? "",
    flags: config.flagLog.filter((f) => f.changed || (config.verbose >= 4 && (!f.empty || config.verbose >= 6))).map((f) => f.text),
  });

  // Secrets reach git through per-call environments only (src/auth); git and ssh inherit
  // process.env and have no business with git-sync's own secrets. Hooks get a filtered copy
  // (config/shown.ts hookEnv) on top of this.
  for (const name of ["GITSYNC_PASSWORD", "GIT_SYNC_PASSWORD", "GITSYNC_GITHUB_APP_PRIVATE_KEY", "GITSYNC_CREDENTIAL"]) delete process.env[name];

  let stopSignal: NodeJS.Signals | null = null;
  let sleptForever = false;
  const wake = new Wake();
  const cleanups: Array<() => void> = [];
  // Not upstream (which dies on the default disposition): stop the running git, let the loop
  // unwind, then re-raise so the exit status still says "killed by SIGTERM". Installed first,
  // because git runs in process groups of its own that a plain death would leave behind. The
  // publish is a single rename, so there is never a half-published link to worry about.
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    if (sig === config.syncOnSignal) continue;
    process.on(sig, () => {
      if (stopSignal) return;
      stopSignal = sig;
      log.v(1, "caught signal, stopping", { signal: sig });
      killAllRunning();
      wake.request();
    });
  }
  try {
    const gitPath = resolveGit(config.git);
    process.umask(config.groupWrite ? 0o002 : 0o022);
    const root = makeRoot(config.root);
    const repo = absoluteLocalRepo(config.repo, process.cwd(), root);
    if (repo !== config.repo) {
      log.info("normalized repo path", { repo: config.repo, result: repo });
      config = { ...config, repo };
    }
    const link = makeAbsPath(config.link, root);
    // What a commit (the links) or a neighbour (root) controls: never written through a symlink there.
    setUntrustedDirs(root, [link, ...config.alsoLinks.map((l) => l.link)]);
    const touchFile = makeAbsPath(config.touchFile, root);

    // Private global git config and scratch space (ssh config); never the user's own files.
    // $TMPDIR or /tmp, as Go's os.TempDir (node:os would cost ~2.5 ms to load for this).
    const privateDir = mkdtempSync(join(process.env.TMPDIR || "/tmp", "git-sync."));
    cleanups.push(() => rmSync(privateDir, { recursive: true, force: true }));
    const gitConfigPath = join(privateDir, "gitconfig");
    writeFileSync(gitConfigPath, "");
    process.env.GIT_CONFIG_GLOBAL = gitConfigPath;
    process.env.GIT_CONFIG_NOSYSTEM = "true";
    log.v(2, "created private gitconfig file", { path: gitConfigPath });

    const git = new Git(gitPath, log, () => process.env);
    // behaviour.md 3 step 7, off the critical path: logged when git answers (in practice while the
    // rest of startup and the first `git init` run), and awaited by the first attempt before it
    // fetches, where a failure still ends the process with exit 1.
    const startupDeadline = Date.now() + 30_000;
    const gitVersion = git.run(["version"], { cwd: root, deadline: startupDeadline }).then(
      (r) => log.info("git version", { version: r.stdout.trim() }),
      (e: unknown) => {
        throw new FatalError("FATAL: can't run git version", { cause: e });
      },
    );
    gitVersion.catch(() => {}); // handled where the first attempt awaits it
    const gitConfig = new GitConfigFile();
    gitConfig.set("gc.autoDetach", "false");
    gitConfig.set("gc.pruneExpire", "now");
    // Released v4 images set this; master dropped it. We keep it so manifests written for the
    // released images keep working when the volume is owned by another UID.
    gitConfig.set("safe.directory", "*");
    // Issue 20: git checks every object a fetch brings (duplicate tree entries, `.git` look-alikes,
    // `..`) and refuses the pack, as a hosting service does on push; `--git-config` may turn it off.
    gitConfig.set("fetch.fsckObjects", "true");
    // No credential.helper: helpers run through /bin/sh, which the image does not have. Credentials
    // reach git through GIT_ASKPASS (this binary) instead; see src/auth.
    const auth = await setupAuth(config, { git, privateDir, log, gitConfig });
    Object.assign(process.env, auth.processEnv());

    await setupGitConfig(git, gitConfig, gitConfigPath, config, root, startupDeadline);

    const state = newSyncState();
    // What an earlier process published keeps being served while this one's first attempt runs;
    // /status reports it, marked as from before this start, until that attempt succeeds.
    state.servedAtStart = servedHash(config.linkMode, root, link);
    // Unreadable or malformed key files end startup here, with the file and line.
    const verifier = await Verifier.create(config.verify, log, state).catch((e: unknown) => {
      throw new FatalError("FATAL: can't load the keys for --verify-signatures", { cause: e });
    });
    // --serve-git (issue 22): what each link serves, once the syncers below exist.
    const servers: Array<{ link: string; state: typeof state; syncer: Syncer }> = [];
    let mirror: Mirror | null = null;
    let mainRemoteRef = "";
    // --peers (issue 23): made once the host's query exists (below); the mirror and the endpoint
    // reach it through this variable.
    let peers: Peers | null = null;
    if (config.serveGit.enabled) {
      const published = (): LinkServed[] =>
        servers.flatMap((s, i) => {
          const hash = servedHash(config.linkMode, root, s.link);
          // The main ref's name from the attempt that just ended: the loop records it in state after this.
          const name = i === 0 ? mainRemoteRef || s.state.remoteRef : s.state.remoteRef;
          return hash === "" ? [] : [{ name, oid: s.syncer.servedObject(hash), hash, main: i === 0 }];
        });
      try {
        mirror = createMirror(config, {
          git,
          log,
          state,
          published,
          answerHeaders: (req, body, status) => peers?.answerHeaders(req, body, status) ?? {},
          selfEndpoint: () => peers?.selfEndpoint() ?? "",
          onUnauthorized: () => peers?.refusedRequest(),
        });
      } catch (e) {
        throw new FatalError("FATAL: can't serve the git mirror (--serve-git)", { cause: e });
      }
    }
    if (config.httpBind !== "") {
      let server;
      try {
        server = startHttpServer(config, {
          state,
          log,
          requestSync: () => {
            wake.request();
            peers?.pushed();
          },
          gitMirror: mirror ? (req, remote) => mirror.handle(req, remote) : undefined,
          peerNudge: config.peers !== "" ? (req, remote) => (peers && NudgeInbox.isNudge(req) ? peers.inbox.handle(req, remote) : null) : undefined,
        });
      } catch (e) {
        throw new FatalError("can't bind HTTP endpoint", { cause: e });
      }
      cleanups.push(() => server.stop());
    }

    const hooks = createHooks(config, { state, env: () => process.env });
    cleanups.push(() => hooks.stop());
    if (config.syncOnSignal !== "") {
      log.v(1, "installing signal handler", { signal: config.syncOnSignal });
      process.on(config.syncOnSignal as NodeJS.Signals, () => {
        log.v(1, "caught signal", { signal: config.syncOnSignal });
        wake.request();
      });
    }

    const links = [link, ...config.alsoLinks.map((l) => l.link)];
    const ctx: RepoContext = { config, git, log, root, repo: auth.repo, link, remoteEnv: () => auth.gitEnv(), lock: new RootLock(root, log), served: () => servedPaths(config.linkMode, root, links) };
    const refs = [config.ref, ...config.alsoLinks.map((l) => l.ref)];
    const hostQuery = createRemoteQuery(ctx, { gitConfig: gitConfig.list(), env: process.env, credential: () => auth.httpCredential(auth.repo) }, refs);
    log.v(1, "polling the remote", { method: hostQuery.kind });
    let remote = hostQuery;
    if (config.peers !== "") {
      // The syncers ask, and fetch from, the host or the owner's mirror: the fleet decides each attempt.
      let startedWith: { hash: string; at: number } | undefined;
      try {
        if (state.servedAtStart !== "") startedWith = { hash: state.servedAtStart, at: lstatSync(link).mtimeMs };
      } catch {
        // nothing published that can be read: nothing to keep to
      }
      const p = new Peers(config, { log, state, host: hostQuery, repo: auth.repo, refs, wake: () => wake.request(), env: process.env, startedWith });
      peers = p;
      remote = p.remote;
      ctx.fetchSource = (objects) => p.fetchSource(objects);
    }
    const refresh = (deadline: number) => auth.refresh(deadline);
    let syncer: Syncer | Fleet = new Syncer(ctx, hooks, refresh, remote, { startup: gitVersion, verifier });
    servers.push({ link, state, syncer });
    if (config.alsoLinks.length > 0) {
      // --also-link (issue 15): a Syncer, hooks and state per ref, driven by one Fleet.
      const members: FleetMember[] = [];
      // Whether a link other than `self` points at the worktree of `hash` now.
      const linkedBy = (hash: string, self: string) => members.some((m) => m.syncer.target.link !== self && readCurrent(m.syncer.target.link)?.path === worktreePath(ctx, hash));
      const mainSyncer = new Syncer(ctx, hooks, refresh, remote, { startup: gitVersion, verifier, alongside: true, linkedElsewhere: (h) => linkedBy(h, ctx.link) });
      members.push({ name: "", syncer: mainSyncer, state: null });
      servers[0] = { link, state, syncer: mainSyncer };
      for (const l of config.alsoLinks) {
        // alsoLinks stays set: the hooks of every ref then name their link (webhook payload, headers).
        const own: Config = { ...config, ref: l.ref, link: l.link };
        const linkState = newSyncState();
        linkState.servedAtStart = servedHash(config.linkMode, root, l.link);
        state.links.push({ name: l.name, ref: l.ref, link: l.link, state: linkState });
        const linkHooks = createHooks(own, { state: linkState, env: () => process.env, logger: log.named(l.name) });
        cleanups.push(() => linkHooks.stop());
        const linkCtx: RepoContext = { ...ctx, config: own, link: l.link, log: log.named(l.name) };
        // A verifier per ref: each remembers its own refusal and reports into its ref's state.
        const linkVerifier = await Verifier.create(config.verify, linkCtx.log, linkState);
        const opts = { startup: gitVersion, verifier: linkVerifier, ownsRootBranch: false, alongside: true, linkedElsewhere: (h: string) => linkedBy(h, l.link) };
        const linkSyncer = new Syncer(linkCtx, linkHooks, refresh, remote, opts);
        members.push({ name: l.name, syncer: linkSyncer, state: linkState });
        servers.push({ link: l.link, state: linkState, syncer: linkSyncer });
      }
      syncer = new Fleet(ctx, members, remote, refresh);
    }
    let attempts: { attempt(deadline: number, n: number): Promise<SyncResult> } = syncer;
    if (mirror) {
      // What an earlier process published is served from the start; after each attempt the
      // mirror follows the links (and keeps their objects from gc: the attempt's cleanup runs next).
      const m = mirror;
      const inner = syncer;
      await m.update(Date.now() + 30_000);
      const p = peers;
      attempts = {
        attempt: async (deadline, n) => {
          try {
            const result = await (p ? p.attempt(inner, deadline, n) : inner.attempt(deadline, n));
            if (result.remoteRef !== "") mainRemoteRef = result.remoteRef;
            return result;
          } finally {
            const ok = await m.update(Date.now() + 30_000);
            // The peers fetch what the mirror serves: nudged, and told how fresh it is, only now.
            p?.served(ok);
          }
        },
      };
    }
    const code = await runLoop({ config, ctx, syncer: attempts, hooks, state, log, touchFile, wake, stopping: () => stopSignal !== null, onSleepForever: () => (sleptForever = true) });
    // SIGINT ends sleep-forever with 0 (behaviour.md 4.1); any other stop reports the signal.
    if (stopSignal === null || (stopSignal === "SIGINT" && sleptForever)) return code;
    return await reraise(stopSignal, cleanups);
  } catch (e) {
    if (stopSignal) return await reraise(stopSignal, cleanups);
    if (e instanceof FatalError || e instanceof FatalAuthError) log.error(e.cause ?? null, e.message);
    else log.error(e, "FATAL: startup failed");
    return 1;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        // best effort on the way out
      }
    }
  }
}

/** Die of `sig` after cleaning up; never resolves, so no caller can exit 0 in the meantime. */
async function reraise(sig: NodeJS.Signals, cleanups: Array<() => void>): Promise<never> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {
      // best effort on the way out
    }
  }
  process.removeAllListeners(sig);
  process.kill(process.pid, sig);
  // If the default disposition did not end us, exit as a shell would report it.
  return await new Promise<never>(() => setTimeout(() => process.exit(128 + (sig === "SIGTERM" ? 15 : 2)), 100));
}

function resolveGit(git: string): string {
  // A path must exist and be executable; a bare name is looked up on PATH (behaviour.md 3 step 2).
  const found = lookPath(git, process.cwd(), process.env.PATH ?? "");
  if (!found) throw new FatalError("FATAL: git executable not found", { cause: new Error(`${git}: not found on PATH`) });
  return found;
}

function makeRoot(root: string): string {
  try {
    mkdirSync(root, { recursive: true, mode: 0o775 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Node's text for a file in the way is "EEXIST: file already exists, mkdir".
    const cause = code === "EEXIST" || code === "ENOTDIR" ? new Error(notADirectory(root), { cause: e }) : e;
    throw new FatalError("FATAL: can't make root dir", { cause });
  }
  let resolved: string;
  try {
    resolved = realpathSync(root);
  } catch (e) {
    throw new FatalError("FATAL: can't normalize root path", { cause: e });
  }
  if (resolved !== root) log.info("normalized root path", { root, result: resolved });
  return resolved;
}

/** What is in the way of root, in the words of the flag: root itself or the file above it. */
function notADirectory(root: string): string {
  const entry = (p: string) => {
    try {
      return lstatSync(p);
    } catch {
      return undefined; // ENOENT, or ENOTDIR under a file
    }
  };
  let p = root;
  while (entry(p) === undefined && p !== dirname(p)) p = dirname(p);
  const what = entry(p)?.isSymbolicLink() && !existsSync(p) ? "a dangling symlink" : "not a directory";
  return p === root ? `--root ${root} is ${what}` : `--root ${root}: ${p} is ${what}`;
}

/**
 * behaviour.md 3 steps 9-12: our defaults, then --git-config and --git-config-add, written to the
 * private global gitconfig in one go (git/config-file.ts) and logged as `git config`.
 */
async function setupGitConfig(git: Git, gitConfig: GitConfigFile, path: string, config: Config, cwd: string, deadline: number): Promise<void> {
  const lists: Array<[string, string]> = [["--git-config", config.gitConfig]];
  if (config.gitConfigAdd.length > 0) lists.push(["--git-config-add", config.gitConfigAdd.join(",")]);
  const rejected: Array<[string, string]> = [];
  for (const [flag, text] of lists) {
    let pairs: Array<[string, string]>;
    try {
      pairs = parseGitConfigList(text);
    } catch (e) {
      throw new FatalError(`can't parse ${flag} flag: ${(e as Error).message}`, { cause: e });
    }
    for (const [k, v] of pairs) if (!gitConfig.set(k, v)) rejected.push([k, v]);
  }
  writeFileSync(path, gitConfig.render());
  // A key git would refuse: let git refuse it, in its own words (startup fails, exit 1).
  for (const [k, v] of rejected) await git.run(["config", "--global", k, v], { cwd, deadline });
  const shown: Record<string, string> = {};
  // A key can hold a URL too (url.<base>.insteadOf).
  for (const [k, v] of gitConfig.list()) shown[redactURLsInText(k)] = isSecretKey(k) ? "REDACTED" : redactURL(v);
  log.info("git config", { config: shown });
}
