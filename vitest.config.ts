import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Examples import the package by name, exactly as users do; here it resolves to the sources.
    alias: [
      { find: /^veep-bridge\/metrics$/, replacement: src("metrics/index.ts") },
      { find: /^veep-bridge\/mqtt$/, replacement: src("sources/mqtt/index.ts") },
      { find: /^veep-bridge\/postgres$/, replacement: src("stores/postgres/index.ts") },
      { find: /^veep-bridge\/testing$/, replacement: src("testing/index.ts") },
      { find: /^veep-bridge\/adapter$/, replacement: src("adapter.ts") },
      { find: /^veep-bridge\/memory$/, replacement: src("memory.ts") },
      { find: /^veep-bridge\/signing$/, replacement: src("device-signing.ts") },
      { find: /^veep-bridge\/verify$/, replacement: src("verify.ts") },
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
