// The poll: where does --ref point on the remote now? Asked with the cheapest correct request:
// no process at all for a repo on this machine (its ref files are read, local-refs.ts) or over
// http(s) (an in-process smart-HTTP request, smart-http.ts), one `git ls-remote` otherwise (ssh,
// or http with settings we don't reproduce). The answer only says whether to fetch: the sync
// fetches by ref and publishes what its own objects peel the fetched ref to (fetch.ts), holding
// the answer to it (verify/index.ts), so a ref that moves between poll and fetch is right and a
// host that lies about a peel is caught.
//
// A query that cannot tell (an error, a ref it does not find, an abbreviated hash) answers null
// and the caller fetches as before, so a failing poll costs one extra request and git's own fetch
// error is still the one reported.
import { pickSemverTag, semverRange } from "../lib/semver.ts";
import type { GitConfigEntry, RepoContext } from "./context.ts";
import { listLocalRefs, listLocalTagNames, localRepoPath } from "./local-refs.ts";
import { SmartHTTP, smartHTTPSettings, type HTTPCredential, type SmartHTTPSettings } from "./smart-http.ts";

export interface RemoteRef {
  /** The full ref name --ref resolved to (`refs/heads/main`; for HEAD, the branch it points to when known). */
  name: string;
  /** The ref's own object: a commit, or an annotated tag. */
  oid: string;
  /** The commit it peels to (what we check out and name the worktree after). */
  hash: string;
}

/** A remote's refs: name -> object, `^{}` peeled values kept separately, plus symrefs (HEAD). */
export interface RefListing {
  refs: Map<string, { oid: string; peeled?: string }>;
  symrefs: Map<string, string>;
}

export interface RemoteQuery {
  /** Where --ref points; null when this query can't tell: the caller fetches and learns the answer there. */
  resolve(deadline: number): Promise<RemoteRef | null>;
  /**
   * Several refs with one request (--also-link, issue 15): each ref's answer, null for a ref the
   * remote does not have; the whole answer null when the query can't tell. A full hash answers
   * itself without asking.
   */
  resolveMany(refs: readonly string[], deadline: number): Promise<Map<string, RemoteRef | null> | null>;
  /** The fetch that followed a null answer succeeded; a query that keeps failing where git works gives way. */
  fetchWorked(): void;
  readonly kind: "ls-remote" | "in-process http" | "local files" | "peer";
  /**
   * The answer names what to fetch (`--ref=semver:`: the chosen tag), so the sync must ask even
   * when it runs the full checks, and resolve() throws instead of answering null.
   */
  readonly fetchByAnswer?: boolean;
  /**
   * A git-sync peer's mirror (--peers, src/peers/): the answer is proven by the secret and the
   * fetch git makes is not, so every attempt asks first (resolve() throws rather than answer
   * null) and fetches the very object the answer named, by its id.
   */
  readonly fetchByOid?: boolean;
}

const FULL_HASH = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The candidates git tries for a short name, best first (refs.c ref_rev_parse_rules; fetch picks
 * the remote ref that matches the earliest rule, remote.c find_ref_by_name_abbrev).
 */
export function refCandidates(ref: string): string[] {
  return [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`, `refs/remotes/${ref}`, `refs/remotes/${ref}/HEAD`];
}

export function pickRef(ref: string, listing: RefListing): RemoteRef | null {
  for (const name of refCandidates(ref)) {
    const r = listing.refs.get(name);
    if (!r) continue;
    return { name: listing.symrefs.get(name) ?? name, oid: r.oid, hash: r.peeled ?? r.oid };
  }
  return null;
}

/** `git ls-remote --symref` output: "<oid>\t<name>", "<oid>\t<name>^{}", "ref: <target>\t<name>". */
export function parseLsRemote(out: string): RefListing {
  const listing: RefListing = { refs: new Map(), symrefs: new Map() };
  for (const line of out.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const left = line.slice(0, tab);
    const name = line.slice(tab + 1);
    if (left.startsWith("ref: ")) {
      listing.symrefs.set(name, left.slice(5));
    } else if (name.endsWith("^{}")) {
      const base = listing.refs.get(name.slice(0, -3));
      if (base) base.peeled = left;
    } else {
      listing.refs.set(name, { oid: left });
    }
  }
  return listing;
}

/** The refs a query lists for `refs`: every candidate of each (a full hash needs none). */
function candidatesOf(refs: readonly string[]): string[] {
  return [...new Set(refs.filter((r) => !FULL_HASH.test(r)).flatMap(refCandidates))];
}

/** The three ways to ask share the answers; each only says how it lists the candidates. */
abstract class ListingQuery implements RemoteQuery {
  abstract readonly kind: RemoteQuery["kind"];
  constructor(protected readonly ctx: RepoContext) {}

  /**
   * The remote's refs among `candidates` (of `refs`; pickRef takes the first of each that is
   * listed), or null when this way of asking can't tell.
   */
  abstract listing(candidates: string[], deadline: number, refs: readonly string[]): Promise<RefListing | null>;

  /** Every tag, for `--ref=semver:` (SemverTags); throws what the remote or git said. */
  abstract tags(deadline: number): Promise<TagList>;

  async resolve(deadline: number): Promise<RemoteRef | null> {
    const ref = this.ctx.config.ref;
    const listing = await this.listing(refCandidates(ref), deadline, [ref]);
    return listing && pickRef(ref, listing);
  }

  async resolveMany(refs: readonly string[], deadline: number): Promise<Map<string, RemoteRef | null> | null> {
    const candidates = candidatesOf(refs);
    const listing = candidates.length > 0 ? await this.listing(candidates, deadline, refs) : { refs: new Map(), symrefs: new Map() };
    if (!listing) return null;
    return new Map(refs.map((r) => [r, FULL_HASH.test(r) ? { name: r, oid: r, hash: r } : pickRef(r, listing)]));
  }

  fetchWorked(): void {}
}

class LsRemote extends ListingQuery {
  readonly kind = "ls-remote";

  async listing(candidates: string[], deadline: number): Promise<RefListing | null> {
    const { ctx } = this;
    try {
      // Patterns match the tail of a ref name, so each candidate is spelled out (a bare "other"
      // misses refs/remotes/other/HEAD), and so is its peeled "^{}" line, which a tag needs.
      const patterns = candidates.flatMap((c) => [c, `${c}^{}`]);
      const r = await ctx.git.run(["ls-remote", "--symref", ctx.repo, ...patterns], { cwd: ctx.root, deadline, env: ctx.remoteEnv() });
      return parseLsRemote(r.stdout);
    } catch (e) {
      ctx.log.v(2, "ls-remote failed; fetching instead", { error: (e as Error).message });
      return null;
    }
  }

  /** `git ls-remote --tags`: every tag with its peeled "^{}" line. */
  async tags(deadline: number): Promise<TagList> {
    const { ctx } = this;
    const r = await ctx.git.run(["ls-remote", "--tags", ctx.repo], { cwd: ctx.root, deadline, env: ctx.remoteEnv() });
    return fromListing(parseLsRemote(r.stdout));
  }
}

/**
 * A repo on this machine: its ref files are read directly (local-refs.ts); whatever that can't
 * read with certainty is asked of `git ls-remote` for that poll.
 */
class LocalFiles extends ListingQuery {
  readonly kind = "local files";
  private readonly git: LsRemote;

  constructor(
    ctx: RepoContext,
    private readonly path: string,
  ) {
    super(ctx);
    this.git = new LsRemote(ctx);
  }

  async listing(candidates: string[], deadline: number, refs: readonly string[]): Promise<RefListing | null> {
    // Each ref's candidates in git's order, stopping at the first that exists: pickRef wants no
    // more, and a poll reads fewer files.
    const r = listLocalRefs(this.path, refs.filter((ref) => !FULL_HASH.test(ref)).map(refCandidates));
    if ("listing" in r) return r.listing;
    this.ctx.log.v(3, "asking git ls-remote", { reason: r.why });
    return await this.git.listing(candidates, deadline);
  }

  async tags(deadline: number): Promise<TagList> {
    const r = listLocalTagNames(this.path);
    if ("why" in r) {
      this.ctx.log.v(3, "asking git ls-remote", { reason: r.why });
      return await this.git.tags(deadline);
    }
    return {
      names: r.names,
      // Only the chosen tag is resolved and peeled: a poll reads one loose object at most.
      get: async (name) => {
        const one = listLocalRefs(this.path, [name]);
        if ("listing" in one) return pickRef(name, one.listing);
        this.ctx.log.v(3, "asking git ls-remote", { reason: one.why });
        return await (await this.git.tags(deadline)).get(name);
      },
    };
  }
}

/** The in-process query, which hands over to `git ls-remote` for good if it fails where git works. */
class InProcessHTTP extends ListingQuery {
  private fallback: LsRemote | null = null;
  private failed = "";
  private readonly client: SmartHTTP;

  constructor(
    ctx: RepoContext,
    settings: SmartHTTPSettings,
    private readonly credential: () => HTTPCredential | null,
  ) {
    super(ctx);
    this.client = new SmartHTTP(settings);
  }

  get kind(): RemoteQuery["kind"] {
    return this.fallback ? "ls-remote" : "in-process http";
  }

  async listing(candidates: string[], deadline: number): Promise<RefListing | null> {
    if (this.fallback) return this.fallback.listing(candidates, deadline);
    try {
      const listing = await this.client.listRefs(candidates, this.credential(), deadline);
      this.failed = "";
      return listing;
    } catch (e) {
      this.failed = (e as Error).message;
      this.ctx.log.v(2, "in-process ref query failed; fetching instead", { error: this.failed });
      return null;
    }
  }

  async tags(deadline: number): Promise<TagList> {
    if (this.fallback) return await this.fallback.tags(deadline);
    try {
      const listing = await this.client.listRefs(["refs/tags/"], this.credential(), deadline);
      this.failed = "";
      return fromListing(listing);
    } catch (e) {
      // A semver poll has no fetch to try instead: git answers now, and if it can, from now on.
      this.failed = (e as Error).message;
      const tags = await new LsRemote(this.ctx).tags(deadline);
      this.fetchWorked();
      return tags;
    }
  }

  override fetchWorked(): void {
    if (this.failed === "" || this.fallback) return;
    this.ctx.log.v(1, "in-process ref query fails where git works; polling with git ls-remote from now on", { error: this.failed });
    this.fallback = new LsRemote(this.ctx);
  }
}

export interface RemoteQueryDeps {
  /** The private global gitconfig's entries (what git itself will read). */
  gitConfig: GitConfigEntry[];
  env: Record<string, string | undefined>;
  /** The credential git would be given for the repo's host, or null. */
  credential: () => HTTPCredential | null;
}

/** A full-hash --ref never moves, so there is nothing to ask: null, and the caller fetches. */
const NEVER: RemoteQuery = {
  kind: "ls-remote",
  resolve: async () => null,
  resolveMany: async (refs) => new Map(refs.map((r) => [r, { name: r, oid: r, hash: r }])),
  fetchWorked() {},
};

/** `refs`: every ref the process syncs (--ref and the --also-link refs). */
export function createRemoteQuery(ctx: RepoContext, deps: RemoteQueryDeps, refs: readonly string[] = [ctx.config.ref]): RemoteQuery {
  // `semver:` is --ref alone (validate.ts refuses it beside --also-link).
  const range = semverRange(ctx.config.ref);
  if (range !== null) return new SemverTags(ctx, range, listingQuery(ctx, deps));
  if (refs.every((r) => FULL_HASH.test(r))) return NEVER;
  return listingQuery(ctx, deps);
}

/** The cheapest way to ask this remote: its ref files, an in-process request, or `git ls-remote`. */
function listingQuery(ctx: RepoContext, deps: RemoteQueryDeps): ListingQuery {
  const local = localRepoPath(ctx.repo);
  // Only when git would treat it as a local repo too: with --git-config url.*.insteadOf it may not.
  if (local !== "" && !deps.gitConfig.some(([k]) => k.startsWith("url."))) return new LocalFiles(ctx, local);
  const settings = smartHTTPSettings(ctx.repo, deps.gitConfig, deps.env);
  if (settings.ok) return new InProcessHTTP(ctx, settings.value, deps.credential);
  if (/^https?:/i.test(ctx.repo)) ctx.log.v(1, "polling with git ls-remote", { reason: settings.reason });
  return new LsRemote(ctx);
}

/** The tags a `semver:` poll chooses from: every name, and what the chosen one points to. */
interface TagList {
  names: Iterable<string>;
  get(name: string): Promise<RemoteRef | null>;
}

function fromListing(listing: RefListing): TagList {
  return {
    names: listing.refs.keys(),
    get: async (name) => {
      const r = listing.refs.get(name);
      return r ? { name, oid: r.oid, hash: r.peeled ?? r.oid } : null;
    },
  };
}

/** `--ref=semver:RANGE`: the highest tag in the range; no match is an error (the last good link stays). */
class SemverTags implements RemoteQuery {
  readonly fetchByAnswer = true;

  constructor(
    private readonly ctx: RepoContext,
    private readonly range: string,
    private readonly source: ListingQuery,
  ) {}

  get kind(): RemoteQuery["kind"] {
    return this.source.kind;
  }

  async resolve(deadline: number): Promise<RemoteRef> {
    const tags = await this.source.tags(deadline);
    const names = [...tags.names];
    const best = pickSemverTag(this.range, names);
    if (best === null) {
      const count = names.filter((n) => n.startsWith("refs/tags/") && !n.endsWith("^{}")).length;
      throw new Error(`no tag matches ${this.ctx.config.ref} (the remote has ${count} tag${count === 1 ? "" : "s"})`);
    }
    const r = await tags.get(best);
    if (r === null) throw new Error(`tag ${best} vanished while it was being read`);
    this.ctx.log.v(3, "semver range resolved", { ref: this.ctx.config.ref, tag: best, hash: r.hash });
    return r;
  }

  /** Never asked: a `semver:` ref is never one of several (validate.ts). */
  async resolveMany(): Promise<null> {
    return null;
  }

  fetchWorked(): void {}
}
