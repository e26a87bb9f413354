import { memoryAnchor } from "../../src/anchoring/index.js";
import { anchorConformance } from "../../src/testing/index.js";

anchorConformance("memory (confirmed after the next block)", async () => {
  const anchor = memoryAnchor({ autoConfirm: false });
  return {
    anchor,
    settle: async () => anchor.advance(),
    expire: async () => anchor.expireAll(),
    dispose: async () => {},
  };
});

anchorConformance("memory (confirmed at once)", async () => {
  const anchor = memoryAnchor();
  return {
    anchor,
    settle: async () => {},
    expire: async () => anchor.expireAll(),
    dispose: async () => {},
  };
});
