import pg from "pg";
import { InvalidOptionError } from "../../errors.js";
import { toStoreError } from "./errors.js";
import { type PostgresEnvironment, type PostgresStoreOptions, resolvePoolConfig } from "./options.js";

/** Options of {@link createDatabase}: where the database should be, as for {@link postgresStore}. */
export type CreateDatabaseOptions = Omit<PostgresStoreOptions, "pool"> & {
  /** Database to connect to while creating the target. @defaultValue `"postgres"` */
  readonly maintenanceDatabase?: string;
};

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Creates the target database when it does not exist (a migration runs inside the database, so it
 * cannot create it). Connects to `maintenanceDatabase` on the same server with
 * the same credentials; the role needs `CREATEDB`.
 *
 * @returns `true` when it created the database, `false` when it already existed.
 * @example
 * ```ts
 * await createDatabase({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export async function createDatabase(
  options: CreateDatabaseOptions = {},
  env: PostgresEnvironment = process.env,
): Promise<boolean> {
  const config = resolvePoolConfig(options, env);
  const maintenance = options.maintenanceDatabase ?? "postgres";
  let database: string;
  let clientConfig: pg.ClientConfig;
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    database = decodeURIComponent(url.pathname.replace(/^\//, ""));
    url.pathname = `/${encodeURIComponent(maintenance)}`;
    clientConfig = { connectionString: url.toString() };
  } else {
    database = config.database ?? "";
    clientConfig = {
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: maintenance,
    };
  }
  if (!database) throw new InvalidOptionError("database", "no database name to create");
  const client = new pg.Client({
    ...clientConfig,
    ssl: config.ssl as pg.ClientConfig["ssl"],
    connectionTimeoutMillis: config.connectionTimeoutMillis,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "42P04") return false;
    throw toStoreError(`createDatabase ${quoteIdentifier(database)}`, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
