import type { Clock } from "../batching/index.js";
import { InvalidOptionError } from "../errors.js";
import type { Hasher } from "../hashing/types.js";
import type { PayloadValidator } from "../message/decoder-options.js";
import type { Source } from "../sources/source.js";
import type { Store } from "../stores/store.js";
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from "./backoff.js";

/** What a custom seal predicate sees of the open batch. */
export interface OpenBatchState {
  /** The open batch. */
  readonly batchId: string;
  /** Committed leaves. */
  readonly messageCount: number;
  /** Payload bytes of the committed leaves. */
  readonly bytes: number;
  /** Milliseconds since its first message was added. */
  readonly ageMs: number;
}

/** When the open batch is sealed. Whichever limit is reached first seals it. */
export interface BatchOptions {
  /**
   * Seal when the batch holds this many messages (a batch never exceeds it).
   * @defaultValue 1000
   */
  readonly maxMessages?: number;
  /**
   * Seal when the batch's payloads reach this many bytes (a batch never exceeds it).
   * @defaultValue no byte limit
   */
  readonly maxBytes?: number;
  /**
   * Seal this many milliseconds after the batch's first message.
   * @defaultValue 300000 (5 minutes)
   */
  readonly maxAgeMs?: number;
  /**
   * Seal when this returns `true`, checked after every commit.
   * @defaultValue none
   */
  readonly shouldSeal?: (state: OpenBatchState) => boolean;
}

/** How received messages are grouped into database transactions. */
export interface WriteBufferOptions {
  /**
   * Commit once this many messages are waiting. Keep it at or below the broker's in-flight window
   * (mosquitto: 20 by default), since the broker sends no more until these are acknowledged.
   * @defaultValue the source's `maxInFlight` hint, else 20
   */
  readonly maxMessages?: number;
  /**
   * Commit at most this many milliseconds after the first waiting message arrived.
   * @defaultValue 5
   */
  readonly maxDelayMs?: number;
  /**
   * Messages the buffer holds before the source is paused (backpressure).
   * @defaultValue 10000
   */
  readonly capacity?: number;
}

/** Options of {@link createBridge}. */
export interface BridgeOptions {
  /** Where messages come from, e.g. `mqttSource(...)` or `memorySource()`. */
  readonly source: Source;
  /** Where they are written, e.g. `postgresStore(...)` or `memoryStore()`. */
  readonly store: Store;
  /**
   * Topic pattern with named segments `{tenant}`, `{site}` and `{device}`; gives the subscription
   * filter (`veep/+/+/+/data`) and the parser.
   * @defaultValue "veep/\{tenant\}/\{site\}/\{device\}/data"
   */
  readonly topic?: string;
  /** When batches are sealed. */
  readonly batch?: BatchOptions;
  /** How messages are grouped into transactions. */
  readonly writeBuffer?: WriteBufferOptions;
  /**
   * Largest accepted payload in bytes; larger ones are rejected with `too_large`.
   * @defaultValue 262144 (256 KiB)
   */
  readonly maxPayloadBytes?: number;
  /** Extra validation of every payload; refusals are rejected with `validation_failed`. */
  readonly validate?: PayloadValidator;
  /**
   * Hash primitives for message hashes and Merkle trees.
   * @defaultValue `sha256Hasher` (RFC 9162 with SHA-256)
   */
  readonly hasher?: Hasher;
  /** Backoff for failed store operations (retried until they succeed or the bridge stops). */
  readonly retry?: RetryOptions;
  /**
   * Time source and timers (inject a fake one in tests).
   * @defaultValue the system clock, with `unref()`ed timers
   */
  readonly clock?: Clock;
}

/** Options with defaults applied. */
export interface ResolvedBridgeOptions {
  readonly source: Source;
  readonly store: Store;
  readonly topic: string | undefined;
  readonly batch: {
    readonly maxMessages: number;
    readonly maxBytes: number | undefined;
    readonly maxAgeMs: number;
    readonly shouldSeal: ((state: OpenBatchState) => boolean) | undefined;
  };
  readonly writeBuffer: {
    readonly maxMessages: number;
    readonly maxDelayMs: number;
    readonly capacity: number;
  };
  readonly maxPayloadBytes: number | undefined;
  readonly validate: PayloadValidator | undefined;
  readonly hasher: Hasher | undefined;
  readonly retry: ResolvedRetryOptions;
  readonly clock: Clock | undefined;
}

function positiveInteger(
  option: string,
  value: unknown,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `expected a positive integer, got ${String(value)}`);
  }
  if (value > max) throw new InvalidOptionError(option, `must be at most ${max}, got ${value}`);
  return value;
}

/** Longest delay `setTimeout` honours (about 24.8 days). */
const MAX_DELAY_MS = 2_147_483_647;

function isAdapter(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return methods.every((m) => typeof record[m] === "function");
}

const SOURCE_METHODS = ["start", "pause", "resume", "stop"] as const;
const STORE_METHODS = [
  "open",
  "loadOpenBatch",
  "append",
  "sealBatch",
  "failBatch",
  "getProof",
  "close",
] as const;

/** Validates {@link BridgeOptions} and applies defaults; throws {@link InvalidOptionError} naming the option. */
export function resolveBridgeOptions(options: BridgeOptions): ResolvedBridgeOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError("options", "createBridge needs an options object with `source` and `store`");
  }
  if (!isAdapter(options.source, SOURCE_METHODS)) {
    throw new InvalidOptionError("source", `expected a Source (an object with ${SOURCE_METHODS.join(", ")})`);
  }
  if (!isAdapter(options.store, STORE_METHODS)) {
    throw new InvalidOptionError("store", `expected a Store (an object with ${STORE_METHODS.join(", ")})`);
  }
  if (options.topic !== undefined && typeof options.topic !== "string") {
    throw new InvalidOptionError("topic", "expected a topic pattern string");
  }
  const batch: BatchOptions = options.batch ?? {};
  if (batch.shouldSeal !== undefined && typeof batch.shouldSeal !== "function") {
    throw new InvalidOptionError("batch.shouldSeal", "expected a function");
  }
  if (options.validate !== undefined && typeof options.validate !== "function") {
    throw new InvalidOptionError("validate", "expected a function");
  }
  if (options.clock !== undefined && !isAdapter(options.clock, ["now", "setTimeout", "clearTimeout"])) {
    throw new InvalidOptionError(
      "clock",
      "expected a Clock (an object with now, setTimeout and clearTimeout)",
    );
  }
  if (options.hasher !== undefined && !isAdapter(options.hasher, ["digest", "hashLeaf", "hashChildren"])) {
    throw new InvalidOptionError(
      "hasher",
      "expected a Hasher (an object with digest, hashLeaf and hashChildren)",
    );
  }
  for (const [name, value] of [
    ["batch", options.batch],
    ["writeBuffer", options.writeBuffer],
    ["retry", options.retry],
  ] as const) {
    if (value !== undefined && (value === null || typeof value !== "object")) {
      throw new InvalidOptionError(name, "expected an object");
    }
  }
  const sourceHint = (options.source as { readonly maxInFlight?: number }).maxInFlight;
  const writeBuffer: WriteBufferOptions = options.writeBuffer ?? {};
  const resolved: ResolvedBridgeOptions = {
    source: options.source,
    store: options.store,
    topic: options.topic,
    batch: {
      maxMessages: positiveInteger("batch.maxMessages", batch.maxMessages, 1000),
      maxBytes:
        batch.maxBytes === undefined ? undefined : positiveInteger("batch.maxBytes", batch.maxBytes, 0),
      maxAgeMs: positiveInteger("batch.maxAgeMs", batch.maxAgeMs, 300_000, MAX_DELAY_MS),
      shouldSeal: batch.shouldSeal,
    },
    writeBuffer: {
      maxMessages: positiveInteger(
        "writeBuffer.maxMessages",
        writeBuffer.maxMessages,
        typeof sourceHint === "number" && sourceHint > 0 ? sourceHint : 20,
      ),
      maxDelayMs: positiveInteger("writeBuffer.maxDelayMs", writeBuffer.maxDelayMs, 5, MAX_DELAY_MS),
      capacity: positiveInteger("writeBuffer.capacity", writeBuffer.capacity, 10_000),
    },
    maxPayloadBytes:
      options.maxPayloadBytes === undefined
        ? undefined
        : positiveInteger("maxPayloadBytes", options.maxPayloadBytes, 0),
    validate: options.validate,
    hasher: options.hasher,
    retry: resolveRetryOptions(options.retry ?? undefined, "retry"),
    clock: options.clock,
  };
  if (resolved.writeBuffer.capacity < resolved.writeBuffer.maxMessages) {
    throw new InvalidOptionError("writeBuffer.capacity", "must be at least writeBuffer.maxMessages");
  }
  return resolved;
}
