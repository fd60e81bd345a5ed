// The exechook used by the image test, compiled with `bun build --compile` into a standalone
// executable: the distroless image has no shell, so a hook must be a program, not a script.
// Appends "<GITSYNC_HASH> <cwd>" to $HOOK_OUT (default /out/hook.txt).
import { appendFileSync } from "node:fs";

appendFileSync(process.env.HOOK_OUT ?? "/out/hook.txt", `${process.env.GITSYNC_HASH ?? ""} ${process.cwd()}\n`);
