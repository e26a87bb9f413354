/**
 * pg_partman (4.7, Debian's postgresql-15-partman) making the partitions instead of the store
 * (`partitions: { manager: "external" }`), as docs/schema.md describes. Runs where the server offers
 * the extension; elsewhere it says so and is skipped, unless VEEP_REQUIRE_PARTMAN=1 makes that a
 * failure.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { type PostgresStore, postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings, redeliver } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const DAY = 86_400_000;

async function partmanAvailable(): Promise<boolean> {
  const url = process.env.DATABASE_URL;
  if (!url) return false;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'");
    return rows.length > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const available = await partmanAvailable();
if (!available) {
  if (process.env.VEEP_REQUIRE_PARTMAN === "1")
    throw new Error("VEEP_REQUIRE_PARTMAN=1 but the server in DATABASE_URL offers no pg_partman extension");
  console.warn(
    "skipping the pg_partman tests: DATABASE_URL's server offers no pg_partman (postgresql-15-partman)",
  );
}

describe.skipIf(!available)("pg_partman makes the partitions (partitions.manager: external)", () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let store: PostgresStore;
  let first: number;

  beforeAll(async () => {
    db = await createTestDatabase("vb_partman");
    const migrated = postgresStore({ connectionString: db.url });
    await migrated.open();
    await migrated.close();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    // The hand-over of docs/schema.md: pg_partman takes over after the last partition the migration made.
    const { rows } = await sql.query<{ last: Date }>(
      "SELECT max(upper_bound) AS last FROM veep_message_partitions",
    );
    first = rows[0]!.last.getTime();
    const start = new Date(first).toISOString().slice(0, 10);
    await sql.query("CREATE SCHEMA partman");
    await sql.query("CREATE EXTENSION pg_partman SCHEMA partman");
    await sql.query(`CREATE TABLE messages_template (LIKE messages);
      CREATE UNIQUE INDEX ON messages_template (message_hash, device_id);
      CREATE UNIQUE INDEX ON messages_template (batch_id, leaf_index)`);
    for (const [table, column] of [
      ["public.messages", "received_at"],
      ["public.signature_verifications", "verified_at"],
    ] as const) {
      await sql.query(
        `SELECT partman.create_parent($1, $2, 'native', 'daily', p_premake => 3, p_start_partition => $3
           ${table === "public.messages" ? ", p_template_table => 'public.messages_template'" : ""})`,
        [table, column, start],
      );
    }
    store = postgresStore({ connectionString: db.url, partitions: { manager: "external" } });
    await store.open();
  });
  afterAll(async () => {
    await store?.close();
    await sql?.end();
    await db?.drop();
  });

  it("stores into pg_partman's partitions and recognises a copy there; its default partition takes a reading outside them", async () => {
    const at = new Date(first + DAY / 2);
    const readings = makeReadings(5, { start: at });
    const batch = new OpenBatch();
    const result = await store.append(batch.request(readings, []));
    expect(result.plan?.leaves).toHaveLength(5);
    batch.apply(result.plan!);
    const { rows } = await sql.query<{ part: string }>(
      "SELECT DISTINCT tableoid::regclass::text AS part FROM messages",
    );
    expect(rows.map((r) => r.part)).toEqual([
      `messages_p${at.toISOString().slice(0, 10).replaceAll("-", "_")}`,
    ]);

    const again = await store.append(batch.request(redeliver(readings.slice(0, 2)), []));
    expect(again.duplicates).toHaveLength(2);
    const { rows: count } = await sql.query("SELECT count(*)::int AS n FROM messages");
    expect(count[0].n).toBe(5);

    // Outside its range, pg_partman's default partition takes the reading (partman.check_default() lists it).
    const outside = makeReadings(1, { start: new Date(first + 400 * DAY) });
    await store.append(new OpenBatch().request(outside, []));
    const { rows: stray } = await sql.query<{ part: string }>(
      "SELECT tableoid::regclass::text AS part FROM messages WHERE message_id = $1",
      [outside[0]!.messageId],
    );
    expect(stray[0]?.part).toBe("messages_default");
    expect((await store.verifyAll()).ok).toBe(true);
  });
});
