// The plain-git floor: the least work plain git does for each job git-sync does, run the way a
// minimal shell-script syncer would run it. Every figure in the table is divided by these.
//
//   idle poll         `git ls-remote <url> HEAD`: ask the remote where the ref points
//   cold sync         init + shallow fetch + worktree + atomic symlink swap, as one /bin/sh script
//                     (so it pays a process start, as git-sync does)
//   incremental sync  after a new commit: shallow fetch + worktree + symlink swap, same script style
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gitEnv } from "../../test/helpers/index.ts";
import { runTimedOk, type Finished } from "./proc.ts";

// git writes FETCH_HEAD as "<hash>\t...": `read` (a shell builtin) takes the hash without
// starting another program. ln + mv -T is the portable atomic swap: readers see the old link
// or the new one, never none.
const PUBLISH = `read -r hash _ < .git/FETCH_HEAD
git worktree add -q --detach ".worktrees/$hash" "$hash"
ln -s ".worktrees/$hash" tmp-link
mv -T tmp-link link
`;

const COLD = `set -e
git init -q "$1"
cd "$1"
git fetch -q --depth 1 "$2" "$3"
${PUBLISH}`;

const INCREMENTAL = `set -e
cd "$1"
git fetch -q --depth 1 "$2" "$3"
${PUBLISH}`;

export class Floor {
  private readonly cold: string;
  private readonly incremental: string;

  constructor(dir: string) {
    this.cold = join(dir, "floor-cold.sh");
    this.incremental = join(dir, "floor-incremental.sh");
    writeFileSync(this.cold, COLD);
    writeFileSync(this.incremental, INCREMENTAL);
  }

  /** One idle poll. */
  lsRemote(url: string): Promise<Finished> {
    return runTimedOk(["git", "ls-remote", url, "HEAD"], gitEnv());
  }

  /** A first sync into `root` (which must not exist yet). */
  coldSync(root: string, url: string): Promise<Finished> {
    return runTimedOk(this.coldArgv(root, url), gitEnv());
  }

  coldArgv(root: string, url: string): string[] {
    return ["/bin/sh", this.cold, root, url, "HEAD"];
  }

  /** Catching up `root` (made by coldSync) with a new commit. */
  incrementalSync(root: string, url: string): Promise<Finished> {
    return runTimedOk(["/bin/sh", this.incremental, root, url, "HEAD"], gitEnv());
  }
}
