// Subcommands run from `kubectl exec` (the image has no shell): src/main.ts calls
// runSubcommand() first and, when it returns null, carries on as git-sync. A repo URL or a flag
// can never be `status`, `sync-now` or `help`: the sync path takes everything as flags and
// ignores positional arguments (pflag), so these names cannot shadow a real invocation.
import { processIO, type Env, type IO } from "./common.ts";
import { runStatus } from "./status.ts";
import { runSyncNow } from "./sync-now.ts";

export { runStatus } from "./status.ts";
export { runSyncNow } from "./sync-now.ts";

const SUBCOMMANDS: Record<string, (args: string[], env: Env, io: IO) => Promise<number>> = {
  status: runStatus,
  "sync-now": runSyncNow,
  // Reached only for a topic expandHelp does not know: the others become --help.
  help: ([topic = ""], _env, io) => {
    io.stderr(`git-sync help: no help on ${JSON.stringify(topic)}: the topics are status and sync-now (git-sync help alone prints the flags)\n`);
    return Promise.resolve(2);
  },
};

/**
 * `git-sync help [status|sync-now]` is `--help` of the command it names, or of git-sync itself
 * (upstream has no `help` and says `required flag: --root`). Other argv is returned as it is.
 */
export function expandHelp(argv: string[]): string[] {
  const [node = "", self = "", name, topic] = argv;
  if (name !== "help") return argv;
  if (topic === undefined || topic.startsWith("-")) return [node, self, "--help"];
  return topic !== "help" && Object.hasOwn(SUBCOMMANDS, topic) ? [node, self, topic, "--help"] : argv;
}

/**
 * The exit code of the subcommand named by argv[2], or null when argv[2] is not one.
 * citty dispatches the subcommand; each one parses its own flags strictly (common.ts), so a typo
 * is an error. The sync path does not go through citty: its flags are pflag's (src/config), which
 * citty's parser does not speak.
 */
export function runSubcommand(argv: string[], env: Env, io: IO = processIO): Promise<number> | null {
  const [, , name] = argv;
  if (name === undefined || !Object.hasOwn(SUBCOMMANDS, name)) return null;
  return dispatch(argv.slice(2), env, io);
}

async function dispatch(rawArgs: string[], env: Env, io: IO): Promise<number> {
  const { defineCommand, runCommand } = await import("citty");
  let code = 0;
  const subCommands = Object.fromEntries(
    Object.entries(SUBCOMMANDS).map(([name, run]) => [
      name,
      defineCommand({
        meta: { name },
        async run({ rawArgs: args }) {
          code = await run(args, env, io);
        },
      }),
    ]),
  );
  await runCommand(defineCommand({ meta: { name: "git-sync" }, subCommands }), { rawArgs });
  return code;
}
