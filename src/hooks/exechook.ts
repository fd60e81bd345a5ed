// The exechook and the pre-publish exechook (behaviour.md 5.2, 5.3): a program run in the new
// worktree with git-sync's environment plus GITSYNC_HASH. Upstream runs the command string as a
// program path with no shell and no word splitting; `--*-exechook-argv` (ours) takes a JSON
// array instead, still without a shell.
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { hookEnv } from "../config/index.ts";
import type { ExecHookConfig } from "../config/types.ts";
import { formatCmd } from "../git/runner.ts";
import { execute, failureText, lookPath, SpawnError } from "../lib/exec.ts";
import { Duration, goQuote } from "../lib/go.ts";
import type { Logger } from "../log/logger.ts";
import type { HookAction, HookEvent, HookName } from "./runner.ts";

export interface ExecHookDeps {
  env: () => Record<string, string | undefined>;
  log: Logger;
}

/** The flag that takes an argv list, named in the "not found" hint. */
function argvFlag(name: HookName): string {
  return name === "pre-publish-exechook" ? "--pre-publish-exechook-argv" : "--exechook-argv";
}

function notFound(name: HookName, cfg: ExecHookConfig, program: string, worktree: string): Error {
  const argvForm = cfg.argv.length > 0;
  const head = `${name} ${argvForm ? "program" : "command"} ${goQuote(program)} not found (or not executable)`;
  const words = program.trim().split(/\s+/);
  // Upstream's cwd is the worktree (behaviour.md 5.2), so `./hook.sh` is looked for in the synced
  // tree, not where git-sync was started: say where, since that is rarely what was meant.
  if (program.includes("/") && !isAbsolute(program) && (argvForm || words.length === 1)) {
    return new Error(
      `${head} in the worktree ${worktree}: a relative path runs from the synced tree, so it must name a file of the repository; ` +
        "give an absolute path for a program outside it",
    );
  }
  if (argvForm) {
    return new Error(`${head}; check ${argvFlag(name)}: its first element is the program, looked up in PATH unless it contains a slash`);
  }
  // The classic mistake is `--exechook-command="ls -la /x"`: say exactly why it fails and how
  // to do it instead, since upstream's spawn error ("no such file or directory") hides it.
  const example = words.length > 1 ? ` (e.g. ${argvFlag(name)}='${JSON.stringify(words)}')` : "";
  return new Error(
    `${head}: the command is a single program path and takes no arguments; ` +
      `to pass arguments, use a wrapper script or ${argvFlag(name)} with a JSON array${example}`,
  );
}

export function createExecHookAction(name: "exechook" | "pre-publish-exechook", cfg: ExecHookConfig, deps: ExecHookDeps): HookAction {
  const argvForm = cfg.argv.length > 0;
  const given = argvForm ? cfg.argv : [cfg.command];
  return {
    name,
    backoff: cfg.backoff,
    async run(ev: HookEvent): Promise<void> {
      // git-sync's own variables as the startup log shows them, its secrets left out (config/shown.ts).
      const env = hookEnv(deps.env());
      env.GITSYNC_HASH = ev.hash;
      // Ours (issue 15): which ref and link this hash is for, so one hook can serve several refs.
      if (ev.ref !== undefined) env.GITSYNC_REF = ev.ref;
      if (ev.link !== undefined) env.GITSYNC_LINK = ev.link;
      if (ev.resolvedRef) env.GITSYNC_RESOLVED_REF = ev.resolvedRef;

      deps.log.info("running exechook", {
        hash: ev.hash,
        ...(argvForm ? { argv: cfg.argv } : { command: cfg.command }),
        timeout: new Duration(cfg.timeout),
      });

      const cmd = formatCmd(given);
      // A missing cwd makes spawn fail with ENOENT too, which would read as "command not found".
      if (!existsSync(ev.worktree)) throw new Error(`Run(${cmd}): worktree ${ev.worktree} does not exist`);
      const program = lookPath(given[0]!, ev.worktree, env.PATH ?? "");
      if (program === "") throw notFound(name, cfg, given[0]!, ev.worktree);

      let r;
      try {
        r = await execute([program, ...given.slice(1)], { cwd: ev.worktree, env, timeoutMs: cfg.timeout });
      } catch (e) {
        if (e instanceof SpawnError) throw new Error(`Run(${cmd}): ${e.message}`, { cause: e });
        throw e;
      }
      if (r.timedOut || r.code !== 0) {
        throw new Error(failureText(cmd, r, `timed out after ${new Duration(cfg.timeout).toString()} (context deadline exceeded)`));
      }
      deps.log.v(1, "exechook succeeded", { hash: ev.hash, stdout: r.stdout, stderr: r.stderr, time: new Duration(r.ms) });
    },
  };
}
