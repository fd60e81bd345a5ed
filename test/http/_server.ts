// Shared by the HTTP and CLI tests: a real server on 127.0.0.1 around a hand-built SyncState.
import type { Config } from "../../src/config/types.ts";
import { startHttpServer, type HttpConfig, type HttpServer } from "../../src/http/server.ts";
import { createLogger, type Logger } from "../../src/log/logger.ts";
import { newSyncState, type SyncState } from "../../src/state/sync-state.ts";

export interface TestServer {
  server: HttpServer;
  state: SyncState;
  base: string;
  logs: string[];
  syncRequests: () => number;
  stop(): void;
}

export function testLogger(lines: string[]): Logger {
  return createLogger({ verbosity: 9, errorFile: "", write: (l) => void lines.push(l) });
}

export function startTestServer(overrides: Partial<Pick<Config, keyof HttpConfig>> = {}): TestServer {
  const config: HttpConfig = {
    httpBind: "127.0.0.1:0",
    httpMetrics: false,
    httpPprof: false,
    httpSyncSecretFile: "",
    // No spacing by default, so each accepted push is one wake; the coalescing tests set it.
    httpSyncMinInterval: 0,
    readinessMaxFailures: 0,
    readinessMaxAge: 0,
    repo: "https://user:hunter2@git.example.com/org/repo.git",
    ref: "main",
    root: "/tmp/git",
    link: "/tmp/git/repo",
    ...overrides,
  };
  const state = newSyncState();
  const logs: string[] = [];
  let requests = 0;
  const server = startHttpServer(config, { state, log: testLogger(logs), requestSync: () => void requests++ });
  return {
    server,
    state,
    base: `http://127.0.0.1:${server.port}`,
    logs,
    syncRequests: () => requests,
    stop: () => server.stop(),
  };
}
