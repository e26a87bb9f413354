import { anchorConformance } from "../../src/testing/index.js";
import { litesvmChain } from "./support.js";

anchorConformance("solana (kit transactions on LiteSVM)", async () => {
  const { anchor, client } = await litesvmChain();
  return { anchor, settle: async () => {}, expire: async () => client.expire(), dispose: async () => {} };
});
