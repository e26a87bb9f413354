import pg from "pg";
import type { PostgresStoreOptions, ResolvedPoolConfig } from "./options.js";
import { resolvePoolConfig } from "./options.js";
import type { PgPoolLike } from "./pg-types.js";

/** The pool the store talks through, and whether the store owns (and so ends) it. */
export interface StorePool {
  /** The pool. */
  readonly pool: PgPoolLike;
  /** `true` when the store created it; `close()` ends only pools it owns. */
  readonly owned: boolean;
}

/** Creates a `pg.Pool` from resolved settings; idle-client errors go to `onError` instead of crashing. */
export function createPgPool(config: ResolvedPoolConfig, onError?: (error: Error) => void): PgPoolLike {
  const pool = new pg.Pool({ ...config, ssl: config.ssl as pg.PoolConfig["ssl"] });
  pool.on("error", (error) => onError?.(error));
  return pool;
}

/** The user's pool when given, otherwise a new one configured from options and environment. */
export function storePool(options: PostgresStoreOptions): StorePool {
  if (options.pool) return { pool: options.pool, owned: false };
  return { pool: createPgPool(resolvePoolConfig(options), options.onPoolError), owned: true };
}
