import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { type PgPoolLike, type PgQueryConfig, postgresStore } from "../../src/stores/postgres/index.js";
import { expectBatchInvariant, makeReadings, makeRejection, redeliver } from "../../src/testing/index.js";
import { appendTo, messageUpdates, OpenBatch, type PgFixture, pgFixture, rawReading } from "./helpers.js";

const NO_UPDATES_TRIGGER = `
CREATE FUNCTION forbid_message_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'messages are write-once'; END $$;
CREATE TRIGGER messages_write_once BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION forbid_message_update();`;

for (const insertMethod of ["unnest", "copy"] as const) {
  describe(`PostgresStore.append (insertMethod ${insertMethod})`, () => {
    let fx: PgFixture;
    beforeAll(async () => {
      fx = await pgFixture({ insertMethod });
      await fx.sql.query(NO_UPDATES_TRIGGER);
    });
    afterAll(async () => {
      await fx?.dispose();
    });

    it("writes message rows once: no UPDATE of messages through appends and a seal", async () => {
      const batch = new OpenBatch();
      for (let i = 0; i < 5; i++) await appendTo(fx.store, batch, makeReadings(40));
      await fx.store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 200 });
      await expectBatchInvariant(fx.store, batch.batchId);
      expect(await messageUpdates(fx.sql)).toBe(0);
      const { rows } = await fx.sql.query(
        "SELECT count(*)::int AS n, count(DISTINCT leaf_index)::int AS leaves FROM messages WHERE batch_id = $1",
        [batch.batchId],
      );
      expect(rows[0]).toEqual({ n: 200, leaves: 200 });
    });

    it("neither stores nor counts redelivered duplicates (batch and device counts)", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(9, { devices: [`DUP_${insertMethod}`] });
      await appendTo(fx.store, batch, readings);
      const again = await appendTo(fx.store, batch, [
        ...redeliver(readings),
        ...makeReadings(1, { devices: [`DUP_${insertMethod}`] }),
      ]);
      expect(again.duplicates).toHaveLength(9);
      expect(again.plan?.leaves.map((l) => l.leafIndex)).toEqual([9]);
      expect((await fx.store.getBatch(batch.batchId))?.messageCount).toBe(10);
      const { rows } = await fx.sql.query(
        "SELECT message_count::int AS n FROM devices WHERE device_id = $1",
        [`DUP_${insertMethod}`],
      );
      expect(rows[0].n).toBe(10);
      await expectBatchInvariant(fx.store, batch.batchId);
    });

    it("isolates rows PostgreSQL refuses, dead-letters them with the SQLSTATE and stores their neighbours", async () => {
      const batch = new OpenBatch();
      const good = makeReadings(8);
      const nul = rawReading({ deviceId: "SENSOR_001", note: "a\u0000b" });
      const longTopic = rawReading(
        { deviceId: "SENSOR_002", n: 1 },
        { topic: `veep/${"t".repeat(300)}/SENSOR_002/data` },
      );
      const longDevice = rawReading({ deviceId: "D".repeat(101) }, { deviceId: "D".repeat(101) });
      const longFirmware = rawReading(
        { deviceId: "SENSOR_003", n: 2 },
        { deviceId: "SENSOR_003", firmwareVersion: "f".repeat(51) },
      );
      const readings = [
        good[0]!,
        nul,
        ...good.slice(1, 4),
        longTopic,
        longDevice,
        ...good.slice(4),
        longFirmware,
      ];
      const result = await appendTo(fx.store, batch, readings, [makeRejection()]);
      expect(result.refused.map((r) => r.reason)).toEqual([
        "store_refused",
        "store_refused",
        "store_refused",
        "store_refused",
      ]);
      const details = result.refused.map((r) => r.detail);
      expect(details[0]).toMatch(/^SQLSTATE 22P05: /);
      expect(details.slice(1)).toEqual([
        expect.stringMatching(/^SQLSTATE 22001: /),
        expect.stringMatching(/^SQLSTATE 22001: /),
        expect.stringMatching(/^SQLSTATE 22001: /),
      ]);
      expect(Buffer.from(result.refused[0]!.payload)).toEqual(Buffer.from(nul.rawPayload));
      expect(result.plan?.leaves.map((l) => l.reading.messageId)).toEqual(good.map((r) => r.messageId));
      await expectBatchInvariant(
        fx.store,
        batch.batchId,
        good.map((r) => r.messageHash),
      );
      const letters = await fx.store.listDeadLetters({ limit: 5 });
      expect(letters.map((l) => l.reason)).toEqual([
        "store_refused",
        "store_refused",
        "store_refused",
        "store_refused",
        "not_an_object",
      ]);
      expect(letters[3]?.detail).toMatch(/22P05/);
      expect(letters[3]?.topic).toBe(nul.topic);
    });

    it("treats a second copy within one request as a duplicate", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(3);
      const result = await appendTo(fx.store, batch, [...readings, ...redeliver(readings.slice(1, 2))]);
      expect(result.plan?.leaves).toHaveLength(3);
      expect(result.duplicates.map((r) => r.messageHash)).toEqual([readings[1]!.messageHash]);
      await expectBatchInvariant(
        fx.store,
        batch.batchId,
        readings.map((r) => r.messageHash),
      );
    });

    it("creates no batch when every reading is refused, but keeps the dead letters", async () => {
      const batch = new OpenBatch();
      const result = await appendTo(fx.store, batch, [rawReading({ bad: "\u0000" })]);
      expect(result.plan).toBeNull();
      expect(result.refused).toHaveLength(1);
      expect(await fx.store.getBatch(batch.batchId)).toBeNull();
    });

    it("upserts devices in one go: tenant and site from the topic, latest last_seen and firmware, counts added", async () => {
      const device = `FW_${insertMethod}`;
      const t0 = new Date("2025-10-01T10:00:00Z");
      const at = (s: number) => new Date(t0.getTime() + s * 1000);
      const batch = new OpenBatch();
      await appendTo(fx.store, batch, [
        rawReading(
          { deviceId: device, n: 1 },
          { deviceId: device, receivedAt: at(0), firmwareVersion: "1.0.0" },
        ),
        rawReading(
          { deviceId: device, n: 2 },
          { deviceId: device, receivedAt: at(5), firmwareVersion: "1.1.0" },
        ),
        rawReading({ deviceId: device, n: 3 }, { deviceId: device, receivedAt: at(9) }),
      ]);
      const first = await fx.sql.query("SELECT * FROM devices WHERE device_id = $1", [device]);
      expect(first.rows[0]).toMatchObject({
        tenant_id: "factory1",
        site_id: "line2",
        message_count: "3",
        firmware_version: "1.1.0",
        last_seen: at(9),
      });
      await appendTo(fx.store, batch, [
        rawReading(
          { deviceId: device, n: 4 },
          { deviceId: device, receivedAt: at(20), tenantId: "factory2", siteId: "line7" },
        ),
      ]);
      const second = await fx.sql.query("SELECT * FROM devices WHERE device_id = $1", [device]);
      expect(second.rows[0]).toMatchObject({
        tenant_id: "factory2",
        site_id: "line7",
        message_count: "4",
        firmware_version: "1.1.0",
        last_seen: at(20),
      });
      expect(second.rows[0].updated_at.getTime()).toBeGreaterThanOrEqual(first.rows[0].updated_at.getTime());
    });

    for (const copies of ["the same readings", "redelivered copies"] as const) {
      it(`stores a message once when two stores append ${copies} concurrently (unique violation → retry)`, async () => {
        const other = postgresStore({ connectionString: fx.db.url, insertMethod });
        try {
          const readings = makeReadings(300);
          const theirs = copies === "the same readings" ? readings : redeliver(readings);
          const a = new OpenBatch();
          const b = new OpenBatch();
          const [ra, rb] = await Promise.all([
            appendTo(fx.store, a, readings),
            appendTo(other, b, [...theirs].reverse()),
          ]);
          expect((ra.plan?.leaves.length ?? 0) + (rb.plan?.leaves.length ?? 0)).toBe(300);
          expect(ra.duplicates.length + rb.duplicates.length).toBe(300);
          expect(ra.refused.length + rb.refused.length).toBe(0);
          const { rows } = await fx.sql.query(
            "SELECT count(*)::int AS n FROM messages WHERE message_hash = ANY($1)",
            [readings.map((r) => r.messageHash)],
          );
          expect(rows[0].n).toBe(300);
          for (const batch of [a, b])
            if (batch.messageCount > 0) await expectBatchInvariant(fx.store, batch.batchId);
        } finally {
          await other.close();
        }
      });
    }
  });
}

describe("PostgresStore.append failures", () => {
  it("throws a StoreError with the driver error as cause when the server is unreachable, writing nothing", async () => {
    const store = postgresStore({
      connectionString: "postgres://bridge:s3cret@127.0.0.1:1/veep",
      connectionTimeoutMillis: 500,
    });
    const batch = new OpenBatch();
    const error = await store.append(batch.request(makeReadings(2), [])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("STORE_ERROR");
    expect((error as StoreError).cause).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toContain("s3cret");
    await store.close();
  });

  it("throws a StoreError and writes nothing when the connection dies mid-transaction (after the messages went in)", async () => {
    const fx = await pgFixture();
    const pool = new pg.Pool({ connectionString: fx.db.url });
    try {
      let kill = false;
      const dying: PgPoolLike = {
        query: (config) => pool.query(config as pg.QueryConfig) as never,
        end: () => pool.end(),
        connect: async () => {
          const client = await pool.connect();
          const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
          const query = client.query.bind(client) as (config: unknown) => Promise<unknown>;
          return Object.assign(client, {
            query: (config: PgQueryConfig) =>
              kill && config.name === "veep_insert_dead_letters"
                ? fx.sql.query("SELECT pg_terminate_backend($1)", [pid]).then(() => query(config))
                : query(config),
          }) as never;
        },
      };
      const store = postgresStore({ pool: dying });
      const batch = new OpenBatch();
      await appendTo(store, batch, makeReadings(3));
      kill = true;
      const error = await store
        .append(batch.request(makeReadings(4), [makeRejection()]))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).cause).toBeDefined();
      const { rows } = await fx.sql.query(
        "SELECT (SELECT count(*)::int FROM messages) AS messages, (SELECT count(*)::int FROM dead_letters) AS letters",
      );
      expect(rows[0]).toEqual({ messages: 3, letters: 0 });
      await expectBatchInvariant(fx.store, batch.batchId);
      expect((await fx.store.getBatch(batch.batchId))?.messageCount).toBe(3);
      await store.close();
    } finally {
      await pool.end().catch(() => undefined);
      await fx.dispose();
    }
  });
});
