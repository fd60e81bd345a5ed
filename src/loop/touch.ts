// --touch-file (behaviour.md 4.7): "a sync happened" for readers that watch a file.
// A touch file in root or inside a link is never touched through a symlink a commit or a
// neighbour placed on its path (lib/no-follow.ts): that touch is refused and logged as an error.
import { closeSync, constants, futimesSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { refuseSymlinkOnPath, underUntrusted } from "../lib/no-follow.ts";
import type { Logger } from "../log/logger.ts";

export function touch(log: Logger, path: string): void {
  try {
    refuseSymlinkOnPath(path, "touch-file");
    mkdirSync(dirname(path), { recursive: true, mode: 0o775 });
    // O_NOFOLLOW where others control the path; elsewhere a symlink the operator made is theirs.
    const nofollow = underUntrusted(path) ? constants.O_NOFOLLOW : 0;
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NONBLOCK | nofollow, 0o666);
    try {
      const now = new Date();
      futimesSync(fd, now, now);
    } finally {
      closeSync(fd);
    }
    log.v(3, "touched touch-file", { path });
  } catch (e) {
    log.error(e, "failed to touch touch-file", { path });
  }
}
