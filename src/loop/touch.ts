// --touch-file (compat.md 4.7): "a sync happened" for readers that watch a file.
import { closeSync, mkdirSync, openSync, utimesSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log/logger.ts";

export function touch(log: Logger, path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o775 });
    closeSync(openSync(path, "a"));
    const now = new Date();
    utimesSync(path, now, now);
    log.v(3, "touched touch-file", { path });
  } catch (e) {
    log.error(e, "failed to touch touch-file", { path });
  }
}
