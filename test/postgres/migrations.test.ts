import { appendFile, cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  defaultMigrationsDirectory,
  MigrationError,
  migrate,
  postgresStore,
} from "../../src/stores/postgres/index.js";
import { MIGRATIONS_TABLE, readMigrationFiles } from "../../src/stores/postgres/migrations/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const REQUIRED = [
  "001_initial_schema.sql",
  "003_message_leaf_index.sql",
  "004_unique_message_hash.sql",
  "005_dead_letters.sql",
  "006_batch_failure_reason.sql",
  "007_dedup_per_device.sql",
  "008_dead_letter_dedup.sql",
  "009_batch_owner.sql",
  "010_blockchain_anchoring.sql",
  "011_device_signatures.sql",
  "012_anchor_aggregation.sql",
  "013_partition_messages.sql",
  "014_device_minute_counts.sql",
  "015_archival.sql",
];

describe("migrations", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase("vbmig");
    pool = new pg.Pool({ connectionString: db.url });
    // Dropping the database terminates any backend still closing: not this test's failure.
    pool.on("error", () => undefined);
    dir = await mkdtemp(join(tmpdir(), "veep-migrations-"));
    await cp(defaultMigrationsDirectory(), dir, { recursive: true });
  });

  afterEach(async () => {
    await pool.end();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const recorded = async (): Promise<string[]> =>
    (await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY version`)).rows.map(
      (r) => r.name,
    );

  it("ships its SQL files in the package's migrations/ folder, found from the source tree", async () => {
    const files = await readdir(defaultMigrationsDirectory());
    expect(files).toEqual(expect.arrayContaining([...REQUIRED, "002_seed_data.sql"]));
    const parsed = readMigrationFiles();
    expect(parsed.map((f) => f.optIn)).toEqual([
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(parsed[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("applies every required file once, in order, recording name and checksum", async () => {
    const result = await migrate(pool);
    expect(result.applied).toEqual(REQUIRED);
    expect(await recorded()).toEqual(REQUIRED);
    const { rows } = await pool.query(`SELECT checksum FROM ${MIGRATIONS_TABLE} WHERE version = 1`);
    expect(rows[0].checksum).toBe(readMigrationFiles()[0]?.checksum);
  });

  it("is a no-op when up to date", async () => {
    await migrate(pool);
    const again = await migrate(pool);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(REQUIRED);
    expect(await recorded()).toEqual(REQUIRED);
  });

  it("is safe when two processes migrate at once (advisory lock): one applies, the other finds nothing to do", async () => {
    const other = new pg.Pool({ connectionString: db.url });
    other.on("error", () => undefined);
    try {
      const results = await Promise.all([migrate(pool), migrate(other), migrate(pool), migrate(other)]);
      const applied = results.map((r) => r.applied.length).sort();
      expect(applied).toEqual([0, 0, 0, REQUIRED.length]);
      expect(await recorded()).toEqual(REQUIRED);
    } finally {
      await other.end();
    }
  });

  it("applies the three sample devices only on opt-in", async () => {
    await migrate(pool);
    expect((await pool.query("SELECT count(*)::int AS n FROM devices")).rows[0].n).toBe(0);
    const seeded = await migrate(pool, { seed: true });
    expect(seeded.applied).toEqual(["002_seed_data.sql"]);
    const { rows } = await pool.query("SELECT device_id, tenant_id, site_id FROM devices ORDER BY device_id");
    expect(rows).toEqual([
      { device_id: "SENSOR_001", tenant_id: "factory1", site_id: "line1" },
      { device_id: "SENSOR_002", tenant_id: "factory1", site_id: "line1" },
      { device_id: "SENSOR_003", tenant_id: "factory1", site_id: "line2" },
    ]);
    expect((await migrate(pool, { seed: true })).applied).toEqual([]);
  });

  it("fails, naming the file, when an applied migration was changed", async () => {
    await migrate(pool, { directory: dir });
    await appendFile(join(dir, "003_message_leaf_index.sql"), "\n-- edited after release\n");
    const error = await migrate(pool, { directory: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe("MIGRATION_ERROR");
    expect((error as Error).message).toMatch(/003_message_leaf_index\.sql was changed/);
    const store = postgresStore({ connectionString: db.url, migrationsDirectory: dir });
    await expect(store.open()).rejects.toBeInstanceOf(MigrationError);
    await store.close();
  });

  it("accepts a database migrated with the earlier text of a file whose comments were reworded", async () => {
    await migrate(pool);
    const earlier = readMigrationFiles().find((f) => f.earlierChecksums.length > 0)!;
    await pool.query(`UPDATE ${MIGRATIONS_TABLE} SET checksum = $1 WHERE version = $2`, [
      earlier.earlierChecksums[0],
      earlier.version,
    ]);
    expect((await migrate(pool)).applied).toEqual([]);
    await pool.query(`UPDATE ${MIGRATIONS_TABLE} SET checksum = $1 WHERE version = $2`, [
      "0".repeat(64),
      earlier.version,
    ]);
    await expect(migrate(pool)).rejects.toThrow(`${earlier.name} was changed`);
  });

  it("applies nothing of a call when one file fails", async () => {
    await writeFile(join(dir, "099_broken.sql"), "CREATE TABLE broken (;\n");
    const error = await migrate(pool, { directory: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/099_broken\.sql failed \(SQLSTATE 42601\)/);
    const { rows } = await pool.query(
      `SELECT to_regclass('messages') AS messages, to_regclass('${MIGRATIONS_TABLE}') AS recorded`,
    );
    expect(rows[0]).toEqual({ messages: null, recorded: null });
  });

  it("tolerates a gap in the numbers: a file numbered into the gap later is applied after the higher ones", async () => {
    // As a database migrated to 015 before 012 shipped: 012 arrives later and is applied then.
    const gap = "012_anchor_aggregation.sql";
    const text = await readFile(join(dir, gap), "utf8");
    await rm(join(dir, gap));
    await migrate(pool, { directory: dir });
    expect(await recorded()).not.toContain(gap);
    await writeFile(join(dir, gap), text);
    const later = await migrate(pool, { directory: dir });
    expect(later.applied).toEqual([gap]);
    const { rows } = await pool.query<{ name: string }>(
      `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY applied_at, version`,
    );
    expect(rows.map((r) => r.name).slice(-2)).toEqual(["015_archival.sql", gap]);
    expect(await recorded()).toContain(gap);
  });

  it("refuses a database migrated by a newer version", async () => {
    await writeFile(join(dir, "099_future.sql"), "SELECT 1;\n");
    await migrate(pool, { directory: dir });
    await expect(migrate(pool)).rejects.toThrow(/099_future\.sql.*newer version/);
  });

  it("open() with migrate: false only checks, and says to run migrate()", async () => {
    const store = postgresStore({ connectionString: db.url, migrate: false });
    await expect(store.open()).rejects.toThrow(/run migrate\(\) first/);
    await migrate(pool);
    await expect(store.open()).resolves.toBeUndefined();
    await store.close();
  });

  it("open() migrates by default, and with { seed: true } seeds", async () => {
    const store = postgresStore({ connectionString: db.url, migrate: { seed: true } });
    await store.open();
    await store.open();
    expect(await recorded()).toEqual(["001_initial_schema.sql", "002_seed_data.sql", ...REQUIRED.slice(1)]);
    await store.close();
  });
});
