/**
 * Conformance suites and fixtures for adapter authors and host-application tests.
 * Import from `veep-bridge/testing`; needs `vitest` installed.
 *
 * @packageDocumentation
 */
export {
  type MakeReadingsOptions,
  makeReading,
  makeReadings,
  makeRejection,
  redeliver,
  seedPayload,
  waitFor,
} from "./fixtures.js";
export { type SourceHarness, sourceConformance } from "./source-conformance.js";
export { expectBatchInvariant, type StoreHarness, storeConformance } from "./store-conformance.js";
