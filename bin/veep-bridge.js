#!/usr/bin/env node
// The `veep-bridge` command. An installed package runs its build, dist/cli.js. A clone of the
// repository runs its TypeScript sources through tsx (a development dependency), so that
// `npx veep-bridge` works there without `npm run build` and never runs a stale build.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);

async function loadTsx() {
  try {
    return await import("tsx/esm/api");
  } catch {
    return undefined;
  }
}

const tsx = existsSync(sources) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register();
  await import(sources.href);
} else {
  try {
    await import("../dist/cli.js");
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist")) throw error;
    process.stderr.write(
      "veep-bridge: found neither the build (dist/cli.js) nor tsx to run the sources — run `npm install`, or `npm run build`\n",
    );
    process.exit(70);
  }
}
