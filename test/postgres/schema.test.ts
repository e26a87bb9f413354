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
import { SEED_DDL } from "./reference-ddl.js";

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

/** The reference columns, exactly as PostgreSQL reports the reference DDL. */
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

/** The original indexes: 3 primary keys and the 10 named indexes, the GIN one included. */
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

/** Constraints of 001: the original ones, with ONE foreign key on messages.batch_id, named fk_batch, cascading. */
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

describe("001_initial_schema.sql against the reference DDL", () => {
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

  it("has every original column with its type, length, nullability and default", async () => {
    expect(await columns(seedSql)).toEqual(SEED_COLUMNS);
    expect(await columns(oursSql)).toEqual(SEED_COLUMNS);
  });

  it("has the original indexes by name and definition, the GIN index on raw_data included", async () => {
    expect(await indexes(seedSql)).toEqual(SEED_INDEXES);
    expect(await indexes(oursSql)).toEqual(SEED_INDEXES);
    expect(Object.keys(SEED_INDEXES)).toHaveLength(13);
  });

  it("has the original CHECKs and keys, with the double foreign key on batch_id fixed to one cascading fk_batch", async () => {
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

  it("keeps the original columns and adds messages.leaf_index, messages.device_signature, batches.failure_reason, batches.owner, the anchoring and archival columns and dead_letters", async () => {
    const all = await columns(fx.sql, ["batches", "devices", "messages", "dead_letters"]);
    const seedTables = all.filter((c) => c.table !== "dead_letters");
    expect(seedTables).toEqual([
      ...SEED_COLUMNS.filter((c) => c.table === "batches"),
      col("batches", "failure_reason", "text", null, "YES", null),
      col("batches", "owner", VC, 255, "YES", null),
      col("batches", "solana_confirmed", "boolean", null, "YES", "false"),
      col("batches", "solana_confirmation_time", TZ, null, "YES", null),
      col("batches", "anchor_failures", "integer", null, "NO", "0"),
      col("batches", "anchor_retry_at", TZ, null, "YES", null),
      col("batches", "anchor_lease_owner", VC, 255, "YES", null),
      col("batches", "anchor_lease_until", TZ, null, "YES", null),
      col("batches", "archived_at", TZ, null, "YES", null),
      col("batches", "archive_file", "text", null, "YES", null),
      col("batches", "pruned_at", TZ, null, "YES", null),
      ...SEED_COLUMNS.filter((c) => c.table !== "batches"),
      col("messages", "leaf_index", "integer", null, "YES", null),
      col("messages", "device_signature", VC, 88, "YES", null),
    ]);
    expect(all.filter((c) => c.table === "dead_letters")).toEqual([
      col("dead_letters", "id", "bigint", null, "NO", null),
      col("dead_letters", "topic", "text", null, "NO", null),
      col("dead_letters", "payload", "bytea", null, "NO", null),
      col("dead_letters", "reason", VC, 32, "NO", null),
      col("dead_letters", "detail", "text", null, "NO", null),
      col("dead_letters", "received_at", TZ, null, "NO", null),
      col("dead_letters", "created_at", TZ, null, "NO", "now()"),
      col("dead_letters", "device_id", "text", null, "YES", null),
      col("dead_letters", "payload_hash", "character", 64, "YES", null),
    ]);
  });

  it("adds the data model's blockchain_transactions (gas_fee NUMERIC(20,9) in SOL) with the attempt's memo, validity, error and place in an aggregate", async () => {
    expect(await columns(fx.sql, ["blockchain_transactions"])).toEqual([
      col("blockchain_transactions", "tx_id", "uuid", null, "NO", "gen_random_uuid()"),
      col("blockchain_transactions", "batch_id", "uuid", null, "YES", null),
      col("blockchain_transactions", "tx_signature", VC, 88, "NO", null),
      col("blockchain_transactions", "block_number", "bigint", null, "YES", null),
      col("blockchain_transactions", "gas_fee", "numeric", null, "YES", null),
      col("blockchain_transactions", "status", VC, 20, "NO", null),
      col("blockchain_transactions", "created_at", TZ, null, "YES", "now()"),
      col("blockchain_transactions", "confirmed_at", TZ, null, "YES", null),
      col("blockchain_transactions", "memo", "text", null, "NO", null),
      col("blockchain_transactions", "valid_until", "bigint", null, "YES", null),
      col("blockchain_transactions", "error", "text", null, "YES", null),
      col("blockchain_transactions", "aggregate_index", "integer", null, "YES", null),
      col("blockchain_transactions", "aggregate_size", "integer", null, "YES", null),
      col("blockchain_transactions", "aggregate_path", "ARRAY", null, "YES", null),
    ]);
    const { rows } = await fx.sql.query(
      "SELECT numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'blockchain_transactions' AND column_name = 'gas_fee'",
    );
    expect(rows).toEqual([{ numeric_precision: 20, numeric_scale: 9 }]);
    expect(await indexes(fx.sql, ["blockchain_transactions"])).toEqual({
      blockchain_transactions_pkey:
        "CREATE UNIQUE INDEX blockchain_transactions_pkey ON public.blockchain_transactions USING btree (tx_id)",
      uq_blockchain_transactions_signature_batch:
        "CREATE UNIQUE INDEX uq_blockchain_transactions_signature_batch ON public.blockchain_transactions USING btree (tx_signature, batch_id)",
      idx_blockchain_transactions_batch_id:
        "CREATE INDEX idx_blockchain_transactions_batch_id ON public.blockchain_transactions USING btree (batch_id)",
    });
    expect(await constraints(fx.sql, ["blockchain_transactions"])).toEqual({
      "blockchain_transactions.blockchain_transactions_batch_id_fkey":
        "FOREIGN KEY (batch_id) REFERENCES batches(batch_id)",
      "blockchain_transactions.blockchain_transactions_pkey": "PRIMARY KEY (tx_id)",
      "blockchain_transactions.uq_blockchain_transactions_signature_batch": "UNIQUE (tx_signature, batch_id)",
      "blockchain_transactions.check_aggregate":
        "CHECK ((((aggregate_index IS NULL) AND (aggregate_size IS NULL) AND (aggregate_path IS NULL)) OR ((aggregate_size >= 1) AND (aggregate_index >= 0) AND (aggregate_index < aggregate_size) AND (aggregate_path IS NOT NULL))))",
      "blockchain_transactions.check_tx_status":
        "CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, 'confirmed'::character varying, 'expired'::character varying, 'failed'::character varying])::text[])))",
    });
  });

  it("partitions messages by received_at: the data model's index names on the parent and, prefixed, on every partition, with the uniqueness rules per partition", async () => {
    const { idx_messages_hash: _hash, messages_pkey: _pkey, ...kept } = SEED_INDEXES;
    const onParent = Object.fromEntries(
      Object.entries(kept).map(([name, def]) => [
        name,
        def.replace(" ON public.messages ", " ON ONLY public.messages "),
      ]),
    );
    expect(await indexes(fx.sql)).toEqual({
      ...onParent,
      idx_batches_pending_owner:
        "CREATE INDEX idx_batches_pending_owner ON public.batches USING btree (owner) WHERE ((status)::text = 'pending'::text)",
      idx_messages_device_received:
        "CREATE INDEX idx_messages_device_received ON ONLY public.messages USING btree (device_id, received_at DESC)",
      messages_pkey:
        "CREATE UNIQUE INDEX messages_pkey ON ONLY public.messages USING btree (message_id, received_at)",
    });
    const { "messages.messages_pkey": _key, ...fixed } = FIXED_CONSTRAINTS;
    expect(await constraints(fx.sql)).toEqual({
      ...fixed,
      "messages.check_leaf_index": "CHECK ((leaf_index >= 0))",
      "messages.messages_pkey": "PRIMARY KEY (message_id, received_at)",
    });
    const { rows } = await fx.sql.query<{ name: string; lower_bound: Date; upper_bound: Date }>(
      "SELECT name, lower_bound, upper_bound FROM veep_message_partitions ORDER BY lower_bound",
    );
    // Daily partitions from yesterday to a week ahead, at least.
    const today = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()),
    );
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows[0]!.lower_bound.getTime()).toBeLessThanOrEqual(today.getTime() - 86_400_000);
    expect(rows.at(-1)!.upper_bound.getTime()).toBeGreaterThanOrEqual(today.getTime() + 7 * 86_400_000);
    for (const [i, row] of rows.entries()) {
      expect(row.upper_bound.getTime() - row.lower_bound.getTime()).toBe(86_400_000);
      if (i > 0) expect(row.lower_bound).toEqual(rows[i - 1]!.upper_bound);
    }
    const part = rows[1]!.name;
    expect(part).toMatch(/^messages_p\d{8}$/);
    const day = part.slice("messages_p".length);
    expect(await indexes(fx.sql, [part])).toEqual({
      [`${part}_idx_messages_batch_id`]: `CREATE INDEX ${part}_idx_messages_batch_id ON public.${part} USING btree (batch_id)`,
      [`${part}_idx_messages_device_id`]: `CREATE INDEX ${part}_idx_messages_device_id ON public.${part} USING btree (device_id)`,
      [`${part}_idx_messages_device_received`]: `CREATE INDEX ${part}_idx_messages_device_received ON public.${part} USING btree (device_id, received_at DESC)`,
      [`${part}_idx_messages_hash`]: `CREATE UNIQUE INDEX ${part}_idx_messages_hash ON public.${part} USING btree (message_hash, device_id)`,
      [`${part}_idx_messages_raw_data`]: `CREATE INDEX ${part}_idx_messages_raw_data ON public.${part} USING gin (raw_data)`,
      [`${part}_idx_messages_received_at`]: `CREATE INDEX ${part}_idx_messages_received_at ON public.${part} USING btree (received_at DESC)`,
      [`${part}_pkey`]: `CREATE UNIQUE INDEX ${part}_pkey ON public.${part} USING btree (message_id, received_at)`,
      [`${part}_uq_messages_batch_leaf`]: `CREATE UNIQUE INDEX ${part}_uq_messages_batch_leaf ON public.${part} USING btree (batch_id, leaf_index)`,
    });
    expect(await constraints(fx.sql, [part])).toEqual({
      [`${part}.check_leaf_index`]: "CHECK ((leaf_index >= 0))",
      [`${part}.fk_batch`]: "FOREIGN KEY (batch_id) REFERENCES batches(batch_id) ON DELETE CASCADE",
      [`${part}.fk_device`]: "FOREIGN KEY (device_id) REFERENCES devices(device_id)",
      [`${part}.${part}_pkey`]: "PRIMARY KEY (message_id, received_at)",
    });
    const sigs = await fx.sql.query("SELECT to_regclass($1) AS t", [`signature_verifications_p${day}`]);
    expect(sigs.rows[0].t).toBe(`signature_verifications_p${day}`);
  });

  it("adds signature_verifications with the data model's columns, the key used, and an index on message_id, partitioned by verified_at", async () => {
    expect(await columns(fx.sql, ["signature_verifications"])).toEqual([
      col("signature_verifications", "verification_id", "uuid", null, "NO", "gen_random_uuid()"),
      col("signature_verifications", "message_id", "uuid", null, "YES", null),
      col("signature_verifications", "is_valid", "boolean", null, "NO", null),
      col("signature_verifications", "verified_at", TZ, null, "NO", "now()"),
      col("signature_verifications", "public_key", VC, 88, "YES", null),
    ]);
    // Partitioned by verified_at like messages: its rows go with their partition, so message_id has
    // no foreign key (a partitioned table can only be referenced by its whole key).
    expect(await indexes(fx.sql, ["signature_verifications"])).toEqual({
      idx_signature_verifications_message_id:
        "CREATE INDEX idx_signature_verifications_message_id ON ONLY public.signature_verifications USING btree (message_id)",
      signature_verifications_pkey:
        "CREATE UNIQUE INDEX signature_verifications_pkey ON ONLY public.signature_verifications USING btree (verification_id, verified_at)",
    });
    expect(await constraints(fx.sql, ["signature_verifications"])).toEqual({
      "signature_verifications.signature_verifications_pkey": "PRIMARY KEY (verification_id, verified_at)",
    });
    const batch = new OpenBatch();
    const [reading] = makeReadings(1);
    await appendTo(fx.store, batch, [reading!]);
    await fx.sql.query("INSERT INTO signature_verifications (message_id, is_valid) VALUES ($1, false)", [
      reading!.messageId,
    ]);
    await expect(
      fx.sql.query("INSERT INTO signature_verifications (message_id) VALUES ($1)", [reading!.messageId]),
    ).rejects.toMatchObject({ code: "23502" });
    const kept = await fx.sql.query("SELECT count(*)::int AS n FROM signature_verifications");
    expect(kept.rows[0].n).toBe(1);
  });

  it("deletes a batch's messages with the batch (ON DELETE CASCADE)", async () => {
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

  it("enforces the original CHECKs", async () => {
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
