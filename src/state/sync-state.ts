// What the sync loop knows about itself: written by the loop and the hook runners, read by the
// HTTP endpoint (probe, readiness, /status). Plain data at the bottom of the house (src/state/),
// so the endpoint that reads it and the loop that writes it need not know each other.

export interface HookState {
  name: string;
  /** Latest hash handed to the runner. */
  pending: string;
  /** Last hash the hook succeeded for. */
  lastSuccessHash: string;
  lastRun: number | null;
  lastError: string;
  consecutiveFailures: number;
  running: boolean;
}

/** The last signature verdict (--verify-signatures, src/verify/), or a host's refused answer. */
export interface VerifyState {
  /** good, unsigned, unknown-key, bad-signature, key-expired, wrong-namespace, outside-validity, not-a-tag, unsupported, host-lied, bad-tree. */
  result: string;
  /** The object whose signature decided: "commit" or "tag". */
  object: string;
  /** That object's hash. */
  oid: string;
  /** The commit the ref peels to. */
  hash: string;
  signer: string;
  /** SHA256:... for SSH keys, the hex fingerprint (or key ID) for OpenPGP; "" when unsigned. */
  fingerprint: string;
  reason: string;
  time: number;
}

export interface SyncState {
  startedAt: number;
  /** True after the first successful attempt of this process; never goes back (behaviour.md 7). */
  ready: boolean;
  /** The hash this process last synced; "" before its first successful attempt. */
  hash: string;
  /**
   * The hash the link served when this process started (published by an earlier one), "" when
   * none: what /status reports, marked as such, until this process's first success.
   */
  servedAtStart: string;
  /**
   * The full remote ref name --ref resolved to at the last poll (e.g. "refs/heads/main"), or ""
   * when unknown (not polled yet, a hash ref, or a poll that could not tell). The push trigger
   * uses it to ignore pushes to other refs.
   */
  remoteRef: string;
  lastAttempt: number | null;
  lastSuccess: number | null;
  consecutiveFailures: number;
  lastError: string;
  syncCount: number;
  hooks: Record<string, HookState>;
  /** --also-link (issue 15): each extra ref's own state; empty with one ref. */
  links: LinkState[];
  /** Null until a signature is checked or a host's answer refused. */
  verify: VerifyState | null;
  /** --serve-git (issue 22): the mirror at /git; null without it. Only the main ref's state has it. */
  serve: ServeState | null;
  /** --peers (issue 23): this replica in its fleet; null without it. Only the main ref's state has it. */
  peers: PeersState | null;
}

/** A replica of a --peers fleet (src/peers/), as /status and `git-sync status` show it. */
export interface PeersState {
  /** The DNS name (--peers). */
  name: string;
  /** This replica's address:port; "" when it could not tell. */
  self: string;
  /** "owner": it asks the git host; "follower": it syncs from the owner. */
  role: "owner" | "follower";
  /** The owner's address:port (this replica's own when it owns). */
  owner: string;
  /** Where the last attempt synced from. */
  source: "host" | "peer" | "";
  /** The last DNS answer, address:port each. */
  peers: string[];
  /** Peers that failed lately and are passed over until their backoff ends. */
  down: string[];
  /** When NAME was last resolved (epoch ms); null before. */
  resolvedAt: number | null;
  resolveError: string;
  /** Polls and fetches this replica made to the git host, and to peers. */
  hostRequests: number;
  peerRequests: number;
  nudgesSent: number;
  nudgesReceived: number;
  /** Requests refused for a missing or wrong secret (/git and nudges). */
  refused: number;
}

/** The read-only mirror at /git (src/serve/), as /status and `git-sync status` show it. */
export interface ServeState {
  /** How a request proves itself: the secret file's secret, or nothing (--serve-git-anonymous). */
  auth: "secret" | "anonymous";
  /** --serve-git-max-packs. */
  maxPacks: number;
  /** git processes running for /git requests now. */
  inFlight: number;
  /** Requests answered, by result (ok, unauthorized, busy, refused, ...). */
  requests: Record<string, number>;
  /** Bytes of git protocol sent (advertisements, ref lists and packs). */
  bytesSent: number;
  /** What is advertised now: full ref name -> object; empty until something is published. */
  refs: Array<{ name: string; oid: string }>;
  /** When the advertisement last changed (a link moved), epoch ms; null before the first. */
  changedAt: number | null;
}

/** One --also-link ref: its name, ref and link path, and the same fields as the main ref's. */
export interface LinkState {
  name: string;
  ref: string;
  link: string;
  state: SyncState;
}

export function newSyncState(): SyncState {
  return {
    startedAt: Date.now(),
    ready: false,
    hash: "",
    servedAtStart: "",
    remoteRef: "",
    lastAttempt: null,
    lastSuccess: null,
    consecutiveFailures: 0,
    lastError: "",
    syncCount: 0,
    hooks: {},
    links: [],
    verify: null,
    serve: null,
    peers: null,
  };
}
