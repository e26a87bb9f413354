import {
  type PostgresStoreOptions,
  redactConnectionString,
  resolvePoolConfig,
} from "../stores/postgres/index.js";

/** Where a command connects to, for messages (never with a password). */
export interface DatabaseTarget {
  /** `host:port`. */
  readonly address: string;
  /** Database name. */
  readonly database: string;
  /** The connection URL with its password replaced by `***` (or `host:port/database`). */
  readonly display: string;
  /** Role name, when known. */
  readonly user: string | undefined;
}

/** Describes the PostgreSQL server `options` (plus `DATABASE_*` from `env`) point at. */
export function databaseTarget(
  options: PostgresStoreOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DatabaseTarget {
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

/** `host:port` of a broker URL, and the URL without its password. */
export function brokerTarget(url: string): { readonly address: string; readonly display: string } {
  try {
    const parsed = new URL(url);
    const defaultPort = parsed.protocol === "mqtts:" || parsed.protocol === "ssl:" ? "8883" : "1883";
    if (parsed.password) parsed.password = "***";
    return { address: `${parsed.hostname}:${parsed.port || defaultPort}`, display: parsed.toString() };
  } catch {
    return { address: "(invalid URL)", display: "(invalid URL)" };
  }
}
