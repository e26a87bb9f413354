import { memoryStore } from "../../src/memory.js";
import { storeConformance } from "../../src/testing/index.js";

storeConformance("memoryStore", async () => {
  const data = memoryStore().data;
  return {
    store: memoryStore({ data }),
    reopen: async () => memoryStore({ data }),
    dispose: async () => {},
  };
});
