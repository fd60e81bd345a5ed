// The exechook of examples/exechook.yaml in test/pod, compiled with `bun build --compile` (the
// image has no shell) and shipped in a throw-away image the Pod's init container copies it
// from. Appends GITSYNC_HASH to hook.txt in its working directory: the worktree git-sync has
// just published, so the app container reads it as /code/<link>/hook.txt.
import { appendFileSync } from "node:fs";

appendFileSync("hook.txt", `${process.env.GITSYNC_HASH ?? ""}\n`);
