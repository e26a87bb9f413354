import type { ChildStats, LatencySummary } from "./child-protocol.js";
import type { RssSample } from "./rss-sampler.js";

/**
 * How a scenario ended: every valid reading stored, no new row for the stall period, the writer
 * died, or the scenario could not run at all (e.g. the bridge did not start).
 */
export type Outcome = "done" | "stalled" | "exited" | "failed";

/** One row of the table. */
export interface ScenarioResult {
  readonly name: string;
  /** The baseline stores whatever parses as JSON: rows beyond the valid readings are bad input it kept. */
  readonly acceptsBadInput: boolean;
  /** Messages published (valid and bad). */
  readonly messages: number;
  /** Valid readings: the rows `messages` must end with. */
  readonly target: number;
  readonly outcome: Outcome;
  /** Until every valid reading was stored, or until the stall or exit was seen. */
  readonly seconds: number;
  /** Rows in `messages` when the outcome was seen. */
  readonly storedAtOutcome: number;
  /** Rows in `messages` after the child stopped. */
  readonly storedAtEnd: number;
  /** The child's own count of deliveries (redeliveries included), if it reported one. */
  readonly received: number | undefined;
  /** Its last counters (final line, else last progress line). */
  readonly stats: ChildStats | undefined;
  readonly deadLetters: number;
  readonly distinctDeadLetters: number;
  readonly distinctBad: number;
  readonly peakRssKb: number | undefined;
  /** The process's CPU time from start to its drained stop, when it reported it. */
  readonly cpuMs: number | undefined;
  readonly latency: LatencySummary | undefined;
  /** RSS every few seconds (long run only). */
  readonly timeline: ReadonlyArray<RssSample & { readonly stored: number }>;
  readonly notes: readonly string[];
}

/** The row of a scenario that threw before it could measure anything. */
export function failedResult(name: string, messages: number, target: number, error: unknown): ScenarioResult {
  return {
    name,
    acceptsBadInput: false,
    messages,
    target,
    outcome: "failed",
    seconds: 0,
    storedAtOutcome: 0,
    storedAtEnd: target,
    received: undefined,
    stats: undefined,
    deadLetters: 0,
    distinctDeadLetters: 0,
    distinctBad: 0,
    peakRssKb: undefined,
    cpuMs: undefined,
    latency: undefined,
    timeline: [],
    notes: [error instanceof Error ? error.message : String(error)],
  };
}
