export {
  type MemorySource,
  type MemorySourceOptions,
  type MemorySourceSession,
  memorySource,
} from "./memory-source.js";
