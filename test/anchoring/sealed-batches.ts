import { OpenBatch } from "../../src/bridge/open-batch.js";
import { memoryStore } from "../../src/stores/memory/index.js";
import { makeReadings } from "../../src/testing/index.js";

/** A memory store holding `count` sealed batches of `size` readings each, and the batches. */
export async function sealedBatches(count: number, size = 3) {
  const store = memoryStore();
  await store.open();
  const batches: OpenBatch[] = [];
  for (let i = 0; i < count; i++) {
    const batch = new OpenBatch();
    batch.apply((await store.append(batch.request(makeReadings(size), []))).plan!);
    await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: size });
    batches.push(batch);
  }
  return { store, batches };
}
