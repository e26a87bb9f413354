/**
 * veep-bridge: move IoT readings from MQTT into PostgreSQL with a tamper-evident trail.
 *
 * This entry point holds what a host application uses: `createBridge`, its options, events and
 * errors, and the records the stores return. What a verifier needs to check a proof or an anchor
 * is in `veep-bridge/verify`, what a device needs to sign its readings in `veep-bridge/signing`. The MQTT and
 * PostgreSQL adapters live in `veep-bridge/mqtt` and `veep-bridge/postgres`, the in-memory ones
 * for tests in `veep-bridge/memory`; what an adapter author needs (the `Source` and `Store`
 * contracts, hashers) in `veep-bridge/adapter`; conformance suites in `veep-bridge/testing`;
 * Prometheus metrics in `veep-bridge/metrics`; anchoring batch roots on Solana in
 * `veep-bridge/solana`.
 *
 * @packageDocumentation
 */

export type { AggregationOptions, AnchorEvent } from "./anchoring/anchorer.js";
export type { BridgeAnchoringOptions } from "./anchoring/background.js";
export type { Clock } from "./batching/clock.js";
export type { OpenBatchState } from "./batching/seal-policy.js";
export { createBridge } from "./bridge/create-bridge.js";
export type {
  BatchOptions,
  BridgeOptions,
  DeviceKeySource,
  SignatureOptions,
  WriteBufferOptions,
} from "./bridge/options.js";
export type { RetryOptions } from "./bridge/retry.js";
export type { Bridge, BridgeState, BridgeStats, StopOptions } from "./bridge/types.js";
export {
  AnchorError,
  BatchIntegrityError,
  InvalidOptionError,
  LifecycleError,
  SourceError,
  type SourceErrorCode,
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
export type { PayloadValidator, ValidationContext } from "./message/decoder-options.js";
export type {
  JsonObject,
  JsonValue,
  Reading,
  Rejection,
  RejectionReason,
  SignatureCheck,
} from "./message/types.js";
export type { SourceStatus } from "./sources/source.js";
export type { BatchRecord, BatchStatus, DeadLetterRecord } from "./stores/store.js";
