export {
  type MemoryBatchAnchorState,
  type MemoryStore,
  type MemoryStoreData,
  type MemoryStoreOptions,
  memoryStore,
} from "./memory-store.js";
