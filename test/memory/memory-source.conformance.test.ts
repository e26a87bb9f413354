import { type MemorySource, memorySource } from "../../src/memory.js";
import { sourceConformance } from "../../src/testing/index.js";

sourceConformance("memorySource", async () => {
  let current: MemorySource = memorySource();
  const session = current.session;
  return {
    source: current,
    publish: async (topic, payload) => current.publish(topic, payload),
    reconnect: async () => {
      current = memorySource({ session });
      return current;
    },
    dispose: async () => {},
  };
});
