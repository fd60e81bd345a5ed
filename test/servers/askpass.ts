// An --askpass-url server: answers `username=…\npassword=…\n`, or misbehaves on purpose.
//   ok       200 with the current credentials
//   status   always the given status (e.g. 500, or 302 to check that redirects are not followed)
//   flaky    every other call gets 503 (the 1st, 3rd, … fail)
//   slow     the first `slowCalls` calls answer after `delayMs` (beyond the 1s client timeout)
//   alternate every other call answers 200 with a wrong password (the 1st, 3rd, … are wrong)

export type AskpassMode = { kind: "ok" } | { kind: "status"; status: number } | { kind: "flaky" } | { kind: "slow"; slowCalls: number; delayMs: number } | { kind: "alternate" };

export interface AskpassServer {
  url: string;
  /** Change what the next calls get. */
  mode: AskpassMode;
  username: string;
  password: string;
  calls: number;
  stop(): void;
}

/** `port`: listen there (a test that starts the server late picks it first); default any free port. */
export function startAskpassServer(init: { username: string; password: string; mode?: AskpassMode; port?: number }): AskpassServer {
  const state: AskpassServer = {
    url: "",
    mode: init.mode ?? { kind: "ok" },
    username: init.username,
    password: init.password,
    calls: 0,
    stop: () => {},
  };
  const ok = (password = state.password) => new Response(`username=${state.username}\npassword=${password}\n`, { status: 200 });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: init.port ?? 0,
    async fetch() {
      state.calls++;
      const m = state.mode;
      switch (m.kind) {
        case "ok":
          return ok();
        case "status":
          return new Response(`status ${m.status}\n`, { status: m.status, headers: m.status >= 300 && m.status < 400 ? { Location: "/elsewhere" } : {} });
        case "flaky":
          return state.calls % 2 === 1 ? new Response("try again\n", { status: 503 }) : ok();
        case "alternate":
          return state.calls % 2 === 1 ? ok(`wrong-${state.password}`) : ok();
        case "slow":
          if (state.calls <= m.slowCalls) await Bun.sleep(m.delayMs);
          return ok();
      }
    },
  });
  state.url = `http://127.0.0.1:${server.port}/creds`;
  state.stop = () => void server.stop(true);
  return state;
}
