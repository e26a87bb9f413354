import { StoreError, VeepBridgeError } from "../../errors.js";

/** A migration could not be applied, or the applied migrations do not match the shipped files. */
export class MigrationError extends VeepBridgeError {
  /**
   * @param message - what is wrong and what to do
   * @param options - `cause` keeps the driver error
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MIGRATION_ERROR", message, options);
  }
}

/** The SQLSTATE of a PostgreSQL error (e.g. `"22P05"`), or `undefined` for other errors. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The constraint a PostgreSQL error names, if any. */
export function constraintOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === "string" ? constraint : undefined;
}

/**
 * `true` when PostgreSQL refused a row for its content: a data exception (class 22, e.g. 22P05
 * `\u0000` in JSONB, 22001 value too long), a program limit a value exceeds (54000, e.g. a JSONB
 * value too large; 54001, a JSON value nested deeper than the server's `max_stack_depth` allows),
 * a NOT NULL violation, or a `message_id` that is taken by another message. Such errors are
 * isolated row by row instead of failing the append.
 */
export function isRowRefusal(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) return false;
  return (
    state.startsWith("22") ||
    state === "54000" ||
    state === "54001" ||
    state === "23502" ||
    (state === "23505" && isMessageKey(constraintOf(error)))
  );
}

/** `messages_pkey`, or a message partition's primary key (`messages_p20261206_pkey`, or pg_partman's names). */
function isMessageKey(constraint: string | undefined): boolean {
  return constraint !== undefined && /^messages\w*_pkey$/.test(constraint);
}

/**
 * `idx_messages_hash`, a message partition's (`messages_p20261206_idx_messages_hash`), or one made
 * from a template (pg_partman names it after the columns: `…_message_hash_device_id_idx`).
 */
function isMessageHash(constraint: string | undefined): boolean {
  return constraint !== undefined && /(idx_messages_hash|message_hash_device_id\w*)$/.test(constraint);
}

/** `true` when no partition of `messages` takes a row's `received_at` (23514): create it, retry. */
export function isMissingPartition(error: unknown): boolean {
  return (
    sqlState(error) === "23514" &&
    error instanceof Error &&
    /no partition of relation "(messages|signature_verifications)"/.test(error.message)
  );
}

/**
 * `true` for a unique violation on `idx_messages_hash` or `messages_pkey`: another writer stored
 * the same message while this transaction ran (its duplicate check could not see it yet).
 */
export function isConcurrentDuplicate(error: unknown): boolean {
  const constraint = constraintOf(error);
  return sqlState(error) === "23505" && (isMessageHash(constraint) || isMessageKey(constraint));
}

/**
 * `true` when retrying the whole transaction may succeed: a concurrent duplicate, a batch row that
 * already exists (the append's plan was stale), a deadlock, a serialization failure.
 */
export function isRetryable(error: unknown): boolean {
  const state = sqlState(error);
  return (
    isConcurrentDuplicate(error) ||
    (state === "23505" && constraintOf(error) === "batches_pkey") ||
    state === "40P01" ||
    state === "40001"
  );
}

/** What to do about a failure with this SQLSTATE, when there is one obvious step. */
function remedy(state: string | undefined): string {
  return state === "3D000"
    ? " — create it with `veep-bridge migrate --create-database` (or `createDatabase()` from veep-bridge/postgres), or connect to an existing database"
    : "";
}

/** Node's codes for a failed certificate check (untrusted issuer, self-signed, expired, wrong host name). */
const TLS_CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/;

/**
 * The Node.js code of a failed TLS certificate check (e.g. `"SELF_SIGNED_CERT_IN_CHAIN"`,
 * `"ERR_TLS_CERT_ALTNAME_INVALID"`), or `undefined` when `error` is not one.
 */
export function tlsCertificateErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && TLS_CERTIFICATE_ERROR.test(code) ? code : undefined;
}

function describeFailure(error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  const tls = tlsCertificateErrorCode(error);
  if (tls !== undefined) {
    return `the server's TLS certificate was not accepted (${tls}: ${detail}); trust the CA that signed it with sslrootcert=FILE in the connection string or the ssl option's ca`;
  }
  if (detail === "The server does not support SSL connections") {
    return `${detail}; enable ssl on the server, or connect without sslmode/ssl`;
  }
  return detail;
}

/**
 * Wraps any failure in a {@link StoreError} (keeping the cause) unless it is already a veep-bridge
 * error. A missing database (SQLSTATE 3D000) says how to create it; a refused certificate, how to
 * trust its CA.
 */
export function toStoreError(what: string, error: unknown): VeepBridgeError {
  if (error instanceof VeepBridgeError) return error;
  const state = sqlState(error);
  return new StoreError(
    `postgres store: ${what} failed${state ? ` (SQLSTATE ${state})` : ""}: ${describeFailure(error)}${remedy(state)}`,
    { cause: error },
  );
}
