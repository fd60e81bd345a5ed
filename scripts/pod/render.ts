// Renders an examples/ Pod manifest for `podman kube play` on a machine of ours: the manifest
// stays as written except for the fields named here, so what runs is what the docs show.
//   bun scripts/pod/render.ts examples/sidecar-v3-env.yaml --repo=http://127.0.0.1:8080/hello.git > hello.yaml
//   podman kube play --network=host hello.yaml
// Options (repeatable where it makes sense):
//   --repo=URL          the repository every git-sync container syncs (--repo, GIT_SYNC_REPO, GITSYNC_REPO)
//   --image=FROM=TO     replace an image name; busybox becomes localhost/git-sync:debug (which has
//                       busybox) unless told otherwise, so nothing is pulled
//   --suffix=S          appended to the Pod's name and its volumes' names: podman names volumes
//                       after the manifest, host-wide, so two Pods with a volume "code" would share it
//   --port=FROM=TO      with host network a container's port is a host port: move it (the number
//                       wherever a container's command, args or env values mention it)
// Documents other than Pods (a ConfigMap, say) pass through untouched.

export interface RenderOptions {
  repo?: string;
  images?: Record<string, string>;
  suffix?: string;
  ports?: Record<string, number>;
}

/** Stand-ins for images this project's machines cannot pull. */
export const OFFLINE_IMAGES: Record<string, string> = {
  "docker.io/library/busybox:1.36": "localhost/git-sync:debug",
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

interface Container {
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string }>;
}

const REPO_ENV = new Set(["GIT_SYNC_REPO", "GITSYNC_REPO"]);

/** `--repo=X` and `--repo X` in an argv list. */
function swapRepoArg(argv: string[], repo: string): string[] {
  return argv.map((a, i) => (a.startsWith("--repo=") ? `--repo=${repo}` : argv[i - 1] === "--repo" ? repo : a));
}

function swapPort(s: string, from: string, to: number): string {
  return s.replace(new RegExp(`(?<![\\w.])${from}(?![\\w.])`, "g"), String(to));
}

function renderContainer(c: Container, o: RenderOptions): void {
  const isGitSync = c.image?.includes("git-sync") ?? false;
  const images = { ...OFFLINE_IMAGES, ...o.images };
  if (c.image !== undefined && images[c.image] !== undefined) c.image = images[c.image];
  if (isGitSync && o.repo !== undefined) {
    if (c.command) c.command = swapRepoArg(c.command, o.repo);
    if (c.args) c.args = swapRepoArg(c.args, o.repo);
    for (const e of c.env ?? []) if (REPO_ENV.has(e.name) && e.value !== undefined) e.value = o.repo;
  }
  for (const [from, to] of Object.entries(o.ports ?? {})) {
    if (c.command) c.command = c.command.map((s) => swapPort(s, from, to));
    if (c.args) c.args = c.args.map((s) => swapPort(s, from, to));
    for (const e of c.env ?? []) if (e.value !== undefined) e.value = swapPort(e.value, from, to);
  }
  if (o.suffix) for (const m of c.volumeMounts ?? []) m.name += o.suffix;
}

function renderPod(doc: Obj, o: RenderOptions): void {
  const meta = doc.metadata;
  const spec = doc.spec;
  if (!isObj(meta) || !isObj(spec)) throw new Error("a Pod without metadata or spec");
  if (o.suffix) {
    meta.name = `${String(meta.name)}${o.suffix}`;
    for (const v of (spec.volumes as Array<{ name: string }> | undefined) ?? []) v.name += o.suffix;
  }
  for (const c of [...((spec.initContainers as Container[] | undefined) ?? []), ...((spec.containers as Container[] | undefined) ?? [])]) {
    renderContainer(c, o);
  }
}

/** The manifest `text` (one or more YAML documents) with the options applied, as YAML. */
export function renderManifest(text: string, o: RenderOptions = {}): string {
  const parsed = Bun.YAML.parse(text) as unknown;
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  if (!docs.some((d) => isObj(d) && d.kind === "Pod")) throw new Error("no Pod in this manifest");
  for (const d of docs) if (isObj(d) && d.kind === "Pod") renderPod(d, o);
  return docs.map((d) => Bun.YAML.stringify(d, null, 2)).join("\n---\n") + "\n";
}

const USAGE = "usage: bun scripts/pod/render.ts FILE [--repo=URL] [--image=FROM=TO]... [--suffix=S] [--port=FROM=TO]...\n";

/** argv (after the script) -> the file and the options; throws a usage message. */
export function parseRenderArgs(argv: string[]): { file: string; options: RenderOptions } {
  const options: RenderOptions = { images: {}, ports: {} };
  let file = "";
  const pair = (flag: string, v: string): [string, string] => {
    const i = v.indexOf("=");
    if (i <= 0 || i === v.length - 1) throw new Error(`${flag} needs FROM=TO, got "${v}"`);
    return [v.slice(0, i), v.slice(i + 1)];
  };
  for (const a of argv) {
    const eq = a.indexOf("=");
    const [flag, value] = eq < 0 ? [a, ""] : [a.slice(0, eq), a.slice(eq + 1)];
    if (flag === "--repo") options.repo = value;
    else if (flag === "--suffix") options.suffix = value;
    else if (flag === "--image") {
      const [from, to] = pair(flag, value);
      options.images![from] = to;
    } else if (flag === "--port") {
      const [from, to] = pair(flag, value);
      if (!/^\d+$/.test(from) || !/^\d+$/.test(to)) throw new Error(`--port needs numbers, got "${value}"`);
      options.ports![from] = Number(to);
    } else if (!a.startsWith("-") && file === "") file = a;
    else throw new Error(`unknown argument "${a}"`);
  }
  if (file === "") throw new Error("no manifest named");
  return { file, options };
}

if (import.meta.main) {
  try {
    const { file, options } = parseRenderArgs(process.argv.slice(2));
    process.stdout.write(renderManifest(await Bun.file(file).text(), options));
  } catch (e) {
    process.stderr.write(`render: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
