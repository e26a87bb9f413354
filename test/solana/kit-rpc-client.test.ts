import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anchorMemo } from "../../src/anchoring/index.js";
import { AnchorError } from "../../src/errors.js";
import { kitRpcClient, solanaAnchor, solanaReader } from "../../src/solana/index.js";
import { anchorConformance } from "../../src/testing/index.js";
import { type LiteSvmRpc, startLiteSvmRpc } from "../support/litesvm-rpc.js";

let rpc: LiteSvmRpc;
beforeAll(async () => {
  rpc = await startLiteSvmRpc();
});
afterAll(async () => {
  await rpc.close();
});

anchorConformance("solana over JSON-RPC (kitRpcClient → LiteSVM)", async () => ({
  anchor: solanaAnchor({ rpcUrl: rpc.url, signer: rpc.payer, commitment: "confirmed" }),
  settle: async () => {},
  expire: async () => rpc.client.expire(),
  dispose: async () => {},
}));

describe("kitRpcClient", () => {
  it("reads the memo back through getTransaction, without a fee payer", async () => {
    const anchor = solanaAnchor({ rpcUrl: rpc.url, signer: rpc.payer });
    const batchId = "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d";
    const memo = anchorMemo({ batchId, messageCount: 7, root: "cd".repeat(32) });
    const prepared = await anchor.prepare({ batchId, memo });
    await anchor.send(prepared);
    const tx = await solanaReader({ rpcUrl: rpc.url }).read(prepared.signature);
    expect(tx).toMatchObject({ memos: [memo], feeLamports: 5000 });
  });

  it("says the RPC is unreachable, naming the host, and that it may have been sent (not definite)", async () => {
    const client = kitRpcClient({ rpcUrl: "http://127.0.0.1:9" });
    const error = await client.sendTransaction("AA==").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnchorError);
    expect((error as AnchorError).definite).toBe(false);
    expect((error as Error).message).toMatch(/127\.0\.0\.1:9/);
    await expect(client.latestBlockhash()).rejects.toThrow(
      /getLatestBlockhash failed: Solana RPC 127\.0\.0\.1:9/,
    );
  });
});
