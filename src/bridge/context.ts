import type { Clock } from "../batching/index.js";
import type { Hasher } from "../hashing/types.js";
import type { Store } from "../stores/store.js";
import type { ResolvedBridgeOptions } from "./options.js";
import type { RetryContext } from "./retry.js";
import type { SerialQueue } from "./serial-queue.js";
import type { SignatureGate } from "./signatures.js";

/** Running totals behind the bridge's `stats()`. */
export interface Counters {
  received: number;
  redelivered: number;
  stored: number;
  duplicates: number;
  rejected: number;
  sealedBatches: number;
}

/** What the parts of a bridge share: its settings, adapters, clock, events and the store queue. */
export interface BridgeContext extends RetryContext {
  readonly options: ResolvedBridgeOptions;
  /** The store behind the lifecycle guard. */
  readonly store: Store;
  readonly hasher: Hasher;
  readonly clock: Clock;
  readonly counters: Counters;
  /** Store writes run here one at a time: appends, seals, resyncs. */
  readonly queue: SerialQueue;
  /** The device-signature policy, or `undefined` when signatures are not checked. */
  readonly signatures: SignatureGate | undefined;
}
