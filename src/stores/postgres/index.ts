/**
 * `veep-bridge/postgres`: the PostgreSQL `Store` adapter — the schema as migrations, write-once
 * appends, sealing, the read queries, proofs and whole-database verification.
 *
 * @packageDocumentation
 */
export {
  ARCHIVE_FORMAT,
  type ArchivedAggregation,
  type ArchivedAnchor,
  type ArchivedBatch,
  type ArchivedMessage,
  type ArchiveFile,
  type ArchiveManifest,
  type ArchiveOptions,
  type PrunedPartition,
  type PruneOptions,
  PruneRefusedError,
} from "./archive.js";
export {
  type ArchiveFileVerification,
  type ArchiveVerificationReport,
  verifyArchive,
} from "./archive-verify.js";
export { type CreateDatabaseOptions, createDatabase } from "./create-database.js";
export { describeConnection, type PostgresConnectionTarget } from "./describe-connection.js";
export { type DeviceKeyChange, type DeviceRegistration, UnknownDeviceError } from "./devices.js";
export { MigrationError, sqlState } from "./errors.js";
export {
  defaultMigrationsDirectory,
  type MigrateOptions,
  type MigrateResult,
  migrate,
} from "./migrations/index.js";
export {
  type InsertMethod,
  type MigrateOnOpen,
  type PostgresEnvironment,
  type PostgresSslOptions,
  type PostgresStoreOptions,
  redactConnectionString,
} from "./options.js";
export type { PartitionInterval, PostgresPartitionOptions } from "./partitions.js";
export type {
  PgCustomTypes,
  PgPoolClientLike,
  PgPoolLike,
  PgQueryable,
  PgQueryConfig,
  PgQueryResult,
} from "./pg-types.js";
export { PostgresStore, postgresStore } from "./postgres-store.js";
export type { MessageVerification, VerificationFailureReason } from "./proofs.js";
export type {
  BatchDetails,
  BatchMessage,
  DeviceMessage,
  DeviceStatistics,
  MessageBatch,
  Page,
  PageOptions,
  PendingBatch,
  RecentBatch,
  TimeRange,
} from "./read-queries.js";
export type {
  BatchVerification,
  VerificationFailure,
  VerificationProgress,
  VerificationReport,
  VerifyOptions,
} from "./verify-all.js";
