/**
 * `veep-bridge/postgres`: the PostgreSQL `Store` adapter — the seed's schema as migrations,
 * write-once appends, sealing, the seed's queries, proofs and whole-database verification.
 *
 * @packageDocumentation
 */
export { type CreateDatabaseOptions, createDatabase } from "./create-database.js";
export { MigrationError } from "./errors.js";
export {
  defaultMigrationsDirectory,
  MIGRATIONS_TABLE,
  type MigrateOptions,
  type MigrateResult,
  type MigrationFile,
  migrate,
  readMigrationFiles,
} from "./migrations/index.js";
export {
  type InsertMethod,
  type MigrateOnOpen,
  POOL_DEFAULTS,
  type PostgresEnvironment,
  type PostgresSslOptions,
  type PostgresStoreOptions,
  type ResolvedPoolConfig,
  redactConnectionString,
  resolvePoolConfig,
} from "./options.js";
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
  PageOptions,
  PendingBatch,
  RecentBatch,
} from "./seed-queries.js";
export type {
  BatchVerification,
  VerificationFailure,
  VerificationProgress,
  VerificationReport,
  VerifyOptions,
} from "./verify-all.js";
