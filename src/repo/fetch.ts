// Fetch exactly the ref we sync (compat.md 4.2 steps 4-5): by URL, not by `origin`, shallow by
// default, unshallowing when --depth goes to 0, and peeling annotated tags to their commit.
import { stderrIsTerminal } from "../lib/stdio.ts";
import { redactURL } from "../log/redact.ts";
import type { RepoContext } from "./context.ts";

export async function fetchRef(ctx: RepoContext, deadline: number): Promise<string> {
  const { config, git, root, repo, log } = ctx;
  log.v(2, "fetching", { ref: config.ref, repo: redactURL(repo) });
  // A person watching a long one-time sync on a terminal sees git's progress; logs and pipes
  // (every container) get none of it.
  const progress = config.oneTime && stderrIsTerminal();
  const args = ["fetch", repo, config.ref, "--verbose", progress ? "--progress" : "--no-progress", "--prune", "--no-auto-gc"];
  if (config.depth > 0) {
    args.push("--depth", String(config.depth));
  } else {
    const shallow = (await git.run(["rev-parse", "--is-shallow-repository"], { cwd: root, deadline })).stdout.trim();
    if (shallow === "true") args.push("--unshallow");
    else if (shallow !== "false") throw new Error(`unexpected output from rev-parse --is-shallow-repository: ${JSON.stringify(shallow)}`);
  }
  if (config.filter !== "") args.push("--filter", config.filter);
  await git.run(args, { cwd: root, deadline, env: ctx.remoteEnv(), teeStderr: progress });
  return (await git.run(["rev-parse", "FETCH_HEAD^{}"], { cwd: root, deadline })).stdout.trim();
}
