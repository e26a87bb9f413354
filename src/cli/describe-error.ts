import { InvalidOptionError, SourceError, VeepBridgeError } from "../index.js";
import { sqlState, tlsCertificateErrorCode } from "../stores/postgres/errors.js";
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
    const state = sqlState(cause);
    if (state) return state;
  }
  return undefined;
}

function tlsCodeOf(error: unknown): string | undefined {
  for (const cause of causes(error)) {
    const code = tlsCertificateErrorCode(cause);
    if (code) return code;
  }
  return undefined;
}

function databaseError(error: unknown, db: DatabaseTarget): CliError | undefined {
  const tls = tlsCodeOf(error);
  if (tls !== undefined) {
    return new CliError(
      `PostgreSQL at ${db.address} presented a TLS certificate that is not trusted (${tls}) — give the CA that signed it: sslmode=verify-full&sslrootcert=FILE in DATABASE_URL, or postgres.ssl.ca in the config file`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  if (
    [...causes(error)].some((cause) => messageOf(cause) === "The server does not support SSL connections")
  ) {
    return new CliError(
      `PostgreSQL at ${db.address} does not offer TLS — enable ssl on the server, or remove sslmode from DATABASE_URL`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  if (isUnreachable(error)) {
    return new CliError(
      `cannot reach PostgreSQL at ${db.address} — set DATABASE_URL (or DATABASE_HOST/DATABASE_PORT) or start it`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  const state = sqlStateOf(error);
  if (state === "28000" && [...causes(error)].some((cause) => /no encryption$/.test(messageOf(cause)))) {
    return new CliError(
      `PostgreSQL at ${db.address} accepts only TLS connections here — add sslmode=verify-full&sslrootcert=FILE to DATABASE_URL, or set postgres.ssl in the config file`,
      EXIT.unavailable,
      { cause: error },
    );
  }
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

function sourceError(error: SourceError, broker: string): CliError | undefined {
  const fail = (message: string): CliError => new CliError(message, EXIT.unavailable, { cause: error });
  const why = messageOf(error.cause ?? error);
  switch (error.code) {
    case "BROKER_UNREACHABLE":
      return fail(`cannot reach the MQTT broker at ${broker} — set MQTT_URL or start it`);
    case "NOT_AUTHORIZED":
      return fail(
        `the MQTT broker at ${broker} refused the credentials (${why}) — check MQTT_USERNAME and MQTT_PASSWORD`,
      );
    case "CONNECTION_REFUSED":
      return fail(`the MQTT broker at ${broker} refused the connection (${why}) — check MQTT_CLIENT_ID`);
    case "TLS_UNTRUSTED":
      return fail(
        `the MQTT broker at ${broker} presented a certificate that is not trusted: ${error.message}`,
      );
    case "SUBSCRIPTION_REFUSED":
      return fail(`the MQTT broker at ${broker} refused the subscription: ${error.message}`);
    default:
      return isUnreachable(error)
        ? fail(`cannot reach the MQTT broker at ${broker} — set MQTT_URL or start it`)
        : undefined;
  }
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
    const described = sourceError(error, context.broker ?? "the configured address");
    if (described) return described;
  }
  if (context.database) {
    const described = databaseError(error, context.database);
    if (described) return described;
  }
  if (error instanceof VeepBridgeError) {
    const exitCode =
      error.code === "MIGRATION_ERROR" || error.code === "STORE_ERROR" || error.code === "ANCHOR_ERROR"
        ? EXIT.unavailable
        : EXIT.internal;
    return new CliError(error.message, exitCode, { cause: error });
  }
  return new CliError(`unexpected error: ${messageOf(error)}`, EXIT.internal, { cause: error });
}
