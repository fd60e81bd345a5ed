// Image size per layer, uncompressed and gzip-compressed (what a registry stores and a node pulls).
//   bun scripts/image/sizes.ts localhost/git-sync:latest [more images...]
// The layers are exported with skopeo (uncompressed) and gzipped here at level 6, like
// `skopeo copy --dest-compress` would. Results are cached per image ID under $TMPDIR, so the
// image test and build.sh can both ask without paying for the gzip twice.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LayerSize {
  createdBy: string;
  bytes: number;
  gzipBytes: number;
  /** The layer that adds the compiled git-sync executable. */
  binary: boolean;
}

export interface ImageSizes {
  image: string;
  id: string;
  layers: LayerSize[];
  bytes: number;
  gzipBytes: number;
}

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: process.env });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

interface History {
  created_by?: string;
  empty_layer?: boolean;
}

export async function imageSizes(image: string): Promise<ImageSizes> {
  const id = run(["podman", "image", "inspect", "--format", "{{.Id}}", image]).trim();
  const cacheDir = join(tmpdir(), "git-sync-image-sizes");
  const cached = join(cacheDir, `${id}.json`);
  if (existsSync(cached)) return { ...(JSON.parse(readFileSync(cached, "utf8")) as ImageSizes), image };

  const dir = mkdtempSync(join(tmpdir(), "gs-image-"));
  try {
    run(["skopeo", "copy", "-q", `containers-storage:${id}`, `dir:${dir}/img`]);
    const manifest = JSON.parse(readFileSync(join(dir, "img", "manifest.json"), "utf8")) as {
      config: { digest: string };
      layers: Array<{ digest: string; size: number }>;
    };
    const config = JSON.parse(readFileSync(join(dir, "img", manifest.config.digest.replace("sha256:", "")), "utf8")) as {
      history?: History[];
    };
    const history = (config.history ?? []).filter((h) => !h.empty_layer);
    const layers = manifest.layers.map((l, i): LayerSize => {
      const blob = readFileSync(join(dir, "img", l.digest.replace("sha256:", "")));
      const createdBy = (history[i]?.created_by ?? "").replace(/^\/bin\/sh -c #\(nop\) /, "").trim();
      return {
        createdBy,
        bytes: blob.byteLength,
        gzipBytes: Bun.gzipSync(blob, { level: 6 }).byteLength,
        binary: /\bin \/git-sync$/.test(createdBy),
      };
    });
    const sizes: ImageSizes = {
      image,
      id,
      layers,
      bytes: layers.reduce((a, l) => a + l.bytes, 0),
      gzipBytes: layers.reduce((a, l) => a + l.gzipBytes, 0),
    };
    mkdirSync(cacheDir, { recursive: true });
    await Bun.write(cached, JSON.stringify(sizes));
    return sizes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function formatSizes(s: ImageSizes): string {
  const rows = s.layers.map((l) => `  ${mb(l.bytes).padStart(9)} ${mb(l.gzipBytes).padStart(9)}  ${l.binary ? "[binary] " : ""}${l.createdBy.slice(0, 70)}`);
  const other = s.layers.filter((l) => !l.binary);
  return [
    `${s.image}: ${mb(s.bytes)} uncompressed, ${mb(s.gzipBytes)} gzip`,
    `  ${"raw".padStart(9)} ${"gzip".padStart(9)}  layer`,
    ...rows,
    `  non-binary layers: ${mb(other.reduce((a, l) => a + l.bytes, 0))} uncompressed, ${mb(other.reduce((a, l) => a + l.gzipBytes, 0))} gzip`,
  ].join("\n");
}

if (import.meta.main) {
  for (const image of process.argv.slice(2)) console.log(formatSizes(await imageSizes(image)));
}
