// scripts/pod/render.ts may change only what it says it changes: the examples must run under
// podman as written, so every other field of every Pod example comes through untouched.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/index.ts";
import { OFFLINE_IMAGES, parseRenderArgs, renderManifest, type RenderOptions } from "../../scripts/pod/render.ts";

const EXAMPLES = join(ROOT, "examples");
const REPO = "http://127.0.0.1:8080/hello.git";
const OPTIONS: RenderOptions = {
  repo: REPO,
  suffix: "-x1",
  images: { "localhost/git-sync:latest": "localhost/git-sync:test", "your-registry/app-hooks:latest": "localhost/hooks:test" },
  ports: { "9000": 19000 },
};
const IMAGES: Record<string, string> = { ...OFFLINE_IMAGES, ...OPTIONS.images };

type Leaf = string | number | boolean | null;
/** Every leaf of a parsed document by its path, e.g. `spec.containers[0].image`. */
function leaves(v: unknown, path = "", out = new Map<string, Leaf>()): Map<string, Leaf> {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  else out.set(path, v as Leaf);
  return out;
}

const docs = (text: string): unknown[] => {
  const parsed = Bun.YAML.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
};

/** What render may do to a leaf, by path; `why` is null when the change is allowed. */
function why(path: string, before: Leaf, after: Leaf): string | null {
  const b = String(before);
  if (/^metadata\.name$|^spec\.volumes\[\d+\]\.name$|\.volumeMounts\[\d+\]\.name$/.test(path)) {
    return after === `${b}-x1` ? null : "a name must only get the suffix";
  }
  if (path.endsWith(".image")) return after === IMAGES[b] ? null : "an image may only be swapped for its stand-in";
  if (/\.(args|command)\[\d+\]$/.test(path)) {
    if (b.startsWith("--repo=") && after === `--repo=${REPO}`) return null;
    return after === b.replaceAll("9000", "19000") ? null : "an argument may only get the repository or the port";
  }
  if (/\.env\[\d+\]\.value$/.test(path)) return after === REPO ? null : "an env value may only become the repository";
  return "this field must not change";
}

const pods = readdirSync(EXAMPLES)
  .filter((f) => /\.ya?ml$/.test(f))
  .filter((f) => docs(readFileSync(join(EXAMPLES, f), "utf8")).some((d) => (d as { kind?: string } | null)?.kind === "Pod"))
  .sort();

describe("render", () => {
  test("finds the Pod examples", () => {
    expect(pods).toContain("sidecar-v3-env.yaml");
    expect(pods).toContain("exechook.yaml");
  });

  test.each(pods)("%s: only images, repository, names and the port change", (file) => {
    const text = readFileSync(join(EXAMPLES, file), "utf8");
    const before = docs(text).map((d) => leaves(d));
    const after = docs(renderManifest(text, OPTIONS)).map((d) => leaves(d));
    expect(after.map((m) => [...m.keys()])).toEqual(before.map((m) => [...m.keys()]));
    const wrong: string[] = [];
    before.forEach((m, i) => {
      for (const [path, b] of m) {
        const a = after[i]?.get(path) ?? null;
        const reason = a === b ? null : why(path, b, a);
        if (reason) wrong.push(`${path}: ${JSON.stringify(b)} -> ${JSON.stringify(a)}: ${reason}`);
      }
    });
    expect(wrong).toEqual([]);
    // Every repository URL in the examples is a placeholder under your-org; none may survive.
    expect(renderManifest(text, OPTIONS)).not.toContain("your-org");
  });

  test("without options, a manifest comes through as it was, busybox aside", () => {
    const text = readFileSync(join(EXAMPLES, "sidecar-v3-env.yaml"), "utf8");
    expect(docs(renderManifest(text))).toEqual(docs(text));
  });

  test("--repo X, GIT_SYNC_REPO and GITSYNC_REPO in git-sync containers; other containers keep theirs", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: {
        containers: [
          { name: "a", image: "example.com/git-sync:v4", args: ["--repo", "https://x/a.git", "--ref=main"] },
          { name: "b", image: "example.com/git-sync:v4", env: [{ name: "GIT_SYNC_REPO", value: "https://x/b.git" }, { name: "GITSYNC_REPO", value: "https://x/b.git" }] },
          { name: "c", image: "example.com/other:1", args: ["--repo=https://x/c.git"] },
        ],
      },
    };
    const out = docs(renderManifest(JSON.stringify(pod), { repo: REPO }))[0] as typeof pod;
    expect(out.spec.containers[0]?.args).toEqual(["--repo", REPO, "--ref=main"]);
    expect(out.spec.containers[1]?.env?.map((e) => e.value)).toEqual([REPO, REPO]);
    expect(out.spec.containers[2]?.args).toEqual(["--repo=https://x/c.git"]);
  });

  test("--port moves whole numbers only", () => {
    const pod = { kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "a", image: "i", command: ["httpd -p 9000", "http://localhost:9000/x", "90001", "v9000", "1.9000"] }] } };
    const out = docs(renderManifest(JSON.stringify(pod), { ports: { "9000": 19000 } }))[0] as typeof pod;
    expect(out.spec.containers[0]?.command).toEqual(["httpd -p 19000", "http://localhost:19000/x", "90001", "v9000", "1.9000"]);
  });

  test("documents other than Pods pass through; a file without a Pod is refused", () => {
    const text = "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n---\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n";
    expect(docs(renderManifest(text, { suffix: "-s" }))).toEqual([
      { kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } },
      { kind: "Pod", metadata: { name: "p-s" }, spec: { containers: [] } },
    ]);
    expect(() => renderManifest("kind: ConfigMap\nmetadata:\n  name: c\n")).toThrow("no Pod");
  });

  const argRows: Array<[string[], ReturnType<typeof parseRenderArgs> | string]> = [
    [["f.yaml"], { file: "f.yaml", options: { images: {}, ports: {} } }],
    [
      ["f.yaml", "--repo=http://h/r.git?a=b", "--suffix=-1", "--image=a:1=b:2", "--port=9000=19000"],
      { file: "f.yaml", options: { repo: "http://h/r.git?a=b", suffix: "-1", images: { "a:1": "b:2" }, ports: { "9000": 19000 } } },
    ],
    [[], "no manifest named"],
    [["f.yaml", "--image=a"], "--image needs FROM=TO"],
    [["f.yaml", "--port=a=b"], "--port needs numbers"],
    [["f.yaml", "--pull"], 'unknown argument "--pull"'],
    [["f.yaml", "g.yaml"], 'unknown argument "g.yaml"'],
  ];
  test.each(argRows)("arguments %j", (argv, want) => {
    if (typeof want === "string") expect(() => parseRenderArgs(argv)).toThrow(want);
    else expect(parseRenderArgs(argv)).toEqual(want);
  });
});
