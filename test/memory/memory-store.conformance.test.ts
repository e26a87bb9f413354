import { createMemoryStoreData, memoryStore } from "../../src/index.js";
import { storeConformance } from "../../src/testing/index.js";

storeConformance("memoryStore", async () => {
  const data = createMemoryStoreData();
  return {
    store: memoryStore({ data }),
    reopen: async () => memoryStore({ data }),
    dispose: async () => {},
  };
});
