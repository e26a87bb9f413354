/**
 * Conformance suites and fixtures for adapter authors and host-application tests.
 * Import from `veep-bridge/testing`; needs `vitest` installed.
 *
 * @packageDocumentation
 */
export { type AnchorHarness, anchorConformance } from "./anchor-conformance.js";
export {
  type MakeReadingsOptions,
  makeReading,
  makeReadings,
  makeRejection,
  redeliver,
  seedPayload,
  waitFor,
} from "./fixtures.js";
export { type ManualClock, manualClock } from "./manual-clock.js";
export { type SourceHarness, sourceConformance } from "./source-conformance.js";
export {
  type AuditedStore,
  expectBatchInvariant,
  type StoreHarness,
  storeConformance,
} from "./store-conformance.js";
