import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { merkleRootHex } from "../../src/adapter.js";
import { canonicalJson } from "../../src/hashing/canonical-json.js";
import { messageHash } from "../../src/hashing/message-hash.js";
import { createDecoder } from "../../src/message/index.js";
import type { JsonObject, Reading } from "../../src/message/types.js";
import { deviceKeyPair, signPayload } from "../../src/signing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

const DEVICE = deviceKeyPair(new Uint8Array(32).fill(31));
const INSIDER = deviceKeyPair(new Uint8Array(32).fill(32));
const decoder = createDecoder();

function decode(payload: JsonObject): Reading {
  const result = decoder.decode({
    topic: "veep/factory1/line2/METER_1/data",
    payload: new TextEncoder().encode(JSON.stringify(payload)),
    receivedAt: new Date(),
  });
  if (!result.ok) throw new Error(result.rejection.detail);
  return result.reading;
}

describe("verify re-checks stored signatures", () => {
  let fx: PgFixture;
  const batch = new OpenBatch();
  const readings: Reading[] = [];

  beforeAll(async () => {
    fx = await pgFixture();
    for (let n = 0; n < 6; n++) {
      const signed = decode(signPayload({ deviceId: "METER_1", n, kwh: 10 + n }, DEVICE.privateKey));
      readings.push({ ...signed, signatureCheck: { valid: true, publicKey: DEVICE.publicKey } });
    }
    // Stored under onInvalid "store": unsigned, recorded as not valid.
    readings.push({
      ...decode({ deviceId: "METER_1", n: 6 }),
      signatureCheck: { valid: false, publicKey: DEVICE.publicKey },
    });
    await appendTo(fx.store, batch, readings);
    await fx.store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 7 });
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  /** Rewrites message `index` consistently: new raw_data, its message_hash, and the batch root. */
  async function rewrite(index: number, payload: JsonObject): Promise<() => Promise<void>> {
    const id = readings[index]!.messageId;
    const before = await fx.sql.query(
      "SELECT raw_data::text AS raw, message_hash FROM messages WHERE message_id = $1",
      [id],
    );
    const root = await fx.sql.query("SELECT batch_hash FROM batches WHERE batch_id = $1", [batch.batchId]);
    await fx.sql.query("UPDATE messages SET raw_data = $2::jsonb, message_hash = $3 WHERE message_id = $1", [
      id,
      canonicalJson(payload),
      messageHash(payload),
    ]);
    const { rows } = await fx.sql.query<{ message_hash: string }>(
      "SELECT message_hash FROM messages WHERE batch_id = $1 ORDER BY leaf_index",
      [batch.batchId],
    );
    await fx.sql.query("UPDATE batches SET batch_hash = $2 WHERE batch_id = $1", [
      batch.batchId,
      merkleRootHex(rows.map((r) => r.message_hash)),
    ]);
    return async () => {
      await fx.sql.query(
        "UPDATE messages SET raw_data = $2::jsonb, message_hash = $3 WHERE message_id = $1",
        [id, before.rows[0].raw, before.rows[0].message_hash],
      );
      await fx.sql.query("UPDATE batches SET batch_hash = $2 WHERE batch_id = $1", [
        batch.batchId,
        root.rows[0].batch_hash,
      ]);
    };
  }

  it("passes untouched data and counts the signatures it checked and the ones stored as not valid", async () => {
    for (const reading of readings)
      expect((await fx.store.verifyMessage(reading.messageId)).failures).toEqual([]);
    const report = await fx.store.verifyAll();
    expect(report).toMatchObject({ ok: true, messages: 7, signaturesChecked: 6, signaturesFlagged: 1 });
  });

  it("catches a reading rewritten consistently (hash and root recomputed): its signature no longer verifies", async () => {
    const original = readings[2]!.payload;
    const restore = await rewrite(2, { ...original, kwh: 999.99 });
    try {
      const one = await fx.store.verifyMessage(readings[2]!.messageId);
      expect(one.failures).toEqual(["signature_invalid"]);
      expect((await fx.store.verifyMessage(readings[1]!.messageId)).ok).toBe(true);
      const report = await fx.store.verifyAll();
      expect(report.ok).toBe(false);
      expect(report.firstFailure).toMatchObject({
        batchId: batch.batchId,
        messageId: readings[2]!.messageId,
        reason: "signature_invalid",
      });
      expect(report.firstFailure?.detail).toContain(`does not verify with key ${DEVICE.publicKey}`);
    } finally {
      await restore();
    }
    expect((await fx.store.verifyAll()).ok).toBe(true);
  });

  it("catches a re-signed reading whose device_signature still names the old signature, and one re-signed by another key", async () => {
    const original = readings[3]!.payload;
    const { signature: _old, ...unsigned } = original;
    const resigned = signPayload({ ...unsigned, kwh: 0 }, INSIDER.privateKey);
    const restore = await rewrite(3, resigned);
    try {
      const report = await fx.store.verifyAll();
      expect(report.firstFailure).toMatchObject({
        reason: "signature_invalid",
        messageId: readings[3]!.messageId,
      });
      expect(report.firstFailure?.detail).toMatch(
        /device_signature .* is not the signature member of raw_data/,
      );
      await fx.sql.query("UPDATE messages SET device_signature = $2 WHERE message_id = $1", [
        readings[3]!.messageId,
        resigned["signature"],
      ]);
      const again = await fx.store.verifyAll();
      expect(again.firstFailure?.detail).toContain("does not verify with key");
    } finally {
      await restore();
      await fx.sql.query("UPDATE messages SET device_signature = $2 WHERE message_id = $1", [
        readings[3]!.messageId,
        original["signature"],
      ]);
    }
    expect((await fx.store.verifyAll()).ok).toBe(true);
  });

  it("checks a signature with the key recorded at ingest, so a rotated device key does not fail old readings", async () => {
    await fx.store.setDeviceKey("METER_1", INSIDER.publicKey);
    expect((await fx.store.verifyAll()).ok).toBe(true);
    const batchOnly = await fx.store.verifyAll({ batchId: batch.batchId });
    expect(batchOnly.signaturesChecked).toBe(6);
  });
});
