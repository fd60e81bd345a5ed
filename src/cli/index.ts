// Subcommands run from `kubectl exec` (the image has no shell): src/main.ts calls
// runSubcommand() first and, when it returns null, carries on as git-sync. A repo URL or a flag
// can never be `status` or `sync-now`, so these names cannot shadow a real invocation.
import { processIO, type Env, type IO } from "./common.ts";
import { runStatus } from "./status.ts";
import { runSyncNow } from "./sync-now.ts";

export { runStatus } from "./status.ts";
export { runSyncNow } from "./sync-now.ts";

/** The exit code of the subcommand named by argv[2], or null when argv[2] is not one. */
export function runSubcommand(argv: string[], env: Env, io: IO = processIO): Promise<number> | null {
  const [, , name, ...args] = argv;
  if (name === "status") return runStatus(args, env, io);
  if (name === "sync-now") return runSyncNow(args, env, io);
  return null;
}
