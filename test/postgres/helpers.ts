import { randomUUID } from "node:crypto";
import pg from "pg";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { canonicalJson, hashCanonicalJson } from "../../src/hashing/index.js";
import type { JsonObject, Reading } from "../../src/message/types.js";
import {
  type PostgresStore,
  type PostgresStoreOptions,
  postgresStore,
} from "../../src/stores/postgres/index.js";
import type { AppendResult } from "../../src/stores/store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/** A migrated test database with a store and an admin client for raw SQL. */
export interface PgFixture {
  readonly db: TestDatabase;
  readonly store: PostgresStore;
  readonly sql: pg.Client;
  dispose(): Promise<void>;
}

/** Creates a database of its own, opens (migrates) a store on it and connects a raw client. */
export async function pgFixture(options: PostgresStoreOptions = {}): Promise<PgFixture> {
  const db = await createTestDatabase("vbpg");
  const store = postgresStore({ connectionString: db.url, ...options });
  await store.open();
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  return {
    db,
    store,
    sql,
    async dispose() {
      await sql.end();
      await store.close();
      await db.drop();
    },
  };
}

/**
 * A reading built by hand, bypassing the decoder (which would reject e.g. `\u0000`): for rows
 * PostgreSQL itself must refuse.
 */
export function rawReading(
  payload: JsonObject,
  overrides: Partial<
    Pick<Reading, "topic" | "deviceId" | "tenantId" | "siteId" | "firmwareVersion" | "receivedAt">
  > = {},
): Reading {
  const deviceId = overrides.deviceId ?? "SENSOR_001";
  const canonical = canonicalJson(payload);
  return {
    messageId: randomUUID(),
    topic: overrides.topic ?? `veep/factory1/line2/${deviceId}/data`,
    tenantId: overrides.tenantId ?? "factory1",
    siteId: overrides.siteId ?? "line2",
    deviceId,
    payload,
    canonicalJson: canonical,
    messageHash: hashCanonicalJson(canonical),
    receivedAt: overrides.receivedAt ?? new Date(),
    firmwareVersion: overrides.firmwareVersion,
    byteLength: Buffer.byteLength(canonical),
    rawPayload: new TextEncoder().encode(` ${JSON.stringify(payload)} `),
  };
}

/** Appends through an {@link OpenBatch} and applies the committed plan. */
export async function appendTo(
  store: PostgresStore,
  batch: OpenBatch,
  readings: readonly Reading[],
  rejections: Parameters<OpenBatch["request"]>[1] = [],
): Promise<AppendResult> {
  const result = await store.append(batch.request(readings, rejections));
  if (result.plan) batch.apply(result.plan);
  return result;
}

/** Number of rows UPDATEd in `messages` since the database was created (statistics flushed first). */
export async function messageUpdates(sql: pg.Client): Promise<number> {
  await sql.query("SELECT pg_stat_force_next_flush()").catch(() => undefined);
  const { rows } = await sql.query<{ n: string }>(
    "SELECT n_tup_upd::text AS n FROM pg_stat_user_tables WHERE relname = 'messages'",
  );
  return Number(rows[0]?.n ?? 0);
}

export { OpenBatch };
