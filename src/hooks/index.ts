// Hooks (behaviour.md 5): the runners the sync loop hands hashes to, built from the config.
// The loop calls `prePublish.send()` (or awaits `gate()` in gate mode) before the link swap,
// `exechook.send()` and `webhook.send()` after it and at startup, and in one-time mode awaits
// `firstResult()` of the runners it sent something to.
import type { Config } from "../config/types.ts";
import { log as processLog, type Logger } from "../log/logger.ts";
import type { SyncState } from "../state/sync-state.ts";
import { createExecHookAction } from "./exechook.ts";
import { attempt, hookState, Runner, type HookEvent, type HookRunner } from "./runner.ts";
import { createWebhookAction } from "./webhook.ts";

export type { HookEvent, HookName, HookRunner } from "./runner.ts";
export { HASH_HEADER, SIGNATURE_HEADER, webhookPayload } from "./webhook.ts";
export { signBody } from "../lib/secrets.ts";

export interface Hooks {
  exechook?: HookRunner;
  webhook?: HookRunner;
  /** Absent in gate mode: the gate runs the pre-publish hook instead. */
  prePublish?: HookRunner;
  /** Gate mode only (config.prePublish.gate): run the pre-publish hook for ev now and say whether it passed. */
  gate?: (ev: HookEvent) => Promise<{ ok: boolean; error: string }>;
  /** Stop retry loops (process shutdown). A hook process already running is left to exec's shutdown kill. */
  stop(): void;
}

/**
 * Hands ev to the hooks that run after a publish (exechook, then webhook); returns those that got
 * it, which --one-time waits for. The symlink and copy modes publish differently, then both call this.
 */
export function sendPublished(hooks: Hooks, ev: HookEvent): HookRunner[] {
  const sent: HookRunner[] = [];
  for (const runner of [hooks.exechook, hooks.webhook]) {
    if (!runner) continue;
    runner.send(ev);
    sent.push(runner);
  }
  return sent;
}

export interface HookDeps {
  state: SyncState;
  /** git-sync's process environment, private git config variables included; read at each run. */
  env: () => Record<string, string | undefined>;
  /** The parent logger of the hook loggers (tests pass their own); defaults to the process logger. */
  logger?: Logger;
}

export function createHooks(config: Config, deps: HookDeps): Hooks {
  const root = deps.logger ?? processLog;
  const runners: Runner[] = [];
  const hooks: Hooks = {
    stop() {
      for (const r of runners) r.stop();
    },
  };
  const runner = (action: ConstructorParameters<typeof Runner>[0], log: Logger) => {
    const r = new Runner(action, hookState(deps.state, action.name), log, config.oneTime);
    runners.push(r);
    return r;
  };

  if (config.exechook.command !== "" || config.exechook.argv.length > 0) {
    const log = root.named("exechook");
    hooks.exechook = runner(createExecHookAction("exechook", config.exechook, { env: deps.env, log }), log);
  }

  const pp = config.prePublish;
  if (pp.command !== "" || pp.argv.length > 0) {
    const log = root.named("pre-publish-exechook");
    const action = createExecHookAction("pre-publish-exechook", pp, { env: deps.env, log });
    if (pp.gate) {
      const state = hookState(deps.state, action.name);
      // One synchronous try per call; the loop owns the retry (after pp.backoff) and supersession.
      hooks.gate = async (ev) => {
        state.pending = ev.hash;
        return attempt(action, ev, state, log);
      };
    } else {
      hooks.prePublish = runner(action, log);
    }
  }

  if (config.webhook.url !== "") {
    const log = root.named("webhook");
    hooks.webhook = runner(createWebhookAction(config, log), log);
  }
  return hooks;
}
