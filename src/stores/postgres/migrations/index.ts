export { defaultMigrationsDirectory, type MigrationFile, readMigrationFiles } from "./files.js";
export {
  assertMigrated,
  MIGRATIONS_TABLE,
  type MigrateOptions,
  type MigrateResult,
  migrate,
} from "./runner.js";
