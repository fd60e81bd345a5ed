// Entry point: argv + env -> validated config -> sync loop. Owns the exit code.
import { VERSION } from "./version.ts";

if (process.argv.includes("--version")) {
  process.stdout.write(VERSION + "\n");
  process.exit(0);
}
process.stderr.write("not implemented yet\n");
process.exit(1);
