// Shared pieces of the hooks tests: a full Config with hook fields set per test, a logger that
// captures lines, hook scripts in temp dirs, and receivers on 127.0.0.1.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, ExecHookConfig } from "../../src/config/types.ts";
import { testConfig } from "../helpers/config.ts";
import { createHooks, type Hooks } from "../../src/hooks/index.ts";
import { createLogger } from "../../src/log/logger.ts";
import { newSyncState, type SyncState } from "../../src/state/sync-state.ts";

export type HookOverrides = {
  exechook?: Partial<ExecHookConfig>;
  prePublish?: Partial<Config["prePublish"]>;
  webhook?: Partial<Config["webhook"]>;
  oneTime?: boolean;
  repo?: string;
  ref?: string;
};

const offHook: ExecHookConfig = { command: "", argv: [], timeout: 30_000, backoff: 1000 };

export function makeConfig(o: HookOverrides = {}): Config {
  const base = testConfig({ ref: o.ref ?? "main", oneTime: o.oneTime ?? false, verbose: 1, ...(o.repo ? { repo: o.repo } : {}) });
  return {
    ...base,
    exechook: { ...offHook, ...o.exechook },
    prePublish: { ...offHook, gate: false, ...o.prePublish },
    // The 1s minimum backoff keeps retry tests short.
    webhook: { ...base.webhook, backoff: 1000, ...o.webhook },
  };
}

export type LogLine = Record<string, unknown>;

export interface Harness {
  hooks: Hooks;
  state: SyncState;
  lines: LogLine[];
  raw: string[];
}

/** createHooks with a capturing V1 logger; `env` defaults to a PATH-only environment. */
export function harness(config: Config, env: Record<string, string | undefined> = { PATH: process.env.PATH }): Harness {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const logger = createLogger({
    verbosity: 1,
    errorFile: "",
    write(line: string) {
      raw.push(line);
      lines.push(JSON.parse(line) as LogLine);
    },
  });
  const state = newSyncState();
  const hooks = createHooks(config, { state, env: () => env, logger });
  return { hooks, state, lines, raw };
}

/** Write an executable `#!/bin/sh` script. */
export function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A fake worktree dir root/.worktrees/<hash>. */
export function worktree(root: string, hash: string): string {
  const p = join(root, ".worktrees", hash);
  mkdirSync(p, { recursive: true });
  return p;
}

export interface Hit {
  method: string;
  hash: string | null;
  headers: Headers;
  body: string;
  at: number;
}

/** A Bun.serve receiver that records every request and answers with `status`. */
export class Receiver {
  hits: Hit[] = [];
  status = 200;
  private server: ReturnType<typeof Bun.serve> | null = null;
  constructor(
    public port = 0,
    private readonly onHit?: (h: Hit) => void,
  ) {}
  start(): this {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: this.port,
      fetch: async (req) => {
        const hit: Hit = { method: req.method, hash: req.headers.get("Gitsync-Hash"), headers: req.headers, body: await req.text(), at: Date.now() };
        this.hits.push(hit);
        this.onHit?.(hit);
        return new Response(`reply ${this.hits.length}`, { status: this.status });
      },
    });
    this.port = this.server.port ?? this.port;
    return this;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }
  stop(): void {
    this.server?.stop(true);
    this.server = null;
  }
}

/** A raw TCP server answering every request with `response` verbatim, then closing (HTTP/1.0 style). */
export function minimalServer(response: string | ((req: string) => string | null), opts: { close?: boolean } = {}) {
  const requests: string[] = [];
  const server = Bun.listen<{ buf: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: "" };
      },
      data(s, chunk) {
        s.data.buf += chunk.toString();
        if (!s.data.buf.includes("\r\n\r\n")) return;
        requests.push(s.data.buf);
        const out = typeof response === "string" ? response : response(s.data.buf);
        if (out === null) return; // hang: headers never come, or come without an end
        s.write(out);
        if (opts.close !== false) s.end();
      },
    },
  });
  return { requests, url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}

export function messages(lines: LogLine[], msg: string): LogLine[] {
  return lines.filter((l) => l.msg === msg);
}
