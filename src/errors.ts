/**
 * Stable error codes carried by every {@link VeepBridgeError}.
 *
 * @remarks The codes never change meaning between versions; match on `error.code`, not on messages.
 */
export type VeepErrorCode =
  | "INVALID_OPTION"
  | "NOT_STARTED"
  | "ALREADY_STARTED"
  | "STOPPED"
  | "STORE_ERROR"
  | "SOURCE_ERROR"
  | "BATCH_INTEGRITY"
  | "INVALID_PROOF"
  | "BACKPRESSURE"
  | "MIGRATION_ERROR"
  | "CONNECTION_ERROR"
  | "LISTENER_ERROR";

/**
 * Base class of every error thrown or emitted by veep-bridge.
 *
 * @example
 * ```ts
 * try { createBridge(options); } catch (e) {
 *   if (e instanceof VeepBridgeError && e.code === "INVALID_OPTION") console.error(e.message);
 * }
 * ```
 */
export class VeepBridgeError extends Error {
  /** Stable machine-readable code. */
  readonly code: VeepErrorCode;

  /**
   * @param code - stable code
   * @param message - human-readable explanation, saying what to do where possible
   * @param options - standard `ErrorOptions`; `cause` keeps the underlying error
   */
  constructor(code: VeepErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option passed to a factory (`createBridge`, an adapter) is invalid; `option` names it. */
export class InvalidOptionError extends VeepBridgeError {
  /** Dotted path of the offending option, e.g. `batch.maxMessages`. */
  readonly option: string;

  /**
   * @param option - dotted path of the option
   * @param message - what is wrong and what is expected
   */
  constructor(option: string, message: string) {
    super("INVALID_OPTION", `Invalid option \`${option}\`: ${message}`);
    this.option = option;
  }
}

/** A store operation failed (connection lost, constraint violated, …); `cause` holds the driver error. */
export class StoreError extends VeepBridgeError {
  /**
   * @param message - what failed
   * @param options - `cause` keeps the driver error
   */
  constructor(message: string, options?: ErrorOptions) {
    super("STORE_ERROR", message, options);
  }
}

/** A source operation failed (broker unreachable, subscription refused, …). */
export class SourceError extends VeepBridgeError {
  /**
   * @param message - what failed
   * @param options - `cause` keeps the client error
   */
  constructor(message: string, options?: ErrorOptions) {
    super("SOURCE_ERROR", message, options);
  }
}

/** A stored batch does not match its leaves (tampering, or a store that broke the batch invariant). */
export class BatchIntegrityError extends VeepBridgeError {
  /** The batch concerned. */
  readonly batchId: string;

  /**
   * @param batchId - the batch concerned
   * @param message - what does not match
   */
  constructor(batchId: string, message: string) {
    super("BATCH_INTEGRITY", message);
    this.batchId = batchId;
  }
}

/** The bridge is in the wrong lifecycle state for the call (e.g. `flush()` before `start()`). */
export class LifecycleError extends VeepBridgeError {}
