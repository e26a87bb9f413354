import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Examples import the package by name, exactly as users do; here it resolves to the sources.
    alias: [
      { find: /^veep-bridge\/mqtt$/, replacement: src("sources/mqtt/index.ts") },
      { find: /^veep-bridge\/postgres$/, replacement: src("stores/postgres/index.ts") },
      { find: /^veep-bridge\/testing$/, replacement: src("testing/index.ts") },
      { find: /^veep-bridge$/, replacement: src("index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
