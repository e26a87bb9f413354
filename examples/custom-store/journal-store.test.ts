/**
 * Runs the Store conformance suite from `veep-bridge/testing` against the journal store, exactly as
 * an adapter author would. In your project: `import { storeConformance } from "veep-bridge/testing"`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storeConformance } from "veep-bridge/testing";
import { journalStore } from "./journal-store.js";

storeConformance("journal store (examples/custom-store)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "veep-journal-"));
  const path = join(dir, "journal.jsonl");
  return {
    store: journalStore(path),
    reopen: async () => journalStore(path),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
