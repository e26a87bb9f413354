import { InvalidOptionError } from "../../errors.js";
import type { Hasher } from "../../hashing/types.js";
import { integerOption } from "../../validation.js";
import { type PostgresPartitionOptions, resolvePartitionOptions } from "./partitions.js";
import type { PgPoolLike } from "./pg-types.js";

/** TLS settings passed to `pg` unchanged (`true`, `false`, or `tls.connect` options). */
export type PostgresSslOptions = boolean | Readonly<Record<string, unknown>>;

/** How {@link postgresStore} writes message rows. */
export type InsertMethod = "unnest" | "copy";

/** What `open()` does about migrations. */
export type MigrateOnOpen =
  | boolean
  | {
      /** Also apply the opt-in sample devices (`002_seed_data.sql`). */
      readonly seed?: boolean;
    };

/**
 * Options of {@link postgresStore}. Give one of `pool`, `connectionString`, or the discrete
 * connection fields; whatever is not given comes from the environment as the documented pool
 * settings have it: `DATABASE_HOST` (`localhost`), `DATABASE_PORT` (`5432`), `DATABASE_NAME`
 * (`veep_bridge`), `DATABASE_USER` (`bridge`), `DATABASE_PASSWORD`; `DATABASE_URL`, when set,
 * replaces those five.
 *
 * @example
 * ```ts
 * postgresStore({ connectionString: process.env.DATABASE_URL });
 * postgresStore({ pool: myPgPool });            // your pool; close() leaves it open
 * postgresStore({ host: "db", ssl: true });    // the rest from DATABASE_* / defaults
 * ```
 */
export interface PostgresStoreOptions {
  /** An existing pool (any pg 8.x `Pool`). The store never ends it. */
  readonly pool?: PgPoolLike;
  /** A `postgres://` URL; takes precedence over every environment variable. */
  readonly connectionString?: string;
  /** @defaultValue `DATABASE_HOST` or `"localhost"` */
  readonly host?: string;
  /** @defaultValue `DATABASE_PORT` or `5432` */
  readonly port?: number;
  /** @defaultValue `DATABASE_NAME` or `"veep_bridge"` */
  readonly database?: string;
  /** @defaultValue `DATABASE_USER` or `"bridge"` */
  readonly user?: string;
  /** Never logged nor put in an error. @defaultValue `DATABASE_PASSWORD` */
  readonly password?: string;
  /**
   * TLS, passed through to `pg` (`true`, or Node's TLS options such as `{ ca }`). Not together with
   * TLS parameters in the connection string (`sslmode`, `sslrootcert`, …), which would replace it.
   * @defaultValue not set (pg's default)
   */
  readonly ssl?: PostgresSslOptions;
  /** Maximum connections in the pool. @defaultValue `10` */
  readonly max?: number;
  /** @defaultValue `30000` */
  readonly idleTimeoutMillis?: number;
  /** @defaultValue `2000` */
  readonly connectionTimeoutMillis?: number;
  /**
   * Migrations run by `open()`: `true` applies pending ones, `{ seed: true }` also the three sample
   * devices (`002_seed_data.sql`), `false` only checks the schema is up to date.
   * @defaultValue `true`
   */
  readonly migrate?: MigrateOnOpen;
  /** Folder of the SQL migrations. @defaultValue the package's `migrations/` */
  readonly migrationsDirectory?: string;
  /** Hasher of message hashes and Merkle roots (for proofs and verification). @defaultValue SHA-256 */
  readonly hasher?: Hasher;
  /**
   * How message rows are inserted; both write each row once, with the full schema. `copy`
   * (`COPY … FROM STDIN` via pg-copy-streams) measured faster than `unnest` arrays (see
   * docs/schema.md) but needs a node-postgres client: with a pool of another driver, use `unnest`.
   * @defaultValue `"copy"`
   */
  readonly insertMethod?: InsertMethod;
  /** Called with errors of idle connections of a pool the store created. @defaultValue ignore */
  readonly onPoolError?: (error: Error) => void;
  /**
   * The time partitions of `messages`: their span, how far ahead they are made, how far back a
   * redelivered copy is looked for, and who makes them (docs/schema.md, "Partitions").
   * @defaultValue daily partitions made 7 days ahead by the store, a copy looked for one partition back
   */
  readonly partitions?: PostgresPartitionOptions;
}

/** Environment variables read for defaults (an explicit object makes tests independent of `process.env`). */
export type PostgresEnvironment = Readonly<Record<string, string | undefined>>;

/** The `pg.Pool` configuration the store creates its pool from. */
export interface ResolvedPoolConfig {
  /** Set when a URL (option or `DATABASE_URL`) is used; then host…password are not. */
  readonly connectionString?: string;
  /** Server host. */
  readonly host?: string;
  /** Server port. */
  readonly port?: number;
  /** Database name. */
  readonly database?: string;
  /** Role name. */
  readonly user?: string;
  /** Role password. */
  readonly password?: string;
  /** TLS settings, unchanged. */
  readonly ssl?: PostgresSslOptions;
  /** Maximum connections. */
  readonly max: number;
  /** Idle connection timeout. */
  readonly idleTimeoutMillis: number;
  /** Connect timeout. */
  readonly connectionTimeoutMillis: number;
}

/** The documented pool defaults. */
export const POOL_DEFAULTS = {
  /** `DATABASE_HOST` default. */
  host: "localhost",
  /** `DATABASE_PORT` default. */
  port: 5432,
  /** `DATABASE_NAME` default. */
  database: "veep_bridge",
  /** `DATABASE_USER` default. */
  user: "bridge",
  /** Maximum connections in the pool. */
  max: 10,
  /** Idle connection timeout (ms). */
  idleTimeoutMillis: 30_000,
  /** Connect timeout (ms). */
  connectionTimeoutMillis: 2000,
} as const;

/**
 * A connection string with its password replaced by `***`, for messages and logs.
 *
 * @example
 * ```ts
 * redactConnectionString("postgres://bridge:s3cret@db/veep"); // "postgres://bridge:***@db/veep"
 * ```
 */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    if (url.searchParams.has("password")) url.searchParams.set("password", "***");
    return url.toString();
  } catch {
    return connectionString
      .replace(/\/\/([^:/@]*):.*@/, "//$1:***@")
      .replace(/password=[^&\s]*/gi, "password=***");
  }
}

function positiveInteger(option: string, value: number | undefined, fallback: number): number {
  return integerOption(option, value, fallback);
}

function portFrom(option: string, value: number | string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const port = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidOptionError(option, `expected a TCP port (1–65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

function checkedUrl(option: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(option, `not a valid URL: ${redactConnectionString(value)}`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:" && url.protocol !== "socket:") {
    throw new InvalidOptionError(option, `expected a postgres:// URL, got ${redactConnectionString(value)}`);
  }
  return value;
}

function nonEmpty(option: string, value: string | undefined): string | undefined {
  if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
    throw new InvalidOptionError(option, "expected a non-empty string");
  }
  return value;
}

function connectionFields(
  options: PostgresStoreOptions,
  env: PostgresEnvironment,
): Partial<ResolvedPoolConfig> {
  if (options.connectionString !== undefined) {
    return { connectionString: checkedUrl("connectionString", options.connectionString) };
  }
  const explicit = [options.host, options.port, options.database, options.user, options.password];
  const url = env.DATABASE_URL;
  if (url && explicit.every((value) => value === undefined)) {
    return { connectionString: checkedUrl("DATABASE_URL", url) };
  }
  const password = options.password ?? env.DATABASE_PASSWORD;
  return {
    host: nonEmpty("host", options.host) ?? (env.DATABASE_HOST || POOL_DEFAULTS.host),
    port:
      portFrom("port", options.port) ?? portFrom("DATABASE_PORT", env.DATABASE_PORT) ?? POOL_DEFAULTS.port,
    database: nonEmpty("database", options.database) ?? (env.DATABASE_NAME || POOL_DEFAULTS.database),
    user: nonEmpty("user", options.user) ?? (env.DATABASE_USER || POOL_DEFAULTS.user),
    ...(password !== undefined ? { password } : {}),
  };
}

/** Connection-string parameters with which node-postgres replaces the `ssl` option as a whole. */
const TLS_PARAMETERS = ["ssl", "sslmode", "sslrootcert", "sslcert", "sslkey"];

function tlsParametersOf(connectionString: string): string[] {
  try {
    const params = new URL(connectionString).searchParams;
    return TLS_PARAMETERS.filter((name) => params.has(name));
  } catch {
    return [];
  }
}

/**
 * The pool configuration {@link postgresStore} uses for `options`: explicit options first, then
 * `DATABASE_URL`, then `DATABASE_HOST`/`PORT`/`NAME`/`USER`/`PASSWORD`, then the documented defaults.
 *
 * @throws `InvalidOptionError` naming the option (passwords are never in the message), also for an
 *   `ssl` option next to a connection string with TLS parameters (`sslmode`, `sslrootcert`, …).
 */
export function resolvePoolConfig(
  options: PostgresStoreOptions = {},
  env: PostgresEnvironment = process.env,
): ResolvedPoolConfig {
  const connection = connectionFields(options, env);
  const inUrl = connection.connectionString ? tlsParametersOf(connection.connectionString) : [];
  if (options.ssl !== undefined && inUrl.length > 0) {
    throw new InvalidOptionError(
      "ssl",
      `the connection string sets TLS too (${inUrl.join(", ")}), and its settings would replace this option entirely: give them in one place (e.g. the CA as sslrootcert=FILE, or ssl.ca without sslmode in the URL)`,
    );
  }
  return {
    ...connection,
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    max: positiveInteger("max", options.max, POOL_DEFAULTS.max),
    idleTimeoutMillis: positiveInteger(
      "idleTimeoutMillis",
      options.idleTimeoutMillis,
      POOL_DEFAULTS.idleTimeoutMillis,
    ),
    connectionTimeoutMillis: positiveInteger(
      "connectionTimeoutMillis",
      options.connectionTimeoutMillis,
      POOL_DEFAULTS.connectionTimeoutMillis,
    ),
  };
}

/** Validates the options that are not about the connection. @throws `InvalidOptionError` */
export function validateStoreOptions(options: PostgresStoreOptions): void {
  if (
    options.insertMethod !== undefined &&
    options.insertMethod !== "unnest" &&
    options.insertMethod !== "copy"
  ) {
    throw new InvalidOptionError(
      "insertMethod",
      `expected "unnest" or "copy", got ${JSON.stringify(options.insertMethod)}`,
    );
  }
  const migrate = options.migrate;
  if (
    migrate !== undefined &&
    typeof migrate !== "boolean" &&
    (typeof migrate !== "object" || migrate === null)
  ) {
    throw new InvalidOptionError("migrate", "expected a boolean or { seed?: boolean }");
  }
  if (options.pool !== undefined && typeof options.pool.connect !== "function") {
    throw new InvalidOptionError("pool", "expected a pg Pool (an object with connect(), query() and end())");
  }
  if (options.pool !== undefined && options.connectionString !== undefined) {
    throw new InvalidOptionError("pool", "give either `pool` or `connectionString`, not both");
  }
  resolvePartitionOptions(options.partitions);
}
