// Stand-in for src/main.ts's dispatch until the lead wires runSubcommand() in: lets the CLI
// tests run a subcommand as its own process, the way `kubectl exec` does.
import { runSubcommand } from "../../src/cli/index.ts";

const run = runSubcommand(process.argv, process.env);
process.exit(run ? await run : 99);
