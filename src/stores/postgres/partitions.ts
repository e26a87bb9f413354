/**
 * The time partitions of `messages` (and `signature_verifications`), made by migration 013's
 * `veep_create_message_partitions()`: their interval, creating them ahead of the readings, and the
 * window in which a redelivered copy is looked for in earlier partitions.
 */
import { InvalidOptionError } from "../../errors.js";
import { integerOption } from "../../validation.js";
import type { PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";

/** The span of one partition (UTC, aligned as PostgreSQL's `date_trunc`: weeks start on Monday). */
export type PartitionInterval = "hour" | "day" | "week" | "month";

const INTERVALS: readonly PartitionInterval[] = ["hour", "day", "week", "month"];

/** How the store keeps the partitions of `messages`; see {@link PostgresPartitionOptions}. */
export interface PostgresPartitionOptions {
  /**
   * The span of each new partition: choose it so that the randomly written indexes of one
   * partition fit in `shared_buffers` (about 320 bytes a reading; docs/schema.md). Stored in the database
   * (`veep_bridge_settings`); on a change, the partitions not over yet that are still empty are
   * dropped and made again with the new interval.
   * @defaultValue what the database has (`"day"` after migrating)
   */
  readonly interval?: PartitionInterval;
  /**
   * Days ahead of now for which partitions exist: made at `open()` and every hour after.
   * @defaultValue 7
   */
  readonly aheadDays?: number;
  /**
   * Earlier partitions (before the one a reading lands in) searched for a stored copy of it: a
   * copy redelivered later than that is stored again. `0` checks only the partition itself.
   * @defaultValue 1
   */
  readonly lookback?: number;
  /**
   * How far back, before the partition it lands in, a reading the transport flagged as a
   * redelivery (MQTT DUP) is looked for: a bridge that stopped between COMMIT and PUBACK gets the
   * unacknowledged messages again when it is back, however long it was down. Only such readings pay
   * for it (one index probe per partition in the window). `0` looks back only `lookback` partitions.
   * @defaultValue 7 days (604,800,000)
   */
  readonly redeliveryWindowMs?: number;
  /**
   * `"veep-bridge"` creates partitions itself; `"external"` leaves them to another tool (e.g.
   * pg_partman) and only checks the readings' partitions exist (see docs/schema.md).
   * @defaultValue `"veep-bridge"`
   */
  readonly manager?: "veep-bridge" | "external";
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** {@link PostgresPartitionOptions} with defaults applied (the interval only when given). */
export interface ResolvedPartitionOptions {
  readonly interval: PartitionInterval | undefined;
  readonly aheadDays: number;
  readonly lookback: number;
  readonly redeliveryWindowMs: number;
  readonly manager: "veep-bridge" | "external";
}

/** Validates {@link PostgresPartitionOptions}. @throws `InvalidOptionError` naming the option */
export function resolvePartitionOptions(options: PostgresPartitionOptions = {}): ResolvedPartitionOptions {
  const { interval, manager = "veep-bridge" } = options;
  if (interval !== undefined && !INTERVALS.includes(interval))
    throw new InvalidOptionError("partitions.interval", 'expected "hour", "day", "week" or "month"');
  if (manager !== "veep-bridge" && manager !== "external")
    throw new InvalidOptionError("partitions.manager", 'expected "veep-bridge" or "external"');
  return {
    interval,
    aheadDays: integerOption("partitions.aheadDays", options.aheadDays, 7, { min: 1, max: 366 }),
    lookback: integerOption("partitions.lookback", options.lookback, 1, { min: 0, max: 366 }),
    redeliveryWindowMs: integerOption(
      "partitions.redeliveryWindowMs",
      options.redeliveryWindowMs,
      7 * DAY_MS,
      {
        min: 0,
        max: 366 * DAY_MS,
      },
    ),
    manager,
  };
}

/** Start (UTC) of the partition that holds `at`. */
export function partitionStart(at: Date, interval: PartitionInterval): Date {
  if (interval === "hour") return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
  const day = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  if (interval === "day") return new Date(day);
  if (interval === "week") return new Date(day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS);
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/** `start` moved by `count` partitions (negative: earlier). */
export function shiftPartitions(start: Date, interval: PartitionInterval, count: number): Date {
  if (interval === "hour") return new Date(start.getTime() + count * HOUR_MS);
  if (interval === "day") return new Date(start.getTime() + count * DAY_MS);
  if (interval === "week") return new Date(start.getTime() + count * 7 * DAY_MS);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + count, 1));
}

/**
 * Where a reading received at `from` (the earliest of an append) or later may have a stored copy
 * in an earlier partition: from `lookback` partitions before the one of `from` up to the start of
 * the one of `to` (the latest), whose own unique index covers it.
 */
export function lookbackRange(
  from: Date,
  to: Date,
  interval: PartitionInterval,
  lookback: number,
): { readonly from: Date; readonly to: Date } {
  return {
    from: shiftPartitions(partitionStart(from, interval), interval, -lookback),
    to: partitionStart(to, interval),
  };
}

const SQL = {
  interval: `SELECT value FROM veep_bridge_settings WHERE key = 'partition_interval'`,
  setInterval: `SELECT count(*) AS dropped FROM veep_set_partition_interval($1)`,
  managerExternal: `INSERT INTO veep_bridge_settings (key, value) VALUES ('partition_manager', 'external')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
  managerOwn: `DELETE FROM veep_bridge_settings WHERE key = 'partition_manager'`,
  manager: `SELECT value FROM veep_bridge_settings WHERE key = 'partition_manager'`,
  create: `SELECT name FROM veep_create_message_partitions($1::timestamptz, $2::timestamptz) AS name`,
  pruneCounts: `DELETE FROM device_minute_counts WHERE minute < NOW() - INTERVAL '2 days'`,
} as const;

/** The interval new partitions get, as the database has it. */
export async function readPartitionInterval(db: PgQueryable): Promise<PartitionInterval> {
  const { rows } = await db.query<{ value: string }>(statement("partition_interval", SQL.interval));
  const value = rows[0]?.value;
  return INTERVALS.includes(value as PartitionInterval) ? (value as PartitionInterval) : "day";
}

/**
 * Sets the interval of the partitions made from now on; the partitions not over yet that are still
 * empty are dropped, so it applies at once (a reading meanwhile gets its partition on demand).
 */
export async function writePartitionInterval(db: PgQueryable, interval: PartitionInterval): Promise<void> {
  await db.query(statement("partition_interval_set", SQL.setInterval, [interval]));
}

/**
 * Records who makes the partitions, so that `migrate()` run on its own (`veep-bridge migrate`) makes
 * none where an external manager (pg_partman) owns the ranges ahead.
 */
export async function writePartitionManager(
  db: PgQueryable,
  manager: ResolvedPartitionOptions["manager"],
): Promise<void> {
  await db.query(
    manager === "external"
      ? statement("partition_manager_external", SQL.managerExternal)
      : statement("partition_manager_own", SQL.managerOwn),
  );
}

/** Whether the partitions are recorded as made by an external manager ({@link writePartitionManager}). */
export async function partitionsManagedElsewhere(db: PgQueryable): Promise<boolean> {
  const { rows } = await db.query<{ value: string }>(statement("partition_manager", SQL.manager));
  return rows[0]?.value === "external";
}

/** Creates the partitions covering `[from, to)` that are missing; returns their names. */
export async function createPartitions(db: PgQueryable, from: Date, to: Date): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(statement("partitions_create", SQL.create, [from, to]));
  return rows.map((row) => row.name);
}

/** Deletes per-minute device counts older than two days (the statistics need one). */
export async function pruneDeviceMinuteCounts(db: PgQueryable): Promise<void> {
  await db.query(statement("device_counts_prune", SQL.pruneCounts));
}
