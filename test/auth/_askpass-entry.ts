// A stand-in for the compiled git-sync while its entry point is still being written: only the
// internal modes (GIT_ASKPASS, GIT_SSH). Compiled by _fixtures.ts into a temp dir.
import { runInternalMode } from "../../src/auth/internal.ts";

const run = runInternalMode(process.argv, process.env);
if (run === null) {
  process.stderr.write("_askpass-entry: not an internal-mode invocation\n");
  process.exit(2);
}
process.exit(await run);
