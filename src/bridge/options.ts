import type { BridgeAnchoringOptions } from "../anchoring/background.js";
import { isAnchorLedger } from "../anchoring/types.js";
import type { Clock, OpenBatchState, SealLimits } from "../batching/index.js";
import { InvalidOptionError } from "../errors.js";
import type { PayloadValidator } from "../message/decoder-options.js";
import type { Source } from "../sources/source.js";
import { STORE_METHODS, type Store } from "../stores/store.js";
import {
  functionOption,
  hasMethods,
  integerOption,
  MAX_TIMER_DELAY_MS,
  objectOption,
} from "../validation.js";
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from "./retry.js";

/** When the open batch is sealed. Whichever limit is reached first seals it. */
export interface BatchOptions {
  /**
   * Seal when the batch holds this many messages (a batch never exceeds it).
   * @defaultValue 1000
   */
  readonly maxMessages?: number;
  /**
   * Seal when the batch's payloads reach this many bytes (a batch never exceeds it, except that a
   * single larger message makes a batch of its own).
   * @defaultValue no byte limit
   */
  readonly maxBytes?: number;
  /**
   * Seal this many milliseconds after the batch's first message.
   * @defaultValue 300000 (5 minutes)
   */
  readonly maxAgeMs?: number;
  /**
   * Seal when this returns `true`; checked after every commit and on resume.
   * @defaultValue none
   */
  readonly shouldSeal?: (state: OpenBatchState) => boolean;
  /**
   * The name this bridge's batches are stored under (at most 255 characters). On start the bridge
   * continues the open batch with this owner, never another bridge's: give every bridge that
   * writes to one database its own (several bridges sharing a subscription, say).
   * @defaultValue the source's `instanceId` (an MQTT source's client id); none if it has none
   */
  readonly owner?: string;
}

/**
 * How received messages are grouped into database transactions, and how much the bridge holds.
 *
 * @remarks One commit runs at a time. While it runs, new messages wait; when it ends the next
 * commit takes everything waiting, up to `maxMessages` (and the open batch's room). The source is
 * paused while `capacity` messages or `capacityBytes` payload bytes are held (waiting or being
 * committed) and resumed at half of both; that is the bridge's memory bound.
 */
export interface WriteBufferOptions {
  /**
   * Most messages in one transaction.
   * @defaultValue 1000
   */
  readonly maxMessages?: number;
  /**
   * Commit at most this many milliseconds after the oldest waiting message arrived, even if fewer
   * than the source's in-flight window are waiting.
   * @defaultValue 2
   */
  readonly maxDelayMs?: number;
  /**
   * Messages held before the source is paused; the most it ever holds.
   * @defaultValue 4000
   */
  readonly capacity?: number;
  /**
   * Payload bytes held before the source is paused; it holds at most this plus the one message that
   * crossed it. That message is a reading of at most `maxPayloadBytes`, or a payload refused as
   * `too_large`, which is held whole until its dead letter commits: bound those with the broker's
   * largest message (mosquitto `message_size_limit`). A held message costs about 2.2 KB of heap
   * plus twice its payload size (the raw bytes and their canonical JSON), so the defaults bound the
   * buffer to roughly 12 MB for 300-byte readings.
   * @defaultValue 16777216 (16 MiB)
   */
  readonly capacityBytes?: number;
}

/**
 * Where a bridge gets device keys: every device that has one, device id → base58 of its 32-byte
 * Ed25519 public key. Called at start and at each refresh, never per message.
 */
export type DeviceKeySource = () => Promise<ReadonlyMap<string, string>>;

/**
 * The bridge's device-signature policy (docs/hashing.md §6 gives the signed bytes).
 *
 * @remarks A device **without** a key is accepted unsigned (a signature it sends is stored, not
 * checked). Each reading of a device **with** a key is checked before it is stored: valid, it is
 * stored with a `signature_verifications` row (`is_valid` true); unsigned or badly signed, it is
 * dead-lettered as `missing_signature` or `bad_signature` (`onInvalid: "reject"`, the default)
 * or stored with `is_valid` false (`onInvalid: "store"`). Keys are loaded at start and every
 * `refreshMs`; a reading that fails is checked once more with freshly loaded keys (at most once a
 * second), so a key registered or rotated in the database applies to the next reading.
 */
export interface SignatureOptions {
  /**
   * Where the keys come from.
   * @defaultValue the store's `loadDeviceKeys()` (the PostgreSQL store reads `devices.public_key`);
   * with a store that has none, signatures are not checked
   */
  readonly keys?: DeviceKeySource;
  /**
   * What happens to an unsigned or badly signed reading of a device that has a key: `"reject"`
   * dead-letters it (`missing_signature`, `bad_signature`), `"store"` stores it with
   * `signature_verifications.is_valid` false.
   * @defaultValue "reject"
   */
  readonly onInvalid?: "reject" | "store";
  /**
   * Milliseconds between two loads of the keys.
   * @defaultValue 60000
   */
  readonly refreshMs?: number;
}

/** Options of {@link createBridge}. */
export interface BridgeOptions {
  /** Where messages come from, e.g. `mqttSource(...)` or `memorySource()`. */
  readonly source: Source;
  /**
   * Where they are written, e.g. `postgresStore(...)` or `memoryStore()`. Its `hasher` (SHA-256
   * when it has none) hashes the messages and their Merkle trees.
   */
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
  /** Backoff for failed store operations (retried until they succeed or the bridge stops). */
  readonly retry?: RetryOptions;
  /**
   * Device signature checks (see {@link SignatureOptions}); `false` turns them off.
   * @defaultValue on, with the store's keys, when the store has `loadDeviceKeys`
   */
  readonly signatures?: SignatureOptions | false;
  /**
   * Time source and timers (inject a fake one in tests).
   * @defaultValue the system clock, with `unref()`ed timers
   */
  readonly clock?: Clock;
  /**
   * Opt-in: anchor each sealed batch's root (e.g. `solanaAnchor` from `veep-bridge/solana`), in
   * the background after sealing, never in the ingest path. The store must implement
   * `AnchorLedger` (both bundled stores do). `veep-bridge anchor` may run at the same time.
   * @defaultValue no anchoring
   */
  readonly anchoring?: BridgeAnchoringOptions;
}

/** Options with defaults applied. */
export interface ResolvedBridgeOptions {
  readonly source: Source;
  readonly store: Store;
  readonly topic: string | undefined;
  readonly batch: SealLimits & { readonly owner: string | undefined };
  readonly writeBuffer: {
    readonly maxMessages: number;
    readonly maxDelayMs: number;
    readonly capacity: number;
    readonly capacityBytes: number;
  };
  readonly maxPayloadBytes: number | undefined;
  readonly validate: PayloadValidator | undefined;
  readonly retry: ResolvedRetryOptions;
  readonly clock: Clock | undefined;
  readonly anchoring: BridgeAnchoringOptions | undefined;
  /** `false`: off; `keys` undefined: the store's, if it has them. */
  readonly signatures:
    | false
    | (Omit<ResolvedSignatureOptions, "keys"> & { readonly keys: DeviceKeySource | undefined });
}

/** The signature policy with defaults applied and a key source. */
export interface ResolvedSignatureOptions {
  readonly keys: DeviceKeySource;
  readonly onInvalid: "reject" | "store";
  readonly refreshMs: number;
}

function signatureOptions(value: SignatureOptions | false | undefined): ResolvedBridgeOptions["signatures"] {
  if (value === false) return false;
  const options = objectOption("signatures", value);
  const { onInvalid = "reject" } = options;
  if (onInvalid !== "reject" && onInvalid !== "store") {
    throw new InvalidOptionError("signatures.onInvalid", 'expected "reject" or "store"');
  }
  return {
    keys: functionOption("signatures.keys", options.keys),
    onInvalid,
    refreshMs: integerOption("signatures.refreshMs", options.refreshMs, 60_000, {
      min: 1,
      max: MAX_TIMER_DELAY_MS,
    }),
  };
}

function ownerOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > 255) {
    throw new InvalidOptionError("batch.owner", "expected a non-empty string of at most 255 characters");
  }
  return value;
}

function anchoringOption(options: BridgeOptions): BridgeAnchoringOptions | undefined {
  const anchoring = options.anchoring;
  if (anchoring === undefined) return undefined;
  if (typeof anchoring !== "object" || anchoring === null || !hasMethods(anchoring.anchor, ANCHOR_METHODS)) {
    throw new InvalidOptionError(
      "anchoring.anchor",
      `expected an Anchor (an object with ${ANCHOR_METHODS.join(", ")}), e.g. solanaAnchor() from veep-bridge/solana`,
    );
  }
  if (!isAnchorLedger(options.store)) {
    throw new InvalidOptionError(
      "anchoring",
      "the store does not implement AnchorLedger (claimAnchorWork, recordAnchorAttempt, confirmAnchor, failAnchor, …); the bundled stores do",
    );
  }
  integerOption("anchoring.intervalMs", anchoring.intervalMs, 5000, { min: 1, max: MAX_TIMER_DELAY_MS });
  return anchoring;
}

const ANCHOR_METHODS = ["prepare", "send", "status", "read"] as const;

const SOURCE_METHODS = ["start", "pause", "resume", "stop"] as const;

/** Validates {@link BridgeOptions} and applies defaults; throws {@link InvalidOptionError} naming the option. */
export function resolveBridgeOptions(options: BridgeOptions): ResolvedBridgeOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError("options", "createBridge needs an options object with `source` and `store`");
  }
  if (!hasMethods(options.source, SOURCE_METHODS)) {
    throw new InvalidOptionError("source", `expected a Source (an object with ${SOURCE_METHODS.join(", ")})`);
  }
  if (!hasMethods(options.store, STORE_METHODS)) {
    throw new InvalidOptionError("store", `expected a Store (an object with ${STORE_METHODS.join(", ")})`);
  }
  if ((options as { readonly hasher?: unknown }).hasher !== undefined) {
    throw new InvalidOptionError(
      "hasher",
      "pass the hasher to the store (e.g. memoryStore({ hasher })); the bridge uses the store's",
    );
  }
  if (options.clock !== undefined && !hasMethods(options.clock, ["now", "setTimeout", "clearTimeout"])) {
    throw new InvalidOptionError(
      "clock",
      "expected a Clock (an object with now, setTimeout and clearTimeout)",
    );
  }
  const batch = objectOption("batch", options.batch);
  const writeBuffer = objectOption("writeBuffer", options.writeBuffer);
  const retry = objectOption("retry", options.retry);
  const maxMessages = integerOption("writeBuffer.maxMessages", writeBuffer.maxMessages, 1000);
  const resolved: ResolvedBridgeOptions = {
    source: options.source,
    store: options.store,
    topic: options.topic,
    batch: {
      maxMessages: integerOption("batch.maxMessages", batch.maxMessages, 1000),
      maxBytes: integerOption("batch.maxBytes", batch.maxBytes, undefined),
      maxAgeMs: integerOption("batch.maxAgeMs", batch.maxAgeMs, 300_000, { max: MAX_TIMER_DELAY_MS }),
      shouldSeal: functionOption("batch.shouldSeal", batch.shouldSeal),
      owner: ownerOption(batch.owner ?? options.source.instanceId),
    },
    writeBuffer: {
      maxMessages,
      maxDelayMs: integerOption("writeBuffer.maxDelayMs", writeBuffer.maxDelayMs, 2, {
        min: 0,
        max: MAX_TIMER_DELAY_MS,
      }),
      capacity: integerOption("writeBuffer.capacity", writeBuffer.capacity, Math.max(4_000, maxMessages)),
      capacityBytes: integerOption("writeBuffer.capacityBytes", writeBuffer.capacityBytes, 16 * 1024 * 1024),
    },
    // topic, maxPayloadBytes and validate are checked once, by the decoder the bridge builds from them.
    maxPayloadBytes: options.maxPayloadBytes,
    validate: options.validate,
    retry: resolveRetryOptions(retry, "retry"),
    clock: options.clock,
    anchoring: anchoringOption(options),
    signatures: signatureOptions(options.signatures),
  };
  if (resolved.writeBuffer.capacity < resolved.writeBuffer.maxMessages) {
    throw new InvalidOptionError("writeBuffer.capacity", "must be at least writeBuffer.maxMessages");
  }
  return resolved;
}
