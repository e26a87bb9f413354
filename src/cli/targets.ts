import {
  describeConnection,
  type PostgresConnectionTarget,
  type PostgresStoreOptions,
} from "../stores/postgres/index.js";

/** Where a command connects to, for messages (never with a password). */
export type DatabaseTarget = PostgresConnectionTarget;

/** Describes the PostgreSQL server `options` (plus `DATABASE_*` from `env`) point at. */
export function databaseTarget(
  options: PostgresStoreOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DatabaseTarget {
  return describeConnection(options, env);
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
