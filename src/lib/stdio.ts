// Writing to our own stdout and stderr without Node's stream objects. The first touch of
// `process.stdout` / `process.stderr` builds a net/stream module graph that costs ~5 ms of every
// start (measured with `bun --cpu-prof`), which is a fifth of a cold one-time sync on a small
// repo. A log line is small and is written whole, synchronously, as Go's logger does.
import { readlinkSync, realpathSync, writeSync } from "node:fs";

const again = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, data: string | Uint8Array): void {
  let buf = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking pipe that is full (its reader is slow): wait a moment and go on.
      if (code === "EAGAIN") {
        Atomics.wait(again, 0, 0, 1);
        continue;
      }
      // Nobody reads this stream any more (EPIPE) or it is closed (EBADF): nothing to tell.
      return;
    }
  }
}

export function writeStdout(text: string): void {
  writeAll(1, text);
}

export function writeStderr(data: string | Uint8Array): void {
  writeAll(2, data);
}

/** Whether stderr is a terminal; read from /proc because node:tty would load the stream graph. */
export function stderrIsTerminal(): boolean {
  try {
    return /^\/dev\/(pts\/|tty|console$)/.test(readlinkSync("/proc/self/fd/2"));
  } catch {
    // No /proc (the macOS builds): isatty(3), at the price of node:tty there.
    if (process.platform === "linux") return false;
    return (require("node:tty") as typeof import("node:tty")).isatty(2);
  }
}

/**
 * Whether stderr is a person's terminal: a terminal, and this process is not a container's main
 * process. A container's terminal (`tty: true`, `docker run -t`) feeds `kubectl logs` and the
 * pipelines built for upstream's JSON lines, not a reader, so it gets neither text logs nor git's
 * progress by default. A container's main process is PID 1, the child our init started (its
 * parent is PID 1 running this same executable), or anything in a Kubernetes Pod (every container
 * there has KUBERNETES_SERVICE_HOST).
 */
export function stderrIsPersonsTerminal(env: Record<string, string | undefined> = process.env): boolean {
  if (!stderrIsTerminal()) return false;
  if (env.KUBERNETES_SERVICE_HOST !== undefined || process.pid === 1) return false;
  if (process.ppid !== 1) return true;
  try {
    return realpathSync("/proc/1/exe") !== realpathSync(process.execPath);
  } catch {
    return true; // another user's init (a laptop's systemd): not ours
  }
}
