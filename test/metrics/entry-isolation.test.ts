import { build } from "esbuild";
import { describe, expect, it } from "vitest";

/** Every module and external package an entry point loads, from esbuild's import graph. */
async function loads(entry: string): Promise<{ modules: string[]; packages: string[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "silent",
  });
  const inputs = result.metafile.inputs;
  const modules = Object.keys(inputs);
  const packages = new Set<string>();
  for (const input of Object.values(inputs)) {
    for (const imported of input.imports) if (imported.external) packages.add(imported.path);
  }
  return { modules, packages: [...packages] };
}

describe("prom-client stays in veep-bridge/metrics", () => {
  it.each([
    "src/index.ts",
    "src/adapter.ts",
    "src/testing/index.ts",
    "src/stores/postgres/index.ts",
    "src/sources/mqtt/index.ts",
    "src/bridge/create-bridge.ts",
    "src/batching/index.ts",
    "src/message/index.ts",
    "src/hashing/index.ts",
  ])("%s loads neither prom-client nor src/metrics", async (entry) => {
    const { modules, packages } = await loads(entry);
    expect(modules.length).toBeGreaterThan(1);
    expect(packages.filter((p) => p.startsWith("prom-client"))).toEqual([]);
    expect(modules.filter((m) => m.startsWith("src/metrics/"))).toEqual([]);
  });

  it("src/metrics/index.ts does load prom-client", async () => {
    expect((await loads("src/metrics/index.ts")).packages).toContain("prom-client");
  });
});

describe("Solana packages stay in veep-bridge/solana", () => {
  it.each([
    "src/index.ts",
    "src/adapter.ts",
    "src/testing/index.ts",
    "src/stores/postgres/index.ts",
    "src/sources/mqtt/index.ts",
    "src/metrics/index.ts",
    "src/memory.ts",
  ])("%s loads no Solana package nor src/solana", async (entry) => {
    const { modules, packages } = await loads(entry);
    expect(packages.filter((p) => p.startsWith("@solana") || p.startsWith("litesvm"))).toEqual([]);
    expect(modules.filter((m) => m.startsWith("src/solana/"))).toEqual([]);
  });

  it("src/solana/index.ts loads @solana/kit and @solana-program/memo, never litesvm", async () => {
    const { packages } = await loads("src/solana/index.ts");
    expect(packages).toEqual(expect.arrayContaining(["@solana/kit", "@solana-program/memo"]));
    expect(packages.filter((p) => p.startsWith("litesvm"))).toEqual([]);
  });
});
