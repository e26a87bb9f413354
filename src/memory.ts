/**
 * `veep-bridge/memory`: in-memory adapters, for tests and examples. `memorySource()` delivers what
 * a test publishes, with acknowledgements and redelivery like a broker's persistent session;
 * `memoryStore()` keeps batches, messages and dead letters in maps a test can inspect. Both pass
 * the conformance suites in `veep-bridge/testing`. `memoryAnchor()` anchors batch roots on a
 * simulated chain with a control for every failure.
 *
 * @packageDocumentation
 */

export {
  type MemoryAnchor,
  type MemoryAnchorOptions,
  type MemoryChainTransaction,
  memoryAnchor,
} from "./anchoring/memory-anchor.js";
export {
  type MemorySource,
  type MemorySourceOptions,
  type MemorySourceSession,
  memorySource,
} from "./sources/memory/index.js";
export {
  type MemoryBatchAnchorState,
  type MemoryStore,
  type MemoryStoreData,
  type MemoryStoreOptions,
  memoryStore,
} from "./stores/memory/index.js";
