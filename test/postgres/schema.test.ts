import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultMigrationsDirectory, migrate } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";
import { type ColumnInfo, columns, constraints, indexes } from "./introspect.js";
import { SEED_DDL } from "./seed-ddl.js";

const col = (
  table: string,
  column: string,
  type: string,
  length: number | null,
  nullable: string,
  dflt: string | null,
): ColumnInfo => ({
  table,
  column,
  type,
  length,
  nullable,
  default: dflt,
});
const TZ = "timestamp with time zone";
const VC = "character varying";

/** The seed's columns, exactly as PostgreSQL reports the seed's DDL. */
const SEED_COLUMNS: ColumnInfo[] = [
  col("batches", "batch_id", "uuid", null, "NO", "gen_random_uuid()"),
  col("batches", "batch_hash", VC, 64, "NO", null),
  col("batches", "message_count", "integer", null, "NO", null),
  col("batches", "start_timestamp", TZ, null, "NO", null),
  col("batches", "end_timestamp", TZ, null, "NO", null),
  col("batches", "solana_tx_signature", VC, 88, "YES", null),
  col("batches", "solana_block_number", "bigint", null, "YES", null),
  col("batches", "status", VC, 20, "NO", "'pending'::character varying"),
  col("batches", "created_at", TZ, null, "YES", "now()"),
  col("batches", "confirmed_at", TZ, null, "YES", null),
  col("devices", "device_id", VC, 100, "NO", null),
  col("devices", "tenant_id", VC, 100, "NO", null),
  col("devices", "site_id", VC, 100, "NO", null),
  col("devices", "last_seen", TZ, null, "YES", "now()"),
  col("devices", "message_count", "bigint", null, "YES", "0"),
  col("devices", "public_key", VC, 88, "YES", null),
  col("devices", "firmware_version", VC, 50, "YES", null),
  col("devices", "created_at", TZ, null, "YES", "now()"),
  col("devices", "updated_at", TZ, null, "YES", "now()"),
  col("messages", "message_id", "uuid", null, "NO", "gen_random_uuid()"),
  col("messages", "batch_id", "uuid", null, "YES", null),
  col("messages", "device_id", VC, 100, "NO", null),
  col("messages", "topic", VC, 255, "NO", null),
  col("messages", "message_hash", VC, 64, "NO", null),
  col("messages", "raw_data", "jsonb", null, "NO", null),
  col("messages", "received_at", TZ, null, "NO", null),
  col("messages", "processed_at", TZ, null, "YES", "now()"),
];

/** The seed's indexes: 3 primary keys and its 10 named indexes, the GIN one included. */
const SEED_INDEXES: Record<string, string> = {
  batches_pkey: "CREATE UNIQUE INDEX batches_pkey ON public.batches USING btree (batch_id)",
  devices_pkey: "CREATE UNIQUE INDEX devices_pkey ON public.devices USING btree (device_id)",
  idx_batches_created_at:
    "CREATE INDEX idx_batches_created_at ON public.batches USING btree (created_at DESC)",
  idx_batches_hash: "CREATE INDEX idx_batches_hash ON public.batches USING btree (batch_hash)",
  idx_batches_status: "CREATE INDEX idx_batches_status ON public.batches USING btree (status)",
  idx_devices_last_seen: "CREATE INDEX idx_devices_last_seen ON public.devices USING btree (last_seen DESC)",
  idx_devices_tenant_site:
    "CREATE INDEX idx_devices_tenant_site ON public.devices USING btree (tenant_id, site_id)",
  idx_messages_batch_id: "CREATE INDEX idx_messages_batch_id ON public.messages USING btree (batch_id)",
  idx_messages_device_id: "CREATE INDEX idx_messages_device_id ON public.messages USING btree (device_id)",
  idx_messages_hash: "CREATE INDEX idx_messages_hash ON public.messages USING btree (message_hash)",
  idx_messages_raw_data: "CREATE INDEX idx_messages_raw_data ON public.messages USING gin (raw_data)",
  idx_messages_received_at:
    "CREATE INDEX idx_messages_received_at ON public.messages USING btree (received_at DESC)",
  messages_pkey: "CREATE UNIQUE INDEX messages_pkey ON public.messages USING btree (message_id)",
};

const STATUSES = ["pending", "hashing", "complete", "failed", "blockchain_pending", "blockchain_confirmed"];

/** Constraints of 001: the seed's, with ONE foreign key on messages.batch_id, named fk_batch, cascading. */
const FIXED_CONSTRAINTS: Record<string, string> = {
  "batches.batches_message_count_check": "CHECK ((message_count > 0))",
  "batches.batches_pkey": "PRIMARY KEY (batch_id)",
  "batches.check_status": `CHECK (((status)::text = ANY ((ARRAY[${STATUSES.map((s) => `'${s}'::character varying`).join(", ")}])::text[])))`,
  "batches.check_timestamps": "CHECK ((end_timestamp >= start_timestamp))",
  "devices.devices_pkey": "PRIMARY KEY (device_id)",
  "messages.fk_batch": "FOREIGN KEY (batch_id) REFERENCES batches(batch_id) ON DELETE CASCADE",
  "messages.fk_device": "FOREIGN KEY (device_id) REFERENCES devices(device_id)",
  "messages.messages_pkey": "PRIMARY KEY (message_id)",
};

async function connect(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return client;
}

describe("001_initial_schema.sql against the seed's DDL", () => {
  let seedDb: TestDatabase;
  let oursDb: TestDatabase;
  let seedSql: pg.Client;
  let oursSql: pg.Client;
  let onlyFirst: string;

  beforeAll(async () => {
    seedDb = await createTestDatabase("vbseed");
    oursDb = await createTestDatabase("vb001");
    seedSql = await connect(seedDb);
    oursSql = await connect(oursDb);
    for (const block of [SEED_DDL.devices, SEED_DDL.batches, SEED_DDL.messages]) await seedSql.query(block);
    onlyFirst = await mkdtemp(join(tmpdir(), "veep-001-"));
    await copyFile(
      join(defaultMigrationsDirectory(), "001_initial_schema.sql"),
      join(onlyFirst, "001_initial_schema.sql"),
    );
    const pool = new pg.Pool({ connectionString: oursDb.url });
    await migrate(pool, { directory: onlyFirst });
    await pool.end();
  });

  afterAll(async () => {
    await seedSql?.end();
    await oursSql?.end();
    await seedDb?.drop();
    await oursDb?.drop();
    if (onlyFirst) await rm(onlyFirst, { recursive: true, force: true });
  });

  it("has every seed column with its type, length, nullability and default", async () => {
    expect(await columns(seedSql)).toEqual(SEED_COLUMNS);
    expect(await columns(oursSql)).toEqual(SEED_COLUMNS);
  });

  it("has the seed's indexes by name and definition, the GIN index on raw_data included", async () => {
    expect(await indexes(seedSql)).toEqual(SEED_INDEXES);
    expect(await indexes(oursSql)).toEqual(SEED_INDEXES);
    expect(Object.keys(SEED_INDEXES)).toHaveLength(13);
  });

  it("has the seed's CHECKs and keys, with the double foreign key on batch_id fixed to one cascading fk_batch", async () => {
    const seed = await constraints(seedSql);
    expect(seed["messages.fk_batch"]).toBe("FOREIGN KEY (batch_id) REFERENCES batches(batch_id)");
    expect(seed["messages.messages_batch_id_fkey"]).toBe(
      "FOREIGN KEY (batch_id) REFERENCES batches(batch_id) ON DELETE CASCADE",
    );
    const { "messages.fk_batch": _a, "messages.messages_batch_id_fkey": _b, ...seedRest } = seed;
    const ours = await constraints(oursSql);
    const { "messages.fk_batch": _c, ...oursRest } = ours;
    expect(oursRest).toEqual(seedRest);
    expect(ours).toEqual(FIXED_CONSTRAINTS);
  });

  it("runs inside the target database: no CREATE DATABASE, no \\c", async () => {
    const text = await readFile(join(defaultMigrationsDirectory(), "001_initial_schema.sql"), "utf8");
    const code = text
      .split("\n")
      .filter((line) => !line.trim().startsWith("--"))
      .join("\n");
    expect(code).not.toMatch(/CREATE\s+DATABASE/i);
    expect(code).not.toMatch(/^\s*\\c/m);
  });
});

describe("schema after all migrations", () => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("keeps the seed's columns and adds messages.leaf_index, batches.failure_reason and dead_letters", async () => {
    const all = await columns(fx.sql, ["batches", "devices", "messages", "dead_letters"]);
    const seedTables = all.filter((c) => c.table !== "dead_letters");
    expect(seedTables).toEqual([
      ...SEED_COLUMNS.filter((c) => c.table === "batches"),
      col("batches", "failure_reason", "text", null, "YES", null),
      ...SEED_COLUMNS.filter((c) => c.table !== "batches"),
      col("messages", "leaf_index", "integer", null, "YES", null),
    ]);
    expect(all.filter((c) => c.table === "dead_letters")).toEqual([
      col("dead_letters", "id", "bigint", null, "NO", null),
      col("dead_letters", "topic", "text", null, "NO", null),
      col("dead_letters", "payload", "bytea", null, "NO", null),
      col("dead_letters", "reason", VC, 32, "NO", null),
      col("dead_letters", "detail", "text", null, "NO", null),
      col("dead_letters", "received_at", TZ, null, "NO", null),
      col("dead_letters", "created_at", TZ, null, "NO", "now()"),
    ]);
  });

  it("makes idx_messages_hash unique per device (same name) and leaf positions unique per batch", async () => {
    expect(await indexes(fx.sql)).toEqual({
      ...SEED_INDEXES,
      idx_messages_hash:
        "CREATE UNIQUE INDEX idx_messages_hash ON public.messages USING btree (message_hash, device_id)",
      uq_messages_batch_leaf:
        "CREATE UNIQUE INDEX uq_messages_batch_leaf ON public.messages USING btree (batch_id, leaf_index)",
    });
    expect(await constraints(fx.sql)).toEqual({
      ...FIXED_CONSTRAINTS,
      "messages.check_leaf_index": "CHECK ((leaf_index >= 0))",
      "messages.uq_messages_batch_leaf": "UNIQUE (batch_id, leaf_index)",
    });
  });

  it("deletes a batch's messages with the batch (ON DELETE CASCADE, seed §6.1)", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(5));
    const other = new OpenBatch();
    await appendTo(fx.store, other, makeReadings(2));
    const count = async (id: string) =>
      Number((await fx.sql.query("SELECT count(*) AS n FROM messages WHERE batch_id = $1", [id])).rows[0].n);
    expect(await count(batch.batchId)).toBe(5);
    await fx.sql.query("DELETE FROM batches WHERE batch_id = $1", [batch.batchId]);
    expect(await count(batch.batchId)).toBe(0);
    expect(await count(other.batchId)).toBe(2);
  });

  it("enforces the seed's CHECKs", async () => {
    const insert = (status: string, count: number, start: string, end: string) =>
      fx.sql.query(
        "INSERT INTO batches (batch_hash, message_count, start_timestamp, end_timestamp, status) VALUES ($1, $2, $3, $4, $5)",
        ["ab".repeat(32), count, start, end, status],
      );
    await expect(insert("sealed", 1, "2025-10-01T10:00Z", "2025-10-01T10:05Z")).rejects.toMatchObject({
      code: "23514",
      constraint: "check_status",
    });
    await expect(insert("pending", 0, "2025-10-01T10:00Z", "2025-10-01T10:05Z")).rejects.toMatchObject({
      constraint: "batches_message_count_check",
    });
    await expect(insert("pending", 1, "2025-10-01T10:05Z", "2025-10-01T10:00Z")).rejects.toMatchObject({
      constraint: "check_timestamps",
    });
    for (const status of STATUSES) await insert(status, 1, "2025-10-01T10:00Z", "2025-10-01T10:05Z");
  });
});
