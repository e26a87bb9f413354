import { type PostgresStore, type PostgresStoreOptions, postgresStore } from "../stores/postgres/index.js";
import type { FlagSpec, FlagValues } from "./args.js";
import { stringFlag } from "./args.js";
import { describeError } from "./describe-error.js";
import { databaseTarget } from "./targets.js";

/** The connection flag every database command accepts. */
export const DATABASE_FLAGS: FlagSpec = { "database-url": { type: "string" } };

/** Help lines for {@link DATABASE_FLAGS}. */
export const DATABASE_HELP = `Connection:
  --database-url URL   PostgreSQL URL (default: DATABASE_URL, else DATABASE_HOST, DATABASE_PORT,
                       DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD; defaults localhost, 5432,
                       veep_bridge, bridge)`;

/** Store options from `--database-url`; without it the store reads `DATABASE_*` itself. */
export function storeOptionsFrom(values: FlagValues): PostgresStoreOptions {
  const url = stringFlag(values, "database-url");
  return url ? { connectionString: url } : {};
}

/**
 * Runs `work` with a PostgreSQL store that does not migrate, closing it afterwards; connection
 * errors become messages naming the server (without its password).
 */
export async function withStore<T>(
  options: PostgresStoreOptions,
  work: (store: PostgresStore) => Promise<T>,
): Promise<T> {
  let store: PostgresStore | undefined;
  try {
    store = postgresStore({ connectionTimeoutMillis: 5000, ...options, migrate: false });
    return await work(store);
  } catch (error) {
    throw describeError(error, { database: safeTarget(options) });
  } finally {
    await store?.close().catch(() => undefined);
  }
}

function safeTarget(options: PostgresStoreOptions) {
  try {
    return databaseTarget(options);
  } catch {
    return undefined;
  }
}
