/**
 * The codes of a {@link SourceError}: what went wrong with the broker, so callers (the CLI among them)
 * can react without reading messages.
 *
 * - `SOURCE_ERROR`: any other source failure
 * - `BROKER_UNREACHABLE`: no connection within the timeout (refused, unreachable host, DNS, …)
 * - `CONNECTION_REFUSED`: the broker answered CONNECT with a refusal other than authorization (e.g.
 *   client identifier rejected, server unavailable, unsupported protocol version)
 * - `NOT_AUTHORIZED`: the broker refused the credentials or the client (bad user name or password,
 *   not authorized, banned)
 * - `TLS_UNTRUSTED`: the broker's TLS certificate did not verify
 * - `SUBSCRIPTION_REFUSED`: the broker refused the subscription (e.g. denied by its ACL)
 * - `ACK_INTERCEPTION`: the installed MQTT.js bypassed acknowledgement after commit
 */
export type SourceErrorCode =
  | "SOURCE_ERROR"
  | "BROKER_UNREACHABLE"
  | "CONNECTION_REFUSED"
  | "NOT_AUTHORIZED"
  | "TLS_UNTRUSTED"
  | "SUBSCRIPTION_REFUSED"
  | "ACK_INTERCEPTION";

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
  | SourceErrorCode
  | "BATCH_INTEGRITY"
  | "BACKPRESSURE"
  | "MIGRATION_ERROR"
  | "CONNECTION_ERROR"
  | "LISTENER_ERROR"
  | "ANCHOR_ERROR";

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

/** A source operation failed (broker unreachable, subscription refused, …); `code` says which. */
export class SourceError extends VeepBridgeError {
  declare readonly code: SourceErrorCode;

  /**
   * @param message - what failed
   * @param options - `cause` keeps the client error; `code` is one of {@link SourceErrorCode}
   *   (default `SOURCE_ERROR`)
   */
  constructor(message: string, options?: ErrorOptions & { readonly code?: SourceErrorCode }) {
    super(options?.code ?? "SOURCE_ERROR", message, options);
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

/**
 * Anchoring a batch root on a chain failed (RPC unreachable, unfunded fee payer, transaction
 * refused, …). `definite` says whether the transaction surely did not reach the chain.
 */
export class AnchorError extends VeepBridgeError {
  /**
   * `true` when the transaction certainly did not reach the chain (refused before it was
   * forwarded, e.g. by preflight simulation); `false` when it may have (a lost reply), so it must
   * be looked up before another one is sent.
   */
  readonly definite: boolean;

  /**
   * @param message - what failed and what to do
   * @param options - `cause` keeps the underlying error; `definite` as above (default `false`)
   */
  constructor(message: string, options?: ErrorOptions & { readonly definite?: boolean }) {
    super("ANCHOR_ERROR", message, options);
    this.definite = options?.definite ?? false;
  }
}
