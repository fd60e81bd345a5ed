// --add-user (behaviour.md 3 step 6): ssh refuses to run for a UID without a passwd entry on older
// OpenSSH, so give an arbitrary UID (OpenShift, `runAsUser`) one in the writable /etc/passwd.
import { appendFileSync, readFileSync } from "node:fs";
import { FatalAuthError } from "./github.ts";

export function hasPasswdEntry(passwd: string, uid: number): boolean {
  return passwd.split("\n").some((line) => line.split(":")[2] === String(uid));
}

/** Returns true when a line was added. Any failure is fatal (exit 1), as upstream. */
export function addUser(opts: { passwdFile?: string; uid?: number; gid?: number; home?: string } = {}): boolean {
  const file = opts.passwdFile ?? "/etc/passwd";
  const uid = opts.uid ?? process.getuid!();
  const gid = opts.gid ?? process.getgid!();
  const home = opts.home ?? (process.env.HOME || process.cwd());
  try {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (hasPasswdEntry(current, uid)) return false;
    appendFileSync(file, `git-sync:x:${uid}:${gid}::${home}:/sbin/nologin\n`);
    return true;
  } catch (e) {
    throw new FatalAuthError("can't add user", { cause: e });
  }
}
