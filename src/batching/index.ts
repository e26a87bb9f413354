/**
 * Batching: the write buffer that groups received messages into commits, and the seal policy that
 * decides when the open Merkle batch is closed.
 *
 * @packageDocumentation
 */
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
export { type OpenBatchState, roomFor, type SealCandidate, type SealLimits, sealDue } from "./seal-policy.js";
export { WriteBuffer, type WriteBufferSettings } from "./write-buffer.js";
