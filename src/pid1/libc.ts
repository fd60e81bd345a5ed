// The few libc calls the PID-1 init needs and JavaScript cannot make: posix_spawn (a child Bun
// does not know about, so Bun's own reaper never races ours for its exit status) and
// waitpid(-1, WNOHANG) (collecting orphans that were re-parented to us).
// bun:ffi is required on first use: loading it costs ~2.5 ms, and only PID 1 needs it.
type FFI = typeof import("bun:ffi");
const ffi = (): FFI => require("bun:ffi") as FFI;
const ptr = (v: Parameters<FFI["ptr"]>[0]) => ffi().ptr(v);

// glibc first (the release binaries link against it), then musl's names.
const LIBC_CANDIDATES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

function symbols(FFIType: FFI["FFIType"]) {
  return {
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    posix_spawn: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    posix_spawnattr_init: { args: [FFIType.ptr], returns: FFIType.i32 },
    posix_spawnattr_setflags: { args: [FFIType.ptr, FFIType.i16], returns: FFIType.i32 },
    posix_spawnattr_setsigmask: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    posix_spawnattr_setsigdefault: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    sigemptyset: { args: [FFIType.ptr], returns: FFIType.i32 },
    sigfillset: { args: [FFIType.ptr], returns: FFIType.i32 },
  } as const;
}

type Lib = ReturnType<typeof import("bun:ffi").dlopen<ReturnType<typeof symbols>>>["symbols"];

// Linux values, identical in glibc and musl.
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
// Opaque libc structs: glibc's posix_spawnattr_t is 336 bytes and sigset_t 128; generous sizes
// keep us safe on other libcs.
const ATTR_BYTES = 1024;
const SIGSET_BYTES = 256;

export function openLibc(): Lib {
  const errors: string[] = [];
  for (const name of LIBC_CANDIDATES) {
    try {
      const { dlopen, FFIType } = ffi();
      return dlopen(name, symbols(FFIType)).symbols;
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`can't load libc (${errors.join("; ")})`);
}

function cString(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** A NULL-terminated char*[]; the returned buffers must stay referenced until the call returns. */
function cStringArray(items: string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = items.map(cString);
  const array = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/**
 * Start `argv` with `env`, stdin/stdout/stderr inherited. The child gets an empty signal mask
 * and default dispositions for every signal, whatever Bun's runtime set up in this process.
 */
export function spawnChild(lib: Lib, path: string, argv: string[], env: Record<string, string | undefined>): number {
  const attr = new Uint8Array(ATTR_BYTES);
  const empty = new Uint8Array(SIGSET_BYTES);
  const full = new Uint8Array(SIGSET_BYTES);
  const check = (what: string, rc: number) => {
    if (rc !== 0) throw new Error(`${what}: errno ${rc}`);
  };
  check("posix_spawnattr_init", lib.posix_spawnattr_init(ptr(attr)));
  check("sigemptyset", lib.sigemptyset(ptr(empty)));
  check("sigfillset", lib.sigfillset(ptr(full)));
  check("posix_spawnattr_setsigmask", lib.posix_spawnattr_setsigmask(ptr(attr), ptr(empty)));
  check("posix_spawnattr_setsigdefault", lib.posix_spawnattr_setsigdefault(ptr(attr), ptr(full)));
  check("posix_spawnattr_setflags", lib.posix_spawnattr_setflags(ptr(attr), POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));

  const args = cStringArray(argv);
  const envp = cStringArray(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  const pidOut = new Int32Array(1);
  const pathBuf = cString(path);
  const rc = lib.posix_spawn(ptr(pidOut), ptr(pathBuf), null, ptr(attr), ptr(args.array), ptr(envp.array));
  // Referenced after the call so the collector cannot free them while libc reads them.
  void args.keep.length;
  void envp.keep.length;
  if (rc !== 0) throw new Error(`can't start ${path}: errno ${rc}`);
  return pidOut[0]!;
}

export interface Reaped {
  pid: number;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: number | null;
}

/** One waitpid(-1, WNOHANG): a reaped child, or null when none is ready (or none is left). */
export function reapOne(lib: Lib, status: Int32Array): Reaped | null {
  const pid = lib.waitpid(-1, ptr(status), WNOHANG);
  if (pid <= 0) return null;
  const st = status[0]!;
  const termsig = st & 0x7f;
  if (termsig === 0) return { pid, code: (st >> 8) & 0xff, signal: null };
  return { pid, code: null, signal: termsig };
}
