// Config resolution: argv + env -> a validated Config, or an exit (help, version, errors).
// Pure: it prints nothing, writes nothing and never exits; main does that from the result.
import { OPTIONS, type OptionValue } from "./options.ts";
import { ParseFailure, parseArgv, readEnv } from "./parse.ts";
import { ConfigError, validate } from "./validate.ts";
import { manual, usage } from "./help.ts";
import type { ConfigResult } from "./types.ts";

export type * from "./types.ts";
export { OPTIONS, findOption, isHidden, type OptionName, type OptionSpec, type OptionType, type OptionValues } from "./options.ts";
export { ParseFailure, parseArgv, parseCredentials, readEnv, type ParseState } from "./parse.ts";
export { absPath, defaultLinkName, makeAbsPath } from "./paths.ts";
export { ConfigError, resolveSignal, validate, type Validated } from "./validate.ts";
export { parseGitConfigList } from "./gitconfig.ts";
export { hookEnv, redactArgv, shownLink } from "./shown.ts";
export { manual, usage } from "./help.ts";

const lines = (ls: string[]) => ls.map((l) => l + "\n").join("");

/** Printed after a flag or config error instead of upstream's 70-line usage. */
export const SEE_HELP = "run 'git-sync --help' for usage";

/**
 * behaviour.md 2: env (read first, as upstream does while defining flags), then argv (without the
 * program name), then --version/--help/--man, then the 2.4 rules. `warnings` are the plain
 * stderr lines main prints before it starts; `logs` are V0 messages for the logger.
 */
export function resolveConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  opts: { cwd: string; version: string },
): ConfigResult {
  let st;
  try {
    st = readEnv(env);
  } catch (e) {
    if (!(e instanceof ParseFailure)) throw e;
    // Deprecation lines for options read before the bad one were already printed upstream.
    return { kind: "exit", code: 1, stdout: "", stderr: lines([...e.warnings, e.message]) };
  }
  // Defaults as the flags were defined, i.e. with env applied: what --help shows.
  const shown: Record<string, OptionValue> = {};
  for (const o of OPTIONS) shown[o.name] = structuredClone((st.values as Record<string, OptionValue>)[o.name]!);
  // Built only when printed: the usage text costs ~1.5 ms and a normal start never shows it.
  const help = () => usage(shown);

  try {
    parseArgv(st, argv);
  } catch (e) {
    if (!(e instanceof ParseFailure)) throw e;
    // pflag prints the error, the usage, and (from Parse's ExitOnError) the error again; we
    // print the error and where the usage is (README "Decisions"). Same exit code.
    return { kind: "exit", code: 2, stdout: "", stderr: lines([...st.warnings, e.message, SEE_HELP]) };
  }

  const warned = lines(st.warnings);
  if (st.values.version) return { kind: "exit", code: 0, stdout: opts.version + "\n", stderr: warned };
  if (st.values.help || st.values["__?"]) return { kind: "exit", code: 0, stdout: help(), stderr: warned };
  if (st.values.man) return { kind: "exit", code: 0, stdout: manual(), stderr: warned };

  try {
    const { config, logs } = validate(st, opts.cwd);
    return { kind: "run", config, warnings: st.warnings, logs };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Upstream: message, usage, message. The usage would bury the one line that matters.
    const stderr = warned + lines([e.message, SEE_HELP]);
    return {
      kind: "exit",
      code: 1,
      stdout: "",
      stderr,
      ...(e.errorFile !== "" ? { errorFile: { path: e.errorFile, content: e.message } } : {}),
    };
  }
}
