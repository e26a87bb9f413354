import { InvalidOptionError, SourceError, VeepBridgeError } from "../index.js";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";
import type { DatabaseTarget } from "./targets.js";

/** What an error happened against, to name it in the message. */
export interface ErrorContext {
  /** The database the command used. */
  readonly database?: DatabaseTarget;
  /** `host:port` of the broker the command used. */
  readonly broker?: string;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ECONNRESET",
]);

function* causes(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === undefined || next === null || seen.has(next)) continue;
    seen.add(next);
    yield next;
    if (typeof next === "object") {
      const record = next as { cause?: unknown; errors?: unknown };
      queue.push(record.cause);
      if (Array.isArray(record.errors)) queue.push(...record.errors);
    }
  }
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isUnreachable(error: unknown): boolean {
  for (const cause of causes(error)) {
    const code = codeOf(cause);
    if (code && UNREACHABLE.has(code)) return true;
    if (
      /timeout exceeded when trying to connect|connection timeout|Connection terminated unexpectedly/i.test(
        messageOf(cause),
      )
    ) {
      return true;
    }
  }
  return false;
}

function sqlStateOf(error: unknown): string | undefined {
  for (const cause of causes(error)) {
    const code = codeOf(cause);
    if (code && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function databaseError(error: unknown, db: DatabaseTarget): CliError | undefined {
  if (isUnreachable(error)) {
    return new CliError(
      `cannot reach PostgreSQL at ${db.address} — set DATABASE_URL (or DATABASE_HOST/DATABASE_PORT) or start it`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  const state = sqlStateOf(error);
  if (state === "28P01" || state === "28000") {
    return new CliError(
      `PostgreSQL at ${db.address} refused the login${db.user ? ` of role "${db.user}"` : ""} — check the user and password in DATABASE_URL (or DATABASE_USER/DATABASE_PASSWORD)`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  if (state === "3D000") {
    return new CliError(
      `database "${db.database}" does not exist on ${db.address} — create it with \`veep-bridge migrate --create-database\` or point DATABASE_URL at an existing one`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  if (state === "42P01") {
    return new CliError(
      `database "${db.database}" on ${db.address} has no veep-bridge schema — run \`veep-bridge migrate\` first`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  return undefined;
}

/**
 * Turns any error into a {@link CliError}: connection problems and invalid configuration become
 * exit 3 with a message saying what to do, other library errors keep their message, and anything
 * else is an unexpected error (exit 70).
 */
export function describeError(error: unknown, context: ErrorContext = {}): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof InvalidOptionError) {
    return new CliError(`${error.message} — fix the flag, variable or config file entry`, EXIT.unavailable, {
      cause: error,
    });
  }
  if (error instanceof SourceError) {
    const broker = context.broker ?? "the configured address";
    if (/^No connection to/.test(error.message) || isUnreachable(error)) {
      return new CliError(
        `cannot reach the MQTT broker at ${broker} — set MQTT_URL or start it`,
        EXIT.unavailable,
        {
          cause: error,
        },
      );
    }
    if (/refused the connection/.test(error.message)) {
      return new CliError(
        `the MQTT broker at ${broker} refused the connection (${messageOf(error.cause ?? error)}) — check MQTT_USERNAME, MQTT_PASSWORD and MQTT_CLIENT_ID`,
        EXIT.unavailable,
        { cause: error },
      );
    }
  }
  if (context.database) {
    const described = databaseError(error, context.database);
    if (described) return described;
  }
  if (error instanceof VeepBridgeError) {
    const exitCode =
      error.code === "MIGRATION_ERROR" || error.code === "STORE_ERROR" ? EXIT.unavailable : EXIT.internal;
    return new CliError(error.message, exitCode, { cause: error });
  }
  return new CliError(`unexpected error: ${messageOf(error)}`, EXIT.internal, { cause: error });
}
