import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidOptionError, StoreError } from "../../src/errors.js";
import { createDecoder } from "../../src/message/index.js";
import type { JsonObject, Reading } from "../../src/message/types.js";
import { deviceKeyPair, signPayload } from "../../src/signing/index.js";
import type { InsertMethod } from "../../src/stores/postgres/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

const KEY_1 = deviceKeyPair(new Uint8Array(32).fill(1));
const KEY_2 = deviceKeyPair(new Uint8Array(32).fill(2));
const decoder = createDecoder();

function decode(device: string, payload: JsonObject): Reading {
  const result = decoder.decode({
    topic: `veep/factory1/line2/${device}/data`,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
    receivedAt: new Date(),
  });
  if (!result.ok) throw new Error(result.rejection.detail);
  return result.reading;
}

describe("device keys in PostgreSQL", () => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("registers, rotates and removes a key, reporting the previous one, and loads the keys in one query", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, [decode("KEYED_1", { kwh: 1 })]);
    expect(await fx.store.setDeviceKey("KEYED_1", KEY_1.publicKey)).toEqual({
      deviceId: "KEYED_1",
      publicKey: KEY_1.publicKey,
      previousKey: null,
      created: false,
    });
    const rotated = await fx.store.setDeviceKey("KEYED_1", KEY_2.publicKey);
    expect(rotated.previousKey).toBe(KEY_1.publicKey);
    const registered = await fx.store.setDeviceKey("NEW_1", KEY_1.publicKey, {
      tenantId: "factory9",
      siteId: "line9",
    });
    expect(registered.created).toBe(true);
    const { rows } = await fx.sql.query(
      "SELECT tenant_id, site_id, public_key, message_count::int AS n FROM devices WHERE device_id = 'NEW_1'",
    );
    expect(rows).toEqual([{ tenant_id: "factory9", site_id: "line9", public_key: KEY_1.publicKey, n: 0 }]);
    const keys = await fx.store.loadDeviceKeys();
    expect(keys.get("KEYED_1")).toBe(KEY_2.publicKey);
    expect(keys.get("NEW_1")).toBe(KEY_1.publicKey);
    await fx.store.setDeviceKey("NEW_1", null);
    expect((await fx.store.loadDeviceKeys()).has("NEW_1")).toBe(false);
    // A device registered by its key keeps the key when its first reading arrives.
    await fx.store.setDeviceKey("NEW_1", KEY_1.publicKey);
    await appendTo(fx.store, batch, [decode("NEW_1", { kwh: 2 })]);
    expect((await fx.store.loadDeviceKeys()).get("NEW_1")).toBe(KEY_1.publicKey);
  });

  it("refuses a malformed key, an unknown device without tenant and site, and bad ids", async () => {
    await expect(fx.store.setDeviceKey("KEYED_1", "not-a-key")).rejects.toBeInstanceOf(InvalidOptionError);
    const signatureSized = String(signPayload({ a: 1 }, KEY_1.privateKey)["signature"]);
    await expect(fx.store.setDeviceKey("KEYED_1", signatureSized)).rejects.toThrow(/base58 of 32 bytes/);
    await expect(fx.store.setDeviceKey("NOBODY", KEY_1.publicKey)).rejects.toThrow(StoreError);
    await expect(fx.store.setDeviceKey("NOBODY", KEY_1.publicKey)).rejects.toThrow(/is unknown/);
    await expect(fx.store.setDeviceKey("x".repeat(101), KEY_1.publicKey)).rejects.toThrow(/deviceId/);
    await expect(
      fx.store.setDeviceKey("NOBODY", KEY_1.publicKey, { tenantId: "", siteId: "s" }),
    ).rejects.toThrow(/register\.tenantId/);
    expect((await fx.store.loadDeviceKeys()).has("NOBODY")).toBe(false);
  });
});

describe.each<InsertMethod>(["copy", "unnest"])("signed readings written with %s", (insertMethod) => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture({ insertMethod });
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("stores device_signature for well-formed signatures and one signature_verifications row per checked reading", async () => {
    // 40 readings: above the size where the copy writer switches from INSERT to COPY.
    const readings = Array.from({ length: 40 }, (_, i) => {
      const payload = { deviceId: "SIGNED_1", n: i };
      const signed =
        i % 4 === 3 ? { ...payload, signature: "malformed" } : signPayload(payload, KEY_1.privateKey);
      const reading = decode("SIGNED_1", signed);
      if (i % 2 === 1) return reading; // not checked (as for a device without a key)
      return { ...reading, signatureCheck: { valid: i % 4 === 0, publicKey: KEY_1.publicKey } };
    });
    await appendTo(fx.store, new OpenBatch(), readings);
    const { rows } = await fx.sql.query<{
      n: number;
      device_signature: string | null;
      signature: string | null;
      is_valid: boolean | null;
      public_key: string | null;
    }>(`SELECT (m.raw_data->>'n')::int AS n, m.device_signature, m.raw_data->>'signature' AS signature,
              v.is_valid, v.public_key
       FROM messages m LEFT JOIN signature_verifications v USING (message_id) ORDER BY m.leaf_index`);
    expect(rows).toHaveLength(40);
    for (const row of rows) {
      expect(row.device_signature).toBe(row.n % 4 === 3 ? null : row.signature);
      expect(row.is_valid).toBe(row.n % 2 === 1 ? null : row.n % 4 === 0);
      expect(row.public_key).toBe(row.n % 2 === 1 ? null : KEY_1.publicKey);
    }
    const few = [decode("SIGNED_1", signPayload({ deviceId: "SIGNED_1", n: 100 }, KEY_1.privateKey))];
    await appendTo(fx.store, new OpenBatch(), [
      { ...few[0]!, signatureCheck: { valid: true, publicKey: KEY_1.publicKey } },
    ]);
    const count = await fx.sql.query("SELECT count(*)::int AS n FROM signature_verifications");
    expect(count.rows[0].n).toBe(21);
  });
});
