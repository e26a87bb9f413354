import type { EventEmitter } from "eventemitter3";
import type { BatchSealedEvent, BridgeEvents } from "../events.js";

/** An eventemitter3 emitter typed by an event map (event name → listener signature). */
export type TypedEventEmitter<Events extends object> = InstanceType<typeof EventEmitter<Events>>;

/** Lifecycle states of a {@link Bridge}. */
export type BridgeState = "idle" | "starting" | "running" | "stopping" | "stopped";

/** Options of {@link Bridge.stop}. */
export interface StopOptions {
  /**
   * Commit (and acknowledge) everything already received before stopping. With `false`, buffered
   * messages are left unacknowledged: the source delivers them again after a restart.
   * @defaultValue true
   */
  readonly drain?: boolean;
  /**
   * Also seal the open batch. Without it, the open batch stays `pending` and the next start resumes it.
   * @defaultValue false
   */
  readonly seal?: boolean;
  /**
   * Give up draining after this many milliseconds (e.g. while the store is unreachable): what is
   * not committed by then stays unacknowledged and is delivered again after a restart.
   * @defaultValue no limit
   */
  readonly timeoutMs?: number;
}

/** Counters since start, for status lines and metrics. */
export interface BridgeStats {
  /** Messages received from the source. */
  readonly received: number;
  /** Of those, the ones the transport flagged as redeliveries (MQTT DUP). */
  readonly redelivered: number;
  /** Messages newly stored. */
  readonly stored: number;
  /** Redelivered copies recognised, in memory or by the store, and acknowledged without storing. */
  readonly duplicates: number;
  /** Payloads rejected (decoder or store) and recorded as dead letters. */
  readonly rejected: number;
  /**
   * Deliveries refused because the write buffer was full (a source that kept delivering while
   * paused) or already closed (the bridge stopping); left unacknowledged, so the source delivers
   * them again.
   */
  readonly refused: number;
  /** Batches sealed. */
  readonly sealedBatches: number;
  /** Messages held in the write buffer (waiting or being committed). */
  readonly buffered: number;
  /** Payload bytes held in the write buffer. */
  readonly bufferedBytes: number;
  /** Leaves in the open batch. */
  readonly openBatchSize: number;
  /** Id of the open batch. */
  readonly openBatchId: string | undefined;
  /** The last sealed batch, if any. */
  readonly lastSealed: BatchSealedEvent | undefined;
}

/**
 * A running pipeline from a source (`Source`) to a store (`Store`): decode, hash, commit, acknowledge,
 * seal. Create it with {@link createBridge}; listen to its {@link BridgeEvents}.
 */
export interface Bridge extends TypedEventEmitter<BridgeEvents> {
  /** Current lifecycle state. */
  readonly state: BridgeState;
  /** Opens the store, resumes its open batch, starts the source. Calling it again returns the same promise. */
  start(): Promise<void>;
  /** Stops the source, drains (by default) and closes the store. Idempotent: later calls return the first promise. */
  stop(options?: StopOptions): Promise<void>;
  /** Commits everything received so far and seals the open batch now; resolves with the sealed batch, if any. */
  flush(): Promise<BatchSealedEvent | null>;
  /** Counters since start. */
  stats(): BridgeStats;
  /** Same as `stop({ drain: true })`, for `await using bridge = createBridge(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}
