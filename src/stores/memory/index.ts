export {
  createMemoryStoreData,
  type MemoryBatchRow,
  type MemoryDeviceRow,
  type MemoryMessageRow,
  type MemoryStore,
  type MemoryStoreData,
  type MemoryStoreOptions,
  memoryStore,
} from "./memory-store.js";
