import { MigrationError, sqlState } from "../errors.js";
import { partitionsManagedElsewhere } from "../partitions.js";
import type { PgPoolLike, PgQueryable } from "../pg-types.js";
import { inTransaction } from "../transaction.js";
import { storeTypes } from "../type-parsers.js";
import { type MigrationFile, readMigrationFiles } from "./files.js";

/** Table recording applied migrations. */
export const MIGRATIONS_TABLE = "veep_bridge_migrations";

/** Advisory lock key held (transaction-scoped) while migrating: ASCII "veepbrdg". */
const LOCK_KEY = "8531315633452282983";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Also apply the opt-in sample data (`002_seed_data.sql`: three sample devices). @defaultValue `false` */
  readonly seed?: boolean;
  /** Folder of the SQL files. @defaultValue the package's `migrations/` */
  readonly directory?: string;
  /**
   * Make the time partitions of `messages` from yesterday to a week ahead after applying the files.
   * @defaultValue `true`, unless the last store opened on the database had `partitions.manager:
   * "external"` (another tool, such as pg_partman, makes them)
   */
  readonly partitions?: boolean;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Files applied by this call, in order. */
  readonly applied: readonly string[];
  /** Files that were already applied. */
  readonly alreadyApplied: readonly string[];
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedMigrations(db: PgQueryable): Promise<AppliedRow[]> {
  const { rows } = await db.query<AppliedRow>({
    text: `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version`,
    types: storeTypes,
  });
  return rows;
}

function checkApplied(files: readonly MigrationFile[], applied: readonly AppliedRow[]): void {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (!file) {
      throw new MigrationError(
        `the database has migration ${row.name}, which this version of veep-bridge does not ship: it was migrated by a newer version`,
      );
    }
    const known = file.checksum === row.checksum || file.earlierChecksums.includes(row.checksum);
    if (file.name !== row.name || !known) {
      throw new MigrationError(
        `migration ${file.name} was changed after it was applied as ${row.name} (checksum ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… on disk); add a new migration instead of editing an applied one`,
      );
    }
  }
}

function pendingFiles(
  files: readonly MigrationFile[],
  applied: readonly AppliedRow[],
  seed: boolean,
): MigrationFile[] {
  const done = new Set(applied.map((row) => row.version));
  return files.filter((file) => !done.has(file.version) && (seed || !file.optIn));
}

/**
 * Applies the pending migrations in one transaction, under a transaction-scoped advisory lock, so
 * several processes may call it at once: one applies, the others wait and then find nothing to do.
 * Then (from migration 013 on) makes the time partitions of `messages` from yesterday to a week
 * ahead that are missing; otherwise a no-op when up to date.
 *
 * @throws {@link MigrationError} when an applied file was changed since, when the database has a
 * migration this version does not know, or when a file fails (nothing of the call is applied).
 * @example
 * ```ts
 * await migrate(pool);                 // schema + our additions
 * await migrate(pool, { seed: true }); // also three sample devices
 * ```
 */
export async function migrate(pool: PgPoolLike, options: MigrateOptions = {}): Promise<MigrateResult> {
  const files = readMigrationFiles(options.directory);
  return inTransaction(pool, async (client) => {
    await client.query({ text: `SELECT pg_advisory_xact_lock(${LOCK_KEY})` });
    await client.query({
      text: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   CHAR(64) NOT NULL,
        applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
      )`,
    });
    const applied = await appliedMigrations(client);
    checkApplied(files, applied);
    const pending = pendingFiles(files, applied, options.seed === true);
    for (const file of pending) {
      try {
        await client.query({ text: file.sql });
      } catch (error) {
        const state = sqlState(error);
        throw new MigrationError(
          `migration ${file.name} failed${state ? ` (SQLSTATE ${state})` : ""}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      await client.query({
        text: `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum) VALUES ($1, $2, $3)`,
        values: [file.version, file.name, file.checksum],
      });
    }
    // The time partitions of messages a week ahead, at every call (a daily `veep-bridge migrate` keeps them ahead).
    const { rows: partitioned } = await client.query<{ ok: boolean }>({
      text: "SELECT to_regproc('veep_create_message_partitions') IS NOT NULL AS ok",
    });
    if (partitioned[0]?.ok === true && (options.partitions ?? !(await partitionsManagedElsewhere(client)))) {
      await client.query({
        text: "SELECT count(*) FROM veep_create_message_partitions(NOW() - INTERVAL '1 day', NOW() + INTERVAL '8 days')",
      });
    }
    const appliedNames = new Set(applied.map((row) => row.name));
    return {
      applied: pending.map((file) => file.name),
      alreadyApplied: files.filter((file) => appliedNames.has(file.name)).map((file) => file.name),
    };
  });
}

/**
 * Checks, without changing anything, that every required migration is applied and unchanged.
 * @throws {@link MigrationError} saying what to run.
 */
export async function assertMigrated(pool: PgPoolLike, directory?: string): Promise<void> {
  const files = readMigrationFiles(directory);
  let applied: AppliedRow[];
  try {
    applied = await appliedMigrations(pool);
  } catch (error) {
    if (sqlState(error) === "42P01") {
      throw new MigrationError("the database has no veep-bridge schema; run migrate() first", {
        cause: error,
      });
    }
    throw error;
  }
  checkApplied(files, applied);
  const pending = pendingFiles(files, applied, false);
  if (pending.length > 0) {
    throw new MigrationError(
      `the database schema is behind: ${pending.map((file) => file.name).join(", ")} not applied; run migrate()`,
    );
  }
}
