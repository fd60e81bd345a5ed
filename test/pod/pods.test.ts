// The origin story, end to end: the Pods in examples/ run by podman (`podman kube play` takes
// Kubernetes Pod YAML), with `podman exec` in the part of `kubectl exec`. The manifests run as
// written; scripts/pod/render.ts only swaps image names and the repository URL and makes names
// and the webhook port unique. For each example: serve a repo over smart HTTP on 127.0.0.1,
// play the Pod on the host network, read README.md through the app container, push a change,
// see it there (the delay after the push is printed), check the hooks and `git-sync status`,
// tear the Pod down and leave nothing behind.
//
// Needs podman, catatonit (for the Pod's infra container) and the images scripts/image/build.sh
// builds. Without them the cases are skipped and `npm test` names what was missing, unless
// GIT_SYNC_REQUIRE_IMAGE=1 (.ci/run sets it): then a missing prerequisite fails.
//   GIT_SYNC_IMAGE        default localhost/git-sync:latest (the distroless target)
//   GIT_SYNC_DEBUG_IMAGE  default localhost/git-sync:debug (busybox: the webhook's receiver)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanup, commit, freePort, git, tmpDir, waitFor } from "../helpers/index.ts";
import { makeBareRepo, pushCommit, startGitHTTP, type GitHTTPServer } from "../servers/index.ts";
import { missingTools, toolGap, unmet, type Gap } from "../helpers/prereqs.ts";
import { renderManifest, type RenderOptions } from "../../scripts/pod/render.ts";
import { usePrivatePodman } from "../helpers/podman.ts";

// podman, here and in everything this file starts, uses the store scripts/image/build.sh fills.
usePrivatePodman();

const IMAGE = process.env.GIT_SYNC_IMAGE ?? "localhost/git-sync:latest";
const DEBUG_IMAGE = process.env.GIT_SYNC_DEBUG_IMAGE ?? "localhost/git-sync:debug";
const DEBIAN = "docker.io/library/debian:bookworm-slim";
/** What the examples name: our image, busybox, and the exechook's image. */
const EXAMPLE_IMAGE = "localhost/git-sync:latest";
const EXAMPLE_BUSYBOX = "docker.io/library/busybox:1.36";
const EXAMPLE_HOOKS = "your-registry/app-hooks:latest";
const EXAMPLE_WEBHOOK_PORT = "9000";
/** --period=2s and GIT_SYNC_WAIT=2 in the examples. */
const PERIOD_MS = 2000;
const HELLO = "Hello, World!\n";
const BYE = "Bye, World!\n";
const README = "/code/hello/README.md";
/** In the name of every Pod, volume and image this file creates. */
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`;

/** podman, catatonit and the images; under GIT_SYNC_REQUIRE_IMAGE=1 a gap fails (test/helpers/prereqs.ts). */
function imageGaps(): Array<Gap | undefined> {
  // podman also finds catatonit in its own libexec directory, off PATH.
  const tools = missingTools(["podman", "catatonit"]).filter((t) => t === "podman" || !existsSync("/usr/libexec/podman/catatonit"));
  if (tools.length > 0) return tools.map(toolGap);
  // Nothing is pulled: build.sh builds ours and imports the Debian stand-in.
  const built = [IMAGE, DEBUG_IMAGE, DEBIAN].every((image) => Bun.spawnSync(["podman", "image", "exists", image], { stdout: "ignore", stderr: "ignore", env: process.env }).exitCode === 0);
  return [built ? undefined : { what: "podman images not built", get: "bash scripts/image/build.sh", strictness: "image" }];
}
const skip = unmet(imageGaps());

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function podman(args: string[], timeoutMs = 60_000): Promise<Out> {
  const proc = Bun.spawn(["podman", ...args], { stdout: "pipe", stderr: "pipe", env: process.env });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface PodDoc {
  metadata: { name: string };
  spec: { volumes?: Array<{ name: string }>; containers: Array<{ name: string }> };
}

/** One example, rendered and written out; `play()` runs it, `down()` removes every trace. */
class Pod {
  readonly name: string;
  readonly file: string;
  readonly volumes: string[];
  readonly containers: string[];

  constructor(example: string, dir: string, options: RenderOptions) {
    const rendered = renderManifest(readFileSync(join(ROOT, "examples", example), "utf8"), options);
    const doc = Bun.YAML.parse(rendered) as PodDoc;
    this.name = doc.metadata.name;
    this.volumes = (doc.spec.volumes ?? []).map((v) => v.name);
    this.containers = doc.spec.containers.map((c) => c.name);
    this.file = join(dir, `${this.name}.yaml`);
    writeFileSync(this.file, rendered);
  }

  async play(): Promise<void> {
    await podmanOk(["kube", "play", "--network=host", this.file], 90_000);
  }

  exec(container: string, argv: string[]): Promise<Out> {
    return podman(["exec", `${this.name}-${container}`, ...argv], 15_000);
  }

  /** A file as the container sees it; "" when it cannot be read (yet). */
  async read(container: string, path: string): Promise<string> {
    const r = await this.exec(container, ["cat", path]);
    return r.code === 0 ? r.stdout : "";
  }

  /** Every container's log, for a failure message. */
  async logs(): Promise<string> {
    let out = "";
    for (const c of this.containers) {
      const r = await podman(["logs", "--tail", "30", `${this.name}-${c}`]);
      out += `--- ${c} (exit ${r.code})\n${r.stdout}${r.stderr}`;
    }
    return out;
  }

  /** What is left of this Pod in podman: the pod, containers, volumes. */
  async leftovers(): Promise<string[]> {
    const left: string[] = [];
    if ((await podman(["pod", "exists", this.name])).code === 0) left.push(`pod ${this.name}`);
    const names = (await podmanOk(["ps", "-a", "--format", "{{.Names}}"])).split("\n");
    left.push(...names.filter((n) => n.startsWith(`${this.name}-`)).map((n) => `container ${n}`));
    for (const v of this.volumes) if ((await podman(["volume", "exists", v])).code === 0) left.push(`volume ${v}`);
    return left;
  }

  /** `podman kube down` (after a quick stop: the apps ignore SIGTERM); forced if that left anything. */
  async down(): Promise<string[]> {
    await podman(["pod", "stop", "-t", "0", this.name]);
    await podman(["kube", "down", this.file]);
    const left = await this.leftovers();
    if (left.length > 0) {
      await podman(["pod", "rm", "-f", "-t", "0", this.name]);
      if (this.volumes.length > 0) await podman(["volume", "rm", "-f", ...this.volumes]);
    }
    return left;
  }
}

/** `git-sync status` run in the sidecar, as `kubectl exec <pod> -c git-sync -- /git-sync status`. */
async function statusHash(pod: Pod): Promise<string> {
  const r = await pod.exec("git-sync", ["/git-sync", "status"]);
  if (r.code !== 0) throw new Error(`git-sync status: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return /^hash:\s+([0-9a-f]{40})$/m.exec(r.stdout)?.[1] ?? `(no hash in:\n${r.stdout})`;
}

/** Runs `body`, then tears the Pod down whatever happened; a failure carries the containers' logs. */
async function withPod(pod: Pod, body: () => Promise<void>): Promise<void> {
  let failure: Error | undefined;
  try {
    await body();
  } catch (e) {
    failure = new Error(`${(e as Error).message}\n${await pod.logs()}`, { cause: e });
  }
  const left = await pod.down();
  if (failure) throw failure;
  expect(left, "left behind after podman kube down").toEqual([]);
}

/** Pods, containers (infra ones by their pod's name) and volumes of this run that still exist. */
async function remains(): Promise<{ pods: string[]; containers: string[]; volumes: string[] }> {
  const list = async (args: string[]) => (await podmanOk(args)).split("\n").filter((l) => l.includes(RUN));
  return {
    pods: await list(["pod", "ls", "--format", "{{.Name}}"]),
    containers: await list(["ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}}"]),
    volumes: await list(["volume", "ls", "--format", "{{.Name}}"]),
  };
}

describe.skipIf(skip)("pods", () => {
  let work = "";
  let repos = "";
  let server: GitHTTPServer;
  let hooksImage = "";

  beforeAll(() => {
    work = tmpDir("gs-pod-");
    repos = join(work, "repos");
    mkdirSync(repos);
    server = startGitHTTP({ projectRoot: repos });
  });

  afterAll(async () => {
    // Only a test cut short by its timeout can leave something here; the last test reports it.
    const left = await remains();
    for (const p of left.pods) await podman(["pod", "rm", "-f", "-t", "0", p]);
    if (left.volumes.length > 0) await podman(["volume", "rm", "-f", ...left.volumes]);
    server?.stop();
    if (hooksImage) await podman(["rmi", "-f", hooksImage]);
    if (work) cleanup(work);
  });

  /** A fresh repo `<name>.git` saying Hello, and the example rendered against it. */
  function setUp(example: string, extra: RenderOptions = {}): { pod: Pod; repo: string; hash: string } {
    const repo = `${example.replace(/\.yaml$/, "")}.git`;
    const { head } = makeBareRepo(repos, repo, "README.md", HELLO);
    const pod = new Pod(example, work, {
      repo: `${server.url}/${repo}`,
      suffix: `-${RUN}`,
      images: { [EXAMPLE_IMAGE]: IMAGE, [EXAMPLE_BUSYBOX]: DEBUG_IMAGE, ...extra.images },
      ports: extra.ports,
    });
    return { pod, repo, hash: head };
  }

  /**
   * The story: the first sync shows Hello in the app, a push shows Bye there within a few
   * polls, and `git-sync status` in the sidecar reports each hash. `hooks` checks the hook's
   * effects after each of the two syncs.
   */
  function story(pod: Pod, repo: string, hash1: string, hooks?: (hash: string, text: string) => Promise<void>): Promise<void> {
    return withPod(pod, async () => {
      await pod.play();
      await waitFor("Hello through the app container", async () => (await pod.read("app", README)) === HELLO, 30_000, 200);
      expect(await statusHash(pod)).toBe(hash1);
      await hooks?.(hash1, HELLO);

      const hash2 = pushCommit(repos, repo, "README.md", BYE);
      const pushed = Date.now();
      await waitFor("Bye through the app container", async () => (await pod.read("app", README)) === BYE, 15 * PERIOD_MS, 200);
      console.log(`${pod.name}: the change reached the app ${Date.now() - pushed} ms after the push (period ${PERIOD_MS} ms)`);
      expect(await statusHash(pod)).toBe(hash2);
      await hooks?.(hash2, BYE);
    });
  }

  test("sidecar, v3 environment variables: kubectl exec shows the change a few seconds after the push", async () => {
    const { pod, repo, hash } = setUp("sidecar-v3-env.yaml");
    await story(pod, repo, hash);
  }, 120_000);

  test("sidecar, v4 flags, read-only root filesystem: the same story", async () => {
    const { pod, repo, hash } = setUp("sidecar-v4-flags.yaml");
    await story(pod, repo, hash);
  }, 120_000);

  test("webhook: the receiver in the Pod gets exactly one call per new hash", async () => {
    const { pod, repo, hash } = setUp("webhook.yaml", { ports: { [EXAMPLE_WEBHOOK_PORT]: freePort() } });
    const calls = async () => (await pod.read("app", "/tmp/reloads.log")).split("\n").filter(Boolean);
    const seen: string[] = [];
    await story(pod, repo, hash, async (h, text) => {
      seen.push(`POST ${h} ${text.trim()}`);
      // A call for the first commit that failed (receiver not up yet) is retried after the
      // backoff; it must have arrived before the push, or it would be folded into the next.
      await waitFor(`webhook call for ${h.slice(0, 8)}`, async () => (await calls()).length >= seen.length, 20_000, 200);
      await Bun.sleep(2 * PERIOD_MS); // two more polls: no second call for the same hash
      expect(await calls()).toEqual(seen);
    });
  }, 120_000);

  test("exechook: a compiled executable installed by an init container runs once per new hash", async () => {
    const dir = join(work, "hook-image");
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, "_hook.ts")], compile: { outfile: join(dir, "on-sync") } });
    expect(built.success).toBe(true);
    writeFileSync(join(dir, "Containerfile"), `FROM ${DEBIAN}\nCOPY on-sync /usr/local/bin/on-sync\n`);
    hooksImage = `localhost/git-sync-pod-hooks:${RUN}`;
    await podmanOk(["build", "-q", "--pull=never", "-t", hooksImage, dir], 120_000);

    const { pod, repo, hash } = setUp("exechook.yaml", { images: { [EXAMPLE_HOOKS]: hooksImage } });
    await story(pod, repo, hash, async (h) => {
      await waitFor(`hook output for ${h.slice(0, 8)}`, async () => (await pod.read("app", "/code/hello/hook.txt")) !== "", 20_000, 200);
      await Bun.sleep(2 * PERIOD_MS); // two more polls: the hook does not run again
      expect(await pod.read("app", "/code/hello/hook.txt")).toBe(`${h}\n`);
    });
  }, 120_000);

  test("init container (--one-time): the app keeps its checkout; the next Pod gets the change", async () => {
    const { pod, repo, hash: hash1 } = setUp("init-container.yaml");
    const link = async () => (await pod.exec("app", ["readlink", "/code/hello"])).stdout.trim();
    await withPod(pod, async () => {
      await pod.play(); // returns once the init container has synced and the app has started
      expect(await pod.read("app", README)).toBe(HELLO);
      expect(await link()).toBe(`.worktrees/${hash1}`);

      const hash2 = pushCommit(repos, repo, "README.md", BYE);
      await Bun.sleep(2 * PERIOD_MS); // as long as two polls in the other Pods; nothing polls here
      expect(await pod.read("app", README)).toBe(HELLO);

      expect(await pod.down()).toEqual([]);
      await pod.play();
      expect(await pod.read("app", README)).toBe(BYE);
      expect(await link()).toBe(`.worktrees/${hash2}`);
    });
  }, 120_000);

  test("three branches from one sidecar: each link follows its own branch; a shared commit is checked out once", async () => {
    const { pod, repo, hash } = setUp("multi-ref.yaml");
    // release and develop start where main is.
    const work = join(repos, `.${repo}.work`);
    git(work, "push", "-q", join(repos, repo), "main:release", "main:develop");
    const read = (branch: string) => pod.read("app", `/code/${branch}/README.md`);
    const target = async (branch: string) => (await pod.exec("app", ["readlink", `/code/${branch}`])).stdout.trim();
    const lines = async () => {
      const r = await pod.exec("git-sync", ["/git-sync", "status"]);
      if (r.code !== 0) throw new Error(`git-sync status: exit ${r.code}\n${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    await withPod(pod, async () => {
      await pod.play();
      await waitFor("Hello on all three links", async () => (await read("main")) === HELLO && (await read("release")) === HELLO && (await read("develop")) === HELLO, 30_000, 200);
      for (const b of ["main", "release", "develop"]) expect(await target(b)).toBe(`.worktrees/${hash}`);
      const trees = (await pod.exec("app", ["ls", "/code/.worktrees"])).stdout.split("\n").filter(Boolean);
      expect(trees).toEqual([hash]);

      // A commit on develop only: develop moves, main and release stay.
      git(work, "checkout", "-q", "-B", "develop");
      const dev = commit(work, "README.md", BYE);
      git(work, "push", "-q", join(repos, repo), "develop");
      await waitFor("Bye on develop", async () => (await read("develop")) === BYE, 15 * PERIOD_MS, 200);
      expect(await target("develop")).toBe(`.worktrees/${dev}`);
      expect(await read("main")).toBe(HELLO);
      expect(await read("release")).toBe(HELLO);
      const status = await lines();
      expect(status).toMatch(new RegExp(`^hash:\\s+${hash}$`, "m"));
      // Read from the volume (the Pod has no --http-bind): each registered link and its hash.
      expect(status).toMatch(new RegExp(`^link release: ${hash}$`, "m"));
      expect(status).toMatch(new RegExp(`^link develop: ${dev}$`, "m"));
    });
  }, 120_000);

  test("nothing left behind: no pod, container or volume of this run", async () => {
    expect(await remains()).toEqual({ pods: [], containers: [], volumes: [] });
  });
});
