/**
 * veep-bridge: move IoT readings from MQTT into PostgreSQL with a tamper-evident trail.
 *
 * This entry point holds the core (bridge, decoding, hashing, batching, contracts) and the memory
 * adapters. Real adapters live in `veep-bridge/mqtt` and `veep-bridge/postgres`; conformance
 * suites in `veep-bridge/testing`.
 *
 * @packageDocumentation
 */

export {
  Batcher,
  type BatcherOptions,
  type BatchState,
  type Clock,
  type FlushPolicy,
  type FlushReason,
  systemClock,
  type TimerHandle,
} from "./batching/index.js";
export type { RetryOptions } from "./bridge/backoff.js";
export { createBridge } from "./bridge/create-bridge.js";
export { OpenBatch } from "./bridge/open-batch.js";
export type { BatchOptions, BridgeOptions, OpenBatchState, WriteBufferOptions } from "./bridge/options.js";
export type { Bridge, BridgeState, BridgeStats, StopOptions, TypedEventEmitter } from "./bridge/types.js";
export {
  BatchIntegrityError,
  InvalidOptionError,
  LifecycleError,
  SourceError,
  StoreError,
  VeepBridgeError,
  type VeepErrorCode,
} from "./errors.js";
export type {
  BackpressureEvent,
  BatchFailedEvent,
  BatchOpenedEvent,
  BatchSealedEvent,
  BridgeEvents,
  ReceivedEvent,
  RejectedEvent,
  RetryEvent,
  SealReason,
  StoredEvent,
} from "./events.js";
export {
  auditPath,
  bytesToHex,
  canonicalJson,
  createNodeHasher,
  type Hasher,
  hashCanonicalJson,
  hexToBytes,
  type InclusionProof,
  IncrementalMerkleTree,
  inclusionProof,
  inclusionProofs,
  merkleRoot,
  merkleRootHex,
  messageHash,
  sha256Hasher,
  type VerifyInclusionOptions,
  verifyInclusion,
} from "./hashing/index.js";
export {
  createDecoder,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_TOPIC_PATTERN,
  type DecodeInput,
  type Decoder,
  type DecoderOptions,
  type PayloadValidator,
  parseTopicPattern,
  type TopicMatch,
  type TopicPattern,
  type ValidationContext,
} from "./message/index.js";
export type {
  DecodeResult,
  JsonObject,
  JsonValue,
  Reading,
  Rejection,
  RejectionReason,
} from "./message/types.js";
export {
  type MemorySource,
  type MemorySourceOptions,
  type MemorySourceSession,
  memorySource,
} from "./sources/memory/index.js";
export type {
  Source,
  SourceHandlers,
  SourceMessage,
  SourceStartContext,
  SourceStatus,
} from "./sources/source.js";
export {
  createMemoryStoreData,
  type MemoryBatchRow,
  type MemoryDeviceRow,
  type MemoryMessageRow,
  type MemoryStore,
  type MemoryStoreData,
  type MemoryStoreOptions,
  memoryStore,
} from "./stores/memory/index.js";
export type {
  AppendRequest,
  AppendResult,
  BatchAppendPlan,
  BatchLeaf,
  BatchRecord,
  BatchStatus,
  DeadLetterRecord,
  MessageProof,
  OpenBatchSnapshot,
  PlannedLeaf,
  SealRequest,
  Store,
} from "./stores/store.js";
