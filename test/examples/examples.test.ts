// Every git-sync container in examples/ must be accepted by the binary, so the examples cannot rot:
// run dist/git-sync with the example's own args and env, pointed at a local repo and a temp root,
// with --one-time, and require a clean exit, no configuration error, and the link the example names.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ROOT, cleanup, commit, freePort, git, runBinary, tmpDir } from "../helpers/index.ts";

const EXAMPLES = join(ROOT, "examples");

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
}
interface Case {
  file: string;
  name: string;
  args: string[];
  env: Record<string, string>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function podSpecs(doc: Obj): Obj[] {
  const spec = doc.spec;
  if (!isObj(spec)) return [];
  if (doc.kind === "Pod") return [spec];
  const tmpl = spec.template ?? (isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec.template : undefined);
  return isObj(tmpl) && isObj(tmpl.spec) ? [tmpl.spec] : [];
}

function envOf(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  // valueFrom (Secrets, ConfigMaps) cannot be resolved here: a placeholder keeps the variable "set".
  for (const e of c.env ?? []) env[e.name] = e.value ?? (e.valueFrom ? "from-secret" : "");
  return env;
}

/**
 * The git-sync container Airflow's chart renders from `dags.gitSync` (modelled on its
 * `git_sync_container` template: v3 and v4 names side by side), once as the sidecar and
 * once as the init container (one-time).
 */
function airflowCases(file: string, values: Obj): Case[] {
  const gs = isObj(values.dags) && isObj(values.dags.gitSync) ? values.dags.gitSync : undefined;
  if (!gs || gs.enabled !== true) return [];
  const s = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  const env: Record<string, string> = {
    GIT_SYNC_REV: s(gs.rev),
    GITSYNC_REF: s(gs.ref),
    GIT_SYNC_BRANCH: s(gs.branch),
    GIT_SYNC_REPO: s(gs.repo),
    GITSYNC_REPO: s(gs.repo),
    GIT_SYNC_DEPTH: s(gs.depth),
    GITSYNC_DEPTH: s(gs.depth),
    GIT_SYNC_ROOT: "/git",
    GITSYNC_ROOT: "/git",
    GIT_SYNC_DEST: "repo",
    GITSYNC_LINK: "repo",
    GIT_SYNC_ADD_USER: "true",
    GITSYNC_ADD_USER: "true",
    GITSYNC_PERIOD: s(gs.period),
    GIT_SYNC_MAX_SYNC_FAILURES: s(gs.maxFailures),
    GITSYNC_MAX_FAILURES: s(gs.maxFailures),
  };
  if (gs.wait !== undefined) env.GIT_SYNC_WAIT = s(gs.wait);
  for (const e of (gs.env as EnvVar[] | undefined) ?? []) env[e.name] = e.value ?? "from-secret";
  return [
    { file, name: "dags.gitSync (sidecar)", args: [], env },
    { file, name: "dags.gitSync (init)", args: [], env: { ...env, GIT_SYNC_ONE_TIME: "true", GITSYNC_ONE_TIME: "true" } },
  ];
}

function loadCases(): Case[] {
  const cases: Case[] = [];
  for (const file of readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const parsed = Bun.YAML.parse(readFileSync(join(EXAMPLES, file), "utf8")) as unknown;
    const docs = (Array.isArray(parsed) ? parsed : [parsed]).filter(isObj);
    const before = cases.length;
    for (const doc of docs) {
      if (!doc.kind) cases.push(...airflowCases(file, doc));
      for (const spec of podSpecs(doc)) {
        for (const c of [...((spec.initContainers as Container[]) ?? []), ...((spec.containers as Container[]) ?? [])]) {
          if (!c.image?.includes("git-sync")) continue;
          cases.push({ file, name: c.name, args: [...(c.command?.slice(1) ?? []), ...(c.args ?? [])], env: envOf(c) });
        }
      }
    }
    if (cases.length === before) throw new Error(`examples/${file}: no git-sync container found`);
  }
  return cases;
}

const cases = loadCases();

// Options whose values only make sense inside the Pod, by flag and env names.
const OVERRIDES: Array<{ flags: string[]; env: string[]; key: string }> = [
  { key: "repo", flags: ["repo"], env: ["GITSYNC_REPO", "GIT_SYNC_REPO"] },
  { key: "root", flags: ["root"], env: ["GITSYNC_ROOT", "GIT_SYNC_ROOT"] },
  { key: "http-bind", flags: ["http-bind"], env: ["GITSYNC_HTTP_BIND", "GIT_SYNC_HTTP_BIND"] },
  { key: "webhook-url", flags: ["webhook-url"], env: ["GITSYNC_WEBHOOK_URL", "GIT_SYNC_WEBHOOK_URL"] },
  { key: "exechook", flags: ["exechook-command", "sync-hook-command"], env: ["GITSYNC_EXECHOOK_COMMAND", "GIT_SYNC_EXECHOOK_COMMAND", "GIT_SYNC_HOOK_COMMAND"] },
  { key: "password-file", flags: ["password-file"], env: ["GITSYNC_PASSWORD_FILE", "GIT_SYNC_PASSWORD_FILE"] },
  { key: "serve-git-secret-file", flags: ["serve-git-secret-file"], env: ["GITSYNC_SERVE_GIT_SECRET_FILE"] },
  { key: "sparse", flags: ["sparse-checkout-file"], env: ["GITSYNC_SPARSE_CHECKOUT_FILE", "GIT_SYNC_SPARSE_CHECKOUT_FILE"] },
  { key: "touch-file", flags: ["touch-file"], env: ["GITSYNC_TOUCH_FILE", "GIT_SYNC_TOUCH_FILE"] },
  { key: "error-file", flags: ["error-file"], env: ["GITSYNC_ERROR_FILE", "GIT_SYNC_ERROR_FILE"] },
];

/** Replace the values of overridden options in `--flag=v` / `--flag v` args and in env. */
function rewrite(c: Case, values: Record<string, string>): { args: string[]; env: Record<string, string> } {
  const args = [...c.args];
  const env = { ...c.env };
  for (const o of OVERRIDES) {
    const v = values[o.key];
    if (v === undefined) continue;
    for (let i = 0; i < args.length; i++) {
      for (const f of o.flags) {
        if (args[i]?.startsWith(`--${f}=`)) args[i] = `--${f}=${v}`;
        else if (args[i] === `--${f}` && i + 1 < args.length) args[i + 1] = v;
      }
    }
    for (const name of o.env) if (name in env) env[name] = v;
  }
  return { args, env };
}

/** The value an option gets from the example (flag beats env; among env names the last set wins). */
function valueOf(c: Case, flags: string[], env: string[]): string | undefined {
  let found: string | undefined;
  c.args.forEach((a, i) => {
    for (const f of flags) {
      if (a.startsWith(`--${f}=`)) found = a.slice(f.length + 3);
      else if (a === `--${f}`) found = c.args[i + 1];
    }
  });
  if (found !== undefined) return found;
  for (const name of env) if (name in c.env) found = c.env[name];
  return found;
}

/** --also-link NAME=REF pairs, from repeated flags and the GITSYNC_ALSO_LINK comma list. */
function alsoLinks(c: Case): Array<[string, string]> {
  const items = c.args.filter((a) => a.startsWith("--also-link=")).map((a) => a.slice("--also-link=".length));
  items.push(...(c.env.GITSYNC_ALSO_LINK ?? "").split(",").filter(Boolean));
  return items.map((i) => [i.slice(0, i.indexOf("=")), i.slice(i.indexOf("=") + 1)]);
}

const CONFIG_ERRORS = [/unknown flag/i, /unknown shorthand/i, /invalid flag/i, /required flag/i, /FATAL: invalid/, /deprecated flag combo/, /can't parse/, /bad flag syntax/];

describe("examples", () => {
  let work = "";
  let repo = "";
  let receiver: ReturnType<typeof Bun.serve> | undefined;
  const hook = Bun.which("true") ?? "/bin/true";

  beforeAll(() => {
    work = tmpDir("gs-examples-");
    repo = join(work, "website");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    commit(repo, "README.md", "hello\n");
    commit(repo, "dags/example_dag.py", "# a DAG\n");
    // Every branch or tag an example asks for exists: names like v1.2.0 as tags, others as branches.
    for (const c of cases) {
      const refs = [valueOf(c, ["ref"], ["GITSYNC_REF"]), valueOf(c, ["branch"], ["GIT_SYNC_BRANCH"]), valueOf(c, ["rev"], ["GIT_SYNC_REV"])];
      for (const ref of [...refs, ...alsoLinks(c).map(([, r]) => r)]) {
        if (!ref || ref === "HEAD" || ref === "main") continue;
        if (/^v\d/.test(ref)) git(repo, "tag", "-f", ref);
        else git(repo, "branch", "-f", ref);
      }
    }
    writeFileSync(join(work, "password"), "not-a-real-password\n");
    writeFileSync(join(work, "sparse"), "/*\n");
    receiver = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok\n") });
  });

  afterAll(() => {
    receiver?.stop(true);
    if (work) cleanup(work);
  });

  test("every example file has at least one git-sync container", () => {
    expect(new Set(cases.map((c) => c.file)).size).toBe(readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f)).length);
  });

  test.each(cases.map((c) => [`${c.file}: ${c.name}`, c] as const))("%s is accepted by the binary", async (_label, c) => {
    const root = tmpDir("gs-example-root-");
    try {
      const { args, env } = rewrite(c, {
        repo,
        root,
        "http-bind": `127.0.0.1:${freePort()}`,
        "webhook-url": `http://127.0.0.1:${receiver?.port}/hook`,
        exechook: hook,
        "password-file": join(work, "password"),
        "serve-git-secret-file": join(work, "password"),
        sparse: join(work, "sparse"),
        "touch-file": join(root, "touched"),
        "error-file": join(root, "error.json"),
      });
      const r = await runBinary([...args, "--one-time"], { env, timeoutMs: 30_000 });
      const out = `exit ${r.code}\n${r.stderr}`;
      expect(r.code, out).not.toBe(2);
      for (const re of CONFIG_ERRORS) expect(r.stderr, out).not.toMatch(re);
      expect(r.code, out).toBe(0);
      const link = valueOf(c, ["link", "dest"], ["GITSYNC_LINK", "GIT_SYNC_LINK", "GIT_SYNC_DEST"]) || basename(repo);
      expect(existsSync(join(root, link)), `link ${link} in ${root}\n${out}`).toBe(true);
      for (const [name] of alsoLinks(c)) expect(existsSync(join(root, name)), `--also-link ${name} in ${root}\n${out}`).toBe(true);
    } finally {
      cleanup(root);
    }
  });
});
