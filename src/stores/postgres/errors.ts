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
 * `\u0000` in JSONB, 22001 value too long), a NOT NULL violation, or a `message_id` that is taken
 * by another message. Such errors are isolated row by row instead of failing the append.
 */
export function isRowRefusal(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) return false;
  return (
    state.startsWith("22") ||
    state === "23502" ||
    (state === "23505" && constraintOf(error) === "messages_pkey")
  );
}

/**
 * `true` for a unique violation on `idx_messages_hash` or `messages_pkey`: another writer stored
 * the same message while this transaction ran (its duplicate check could not see it yet).
 */
export function isConcurrentDuplicate(error: unknown): boolean {
  const constraint = constraintOf(error);
  return (
    sqlState(error) === "23505" && (constraint === "idx_messages_hash" || constraint === "messages_pkey")
  );
}

/** `true` when retrying the whole transaction may succeed: a concurrent duplicate, a deadlock, a serialization failure. */
export function isRetryable(error: unknown): boolean {
  const state = sqlState(error);
  return isConcurrentDuplicate(error) || state === "40P01" || state === "40001";
}

/** Wraps any failure in a {@link StoreError} (keeping the cause) unless it is already a veep-bridge error. */
export function toStoreError(what: string, error: unknown): VeepBridgeError {
  if (error instanceof VeepBridgeError) return error;
  const state = sqlState(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new StoreError(`postgres store: ${what} failed${state ? ` (SQLSTATE ${state})` : ""}: ${detail}`, {
    cause: error,
  });
}
