/**
 * The bench runs its bridge processes with plain `node`, as the published package runs, not
 * through the TypeScript loader (which adds some 40 MB of RSS): each child script is bundled once
 * per run, its dependencies left external. The bundle goes under node_modules/.cache so that they
 * resolve from the project's node_modules.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const cache = fileURLToPath(new URL("../../node_modules/.cache/", import.meta.url));
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, "veep-bench-"));
process.once("exit", () => rmSync(dir, { recursive: true, force: true }));

/** Bundles `script` (a path from the repository root) and returns the bundle's path. */
export function bundled(script: string): string {
  const outfile = join(dir, `${basename(script, ".ts")}.mjs`);
  buildSync({
    entryPoints: [script],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}
