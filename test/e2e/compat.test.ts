// Invocations from the field that must keep working (behaviour.md 2.3, 12): the seed's v3
// environment and upstream's standard e2e invocation.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { countMsg, expectExit0, freePort, head, linkHash, linkTarget, scenario } from "../helpers/index.ts";

test.concurrent("sync with the seed's v3 environment (GIT_SYNC_REPO, _BRANCH, _ROOT, _WAIT)", async () => {
  await using t = await scenario({ repoName: "repository.git" });
  const r = expectExit0(await t.run([], {
    env: {
      GIT_SYNC_REPO: t.repo,
      GIT_SYNC_BRANCH: "main",
      GIT_SYNC_ROOT: t.root,
      GIT_SYNC_WAIT: "3",
      GITSYNC_ONE_TIME: "true",
    },
  }));
  const link = join(t.root, "repository.git");
  expect(linkHash(link)).toBe(head(t.repo));
  expect(linkTarget(link)).toBe(`.worktrees/${head(t.repo)}`);
  expect(r.stderr).toContain("env $GIT_SYNC_REPO has been deprecated, use $GITSYNC_REPO instead");
  expect(r.stderr).toContain("env $GIT_SYNC_ROOT has been deprecated, use $GITSYNC_ROOT instead");
  expect(countMsg(r.stderr, "setting --ref from deprecated --branch")).toBe(1);
  expect(countMsg(r.stderr, "setting --period from deprecated --wait")).toBe(1);
});

test.concurrent("accept upstream's standard e2e invocation", async () => {
  await using t = await scenario();
  const port = freePort();
  const r = await t.sync(
    "-v=6",
    "--add-user",
    "--group-write",
    "--touch-file=touch",
    `--http-bind=:${port}`,
    "--http-metrics",
    "--http-pprof",
    "--git-config-add=a.b:c",
    "--git-config-add=d.e:f",
  );
  expect(r.code).toBe(0);
  expect(t.hash()).toBe(head(t.repo));
  expect(existsSync(join(t.root, "touch"))).toBe(true);
  const gitConfig = r.stderr.split("\n").find((l) => l.includes('"msg":"git config"')) ?? "";
  expect(gitConfig).toContain('"a.b":"c"');
  expect(gitConfig).toContain('"d.e":"f"');
});
