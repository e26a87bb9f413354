import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anchorBatches, anchorMemo } from "../../src/anchoring/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "../postgres/helpers.js";
import { litesvmChain } from "./support.js";

describe("anchoring a PostgreSQL store's batches on LiteSVM", () => {
  let fx: PgFixture;
  beforeEach(async () => {
    fx = await pgFixture();
  });
  afterEach(async () => {
    await fx.dispose();
  });

  async function sealed(count: number, size = 4): Promise<OpenBatch[]> {
    const batches: OpenBatch[] = [];
    for (let i = 0; i < count; i++) {
      const batch = new OpenBatch();
      await appendTo(fx.store, batch, makeReadings(size));
      await fx.store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: size });
      batches.push(batch);
    }
    return batches;
  }

  it("writes the lifecycle columns and blockchain_transactions with the measured fee in SOL", async () => {
    const [batch] = await sealed(1);
    const { anchor } = await litesvmChain();
    const anchorer = anchorBatches(fx.store, { anchor });
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    const pending = await fx.sql.query(
      "SELECT status, solana_tx_signature, solana_confirmed FROM batches WHERE batch_id = $1",
      [batch!.batchId],
    );
    expect(pending.rows[0]).toMatchObject({ status: "blockchain_pending", solana_confirmed: false });
    const signature = pending.rows[0].solana_tx_signature as string;
    expect(signature.length).toBeLessThanOrEqual(88);
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    const { rows } = await fx.sql.query(
      `SELECT b.status, b.solana_block_number::text AS slot, b.solana_confirmed, b.confirmed_at IS NOT NULL AS at,
              b.solana_confirmation_time IS NOT NULL AS time, t.gas_fee::text AS gas_fee, t.status AS tx_status,
              t.block_number::text AS tx_slot, t.memo, t.tx_signature
       FROM batches b JOIN blockchain_transactions t ON t.batch_id = b.batch_id WHERE b.batch_id = $1`,
      [batch!.batchId],
    );
    expect(rows).toEqual([
      {
        status: "blockchain_confirmed",
        slot: rows[0].tx_slot,
        solana_confirmed: true,
        at: true,
        time: true,
        gas_fee: "0.000005000",
        tx_status: "confirmed",
        tx_slot: rows[0].tx_slot,
        memo: anchorMemo({ batchId: batch!.batchId, messageCount: 4, root: batch!.batchHash }),
        tx_signature: signature,
      },
    ]);
    const read = await anchor.read(signature);
    expect(read?.memos).toEqual([rows[0].memo]);
  });

  it("two workers on two connections at once (the bridge and `veep-bridge anchor`) send one transaction per batch", async () => {
    const batches = await sealed(8, 2);
    const { anchor, client } = await litesvmChain();
    const other = postgresStore({ connectionString: fx.db.url });
    await other.open();
    try {
      const sent: string[] = [];
      const onEvent = (e: { type: string; batchId: string }) => e.type === "sent" && sent.push(e.batchId);
      const a = anchorBatches(fx.store, { anchor, owner: "bridge", batchLimit: 3, onEvent });
      const b = anchorBatches(other, { anchor, owner: "worker", batchLimit: 3, onEvent });
      for (let round = 0; round < 4; round++) await Promise.all([a.runOnce(), b.runOnce()]);
      expect(sent.sort()).toEqual(batches.map((x) => x.batchId).sort());
      const { rows } = await fx.sql.query(
        "SELECT status, count(*)::int AS n FROM batches GROUP BY status ORDER BY status",
      );
      expect(rows).toEqual([{ status: "blockchain_confirmed", n: 8 }]);
      const tx = await fx.sql.query("SELECT count(*)::int AS n FROM blockchain_transactions");
      expect(tx.rows[0].n).toBe(8);
      expect(client.fees.size).toBe(8);
    } finally {
      await other.close();
    }
  });

  it("an unfunded fee payer: the batch is failed with a reason saying to fund it, and anchored once funded", async () => {
    const [batch] = await sealed(1);
    const { anchor, svm, payer } = await litesvmChain({ fund: 0n });
    const anchorer = anchorBatches(fx.store, { anchor, retry: { initialDelayMs: 0, maxDelayMs: 0 } });
    expect(await anchorer.runOnce()).toMatchObject({ failed: 1 });
    expect(await fx.store.getBatchFailureReason(batch!.batchId)).toMatch(/fee payer .* fund it/);
    svm.airdrop(payer.address, 1_000_000_000n as never);
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    const attempts = await fx.store.listAnchorAttempts(batch!.batchId);
    expect(attempts.map((x) => x.status)).toEqual(["failed", "confirmed"]);
    expect(attempts[0]?.error).toMatch(/fund it/);
  });

  it("an expired blockhash: the lost transaction is re-sent with a new blockhash", async () => {
    const [batch] = await sealed(1);
    const { anchor, client } = await litesvmChain();
    const memo = anchorMemo({ batchId: batch!.batchId, messageCount: 4, root: batch!.batchHash });
    const lost = await anchor.prepare({ batchId: batch!.batchId, memo });
    await fx.store.recordAnchorAttempt({
      batchId: batch!.batchId,
      signature: lost.signature,
      memo,
      validUntil: lost.validUntil,
    });
    const anchorer = anchorBatches(fx.store, { anchor });
    expect(await anchorer.runOnce()).toMatchObject({ inFlight: 1, sent: 0 });
    client.expire();
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    const attempts = await fx.store.listAnchorAttempts(batch!.batchId);
    expect(attempts.map((x) => [x.signature === lost.signature, x.status])).toEqual([
      [true, "expired"],
      [false, "confirmed"],
    ]);
  });
});
