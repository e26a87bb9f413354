import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyInclusion } from "../../src/hashing/index.js";
import type { VerificationProgress } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

describe("PostgresStore proofs and verification", () => {
  let fx: PgFixture;
  const sealed = new OpenBatch();
  const open = new OpenBatch();
  const sealedReadings = makeReadings(13);
  const openReadings = makeReadings(5);

  beforeAll(async () => {
    fx = await pgFixture();
    await appendTo(fx.store, sealed, sealedReadings.slice(0, 8));
    await appendTo(fx.store, sealed, sealedReadings.slice(8));
    await fx.store.sealBatch({ batchId: sealed.batchId, batchHash: sealed.batchHash, messageCount: 13 });
    await appendTo(fx.store, open, openReadings);
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  /** Runs `tamper` SQL, checks, then restores the row. */
  async function tampered(
    table: "messages" | "batches",
    column: string,
    id: string,
    value: string,
    check: () => Promise<void>,
  ): Promise<void> {
    const key = table === "messages" ? "message_id" : "batch_id";
    const { rows } = await fx.sql.query(`SELECT ${column}::text AS v FROM ${table} WHERE ${key} = $1`, [id]);
    const cast = column === "raw_data" ? "::jsonb" : "";
    await fx.sql.query(`UPDATE ${table} SET ${column} = $2${cast} WHERE ${key} = $1`, [id, value]);
    try {
      await check();
    } finally {
      await fx.sql.query(`UPDATE ${table} SET ${column} = $2${cast} WHERE ${key} = $1`, [id, rows[0].v]);
    }
  }

  it("getProof: an RFC 9162 inclusion proof from the stored leaves, against the stored root", async () => {
    const reading = sealedReadings[11]!;
    const proof = await fx.store.getProof(reading.messageId);
    expect(proof).toMatchObject({
      algorithm: "sha256",
      messageId: reading.messageId,
      batchId: sealed.batchId,
      batchStatus: "complete",
      messageHash: reading.messageHash,
      leafIndex: 11,
      treeSize: 13,
      root: sealed.batchHash,
    });
    expect(verifyInclusion(proof!, { root: sealed.batchHash })).toBe(true);
    const pending = await fx.store.getProof(openReadings[2]!.messageId);
    expect(pending?.batchStatus).toBe("pending");
    expect(verifyInclusion(pending!, { root: open.batchHash })).toBe(true);
    expect(await fx.store.getProof("nope")).toBeNull();
  });

  it("verifyMessage: every check passes for untouched data; unknown ids say so", async () => {
    for (const reading of [...sealedReadings, ...openReadings]) {
      const result = await fx.store.verifyMessage(reading.messageId);
      expect(result.failures).toEqual([]);
      expect(result.ok).toBe(true);
      expect(result.recomputedHash).toBe(reading.messageHash);
    }
    const missing = await fx.store.verifyMessage("00000000-0000-4000-8000-000000000000");
    expect(missing).toMatchObject({ ok: false, failures: ["message_not_found"], batchId: null });
  });

  it("verifyAll: streams every batch through a cursor and reports progress", async () => {
    const progress: VerificationProgress[] = [];
    const report = await fx.store.verifyAll({ fetchSize: 4, onProgress: (p) => progress.push(p) });
    expect(report).toEqual({
      ok: true,
      batches: 2,
      messages: 18,
      failedBatches: 0,
      prunedBatches: 0,
      firstFailure: null,
      signaturesChecked: 0,
      signaturesFlagged: 0,
    });
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.at(-1)?.messages).toBe(18);
  });

  it("verifyBatches: yields one result per batch and releases its connection when the loop breaks", async () => {
    for await (const batch of fx.store.verifyBatches({ fetchSize: 2 })) {
      expect(batch.ok).toBe(true);
      break;
    }
    const all = [];
    for await (const batch of fx.store.verifyBatches()) all.push(batch);
    expect(all.map((b) => b.batchId).sort()).toEqual([sealed.batchId, open.batchId].sort());
    const byId = Object.fromEntries(all.map((b) => [b.batchId, b]));
    expect(byId[sealed.batchId]).toMatchObject({
      status: "complete",
      leafCount: 13,
      recomputedRoot: sealed.batchHash,
    });
  });

  it("verifyBatches({ batchId }): verifies only that batch", async () => {
    const results = [];
    for await (const batch of fx.store.verifyBatches({ batchId: open.batchId })) results.push(batch);
    expect(results.map((b) => [b.batchId, b.ok, b.leafCount])).toEqual([[open.batchId, true, 5]]);
    const none = [];
    for await (const batch of fx.store.verifyBatches({ batchId: "00000000-0000-4000-8000-000000000000" })) {
      none.push(batch);
    }
    expect(none).toEqual([]);
  });

  it("names the batch and message whose raw_data was altered", async () => {
    const victim = sealedReadings[4]!;
    const altered = JSON.stringify({ ...victim.payload, kwh: 999 });
    await tampered("messages", "raw_data", victim.messageId, altered, async () => {
      const result = await fx.store.verifyMessage(victim.messageId);
      expect(result.ok).toBe(false);
      expect(result.failures).toEqual(["message_hash_mismatch"]);
      const report = await fx.store.verifyAll();
      expect(report.ok).toBe(false);
      expect(report.failedBatches).toBe(1);
      expect(report.firstFailure).toMatchObject({
        batchId: sealed.batchId,
        messageId: victim.messageId,
        reason: "message_hash_mismatch",
      });
    });
  });

  it("names the batch and message whose message_hash was altered", async () => {
    const victim = openReadings[1]!;
    await tampered("messages", "message_hash", victim.messageId, "ab".repeat(32), async () => {
      const result = await fx.store.verifyMessage(victim.messageId);
      expect(result.failures).toEqual(["message_hash_mismatch", "batch_root_mismatch", "proof_invalid"]);
      const report = await fx.store.verifyAll();
      expect(report.firstFailure).toMatchObject({
        batchId: open.batchId,
        messageId: victim.messageId,
        reason: "message_hash_mismatch",
      });
    });
  });

  it("names the batch whose batch_hash was altered", async () => {
    await tampered("batches", "batch_hash", sealed.batchId, "cd".repeat(32), async () => {
      const result = await fx.store.verifyMessage(sealedReadings[0]!.messageId);
      expect(result.failures).toEqual(["batch_root_mismatch", "proof_invalid"]);
      expect(result.recomputedRoot).toBe(sealed.batchHash);
      const report = await fx.store.verifyAll();
      expect(report.firstFailure).toMatchObject({
        batchId: sealed.batchId,
        messageId: null,
        reason: "batch_root_mismatch",
      });
    });
  });

  it("detects a missing message (leaf gap) in a batch", async () => {
    const victim = sealedReadings[6]!;
    const { rows } = await fx.sql.query("SELECT * FROM messages WHERE message_id = $1", [victim.messageId]);
    await fx.sql.query("DELETE FROM messages WHERE message_id = $1", [victim.messageId]);
    try {
      const report = await fx.store.verifyAll();
      expect(report.firstFailure).toMatchObject({
        batchId: sealed.batchId,
        reason: "leaf_positions_invalid",
      });
      const neighbour = await fx.store.verifyMessage(sealedReadings[7]!.messageId);
      expect(neighbour.failures).toContain("leaf_positions_invalid");
    } finally {
      const r = rows[0];
      await fx.sql.query(
        "INSERT INTO messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, processed_at, leaf_index) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        [
          r.message_id,
          r.batch_id,
          r.device_id,
          r.topic,
          r.message_hash,
          r.raw_data,
          r.received_at,
          r.processed_at,
          r.leaf_index,
        ],
      );
    }
    expect((await fx.store.verifyAll()).ok).toBe(true);
  });
});
