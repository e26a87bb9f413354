import { type PostgresStoreOptions, redactConnectionString, resolvePoolConfig } from "./options.js";

/** Where a {@link postgresStore} connects, safe to log (never the password). */
export interface PostgresConnectionTarget {
  /** `host:port`. */
  readonly address: string;
  /** Database name. */
  readonly database: string;
  /** The connection URL with its password replaced by `***` (or `host:port/database`). */
  readonly display: string;
  /** Role name, when known. */
  readonly user: string | undefined;
}

/**
 * Describes the server `postgresStore(options)` would connect to, resolving `DATABASE_*` from `env`
 * exactly as the store does; for log lines and error messages.
 *
 * @param options - the store's options
 * @param env - the environment to read `DATABASE_*` from
 * @example
 * ```ts
 * console.log(`writing to ${describeConnection({ connectionString: process.env.DATABASE_URL }).display}`);
 * ```
 */
export function describeConnection(
  options: PostgresStoreOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): PostgresConnectionTarget {
  const config = resolvePoolConfig(options, env);
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    const host = url.hostname || "localhost";
    const port = url.port || "5432";
    return {
      address: `${host}:${port}`,
      database: decodeURIComponent(url.pathname.replace(/^\//, "")) || "(default)",
      display: redactConnectionString(config.connectionString),
      user: url.username ? decodeURIComponent(url.username) : undefined,
    };
  }
  const address = `${config.host ?? "localhost"}:${config.port ?? 5432}`;
  const database = config.database ?? "veep_bridge";
  return { address, database, display: `${address}/${database}`, user: config.user };
}
