import { Counter, Gauge, Histogram, type Registry, register } from "prom-client";
import type { Bridge } from "../bridge/types.js";
import { InvalidOptionError } from "../errors.js";
import type { BridgeEvents, SealReason } from "../events.js";
import type { RejectionReason } from "../message/types.js";

/** Options of {@link bridgeMetrics}. */
export interface BridgeMetricsOptions {
  /**
   * Registry the metrics are registered in; exposition is the registry's own `metrics()`.
   * @defaultValue prom-client's global `register`
   */
  readonly registry?: Registry;
  /**
   * Prefix of every metric name. Two bridges in one registry need different prefixes (or
   * registries): a name can be registered once.
   * @defaultValue `"veep_bridge_"`
   */
  readonly prefix?: string;
  /**
   * Constant labels put on every series (e.g. `{ instance: "bridge-a" }`); the names `reason`,
   * `operation` and `code` are taken by the metrics themselves.
   * @defaultValue none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Bucket upper bounds (seconds) of the commit-duration histogram.
   * @defaultValue {@link DEFAULT_COMMIT_DURATION_BUCKETS}
   */
  readonly commitDurationBuckets?: readonly number[];
  /**
   * Bucket upper bounds (seconds) of the receipt→commit latency histogram.
   * @defaultValue {@link DEFAULT_COMMIT_LATENCY_BUCKETS}
   */
  readonly commitLatencyBuckets?: readonly number[];
  /**
   * Current time in milliseconds, for the age of the open batch.
   * @defaultValue `Date.now`
   */
  readonly now?: () => number;
}

/** Metrics of one bridge in a registry; {@link BridgeMetrics.dispose} detaches them. */
export interface BridgeMetrics extends Disposable {
  /** The registry holding the metrics (`await metrics.registry.metrics()` renders them). */
  readonly registry: Registry;
  /** Full names of the registered metrics. */
  readonly names: readonly string[];
  /** Removes the listeners from the bridge and unregisters the metrics; idempotent. */
  dispose(): void;
}

/** Default buckets (seconds) of `veep_bridge_commit_duration_seconds`. */
export const DEFAULT_COMMIT_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Default buckets (seconds) of `veep_bridge_receipt_to_commit_seconds`. */
export const DEFAULT_COMMIT_LATENCY_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

const REJECTION_REASONS = [
  "invalid_utf8",
  "invalid_json",
  "not_an_object",
  "unsafe_integer",
  "nul_character",
  "lone_surrogate",
  "too_large",
  "topic_mismatch",
  "device_mismatch",
  "field_too_long",
  "validation_failed",
  "store_refused",
  "decode_failed",
  "missing_signature",
  "bad_signature",
] as const satisfies readonly RejectionReason[];

const SEAL_REASONS = [
  "maxMessages",
  "maxBytes",
  "maxAge",
  "predicate",
  "manual",
  "stop",
] as const satisfies readonly SealReason[];

// Compile-time check that the lists above name every reason.
type Missing =
  | Exclude<RejectionReason, (typeof REJECTION_REASONS)[number]>
  | Exclude<SealReason, (typeof SEAL_REASONS)[number]>;
const complete: [Missing] extends [never] ? true : never = true;
void complete;

/** Metric names without their prefix. */
const METRIC_SUFFIXES = [
  "readings_received_total",
  "readings_stored_total",
  "readings_duplicate_total",
  "readings_rejected_total",
  "redeliveries_total",
  "batches_sealed_total",
  "batches_failed_total",
  "batches_anchored_total",
  "anchor_transactions_total",
  "store_retries_total",
  "errors_total",
  "buffered_readings",
  "buffered_bytes",
  "open_batch_readings",
  "oldest_unsealed_batch_age_seconds",
  "source_up",
  "backpressure",
  "last_commit_timestamp_seconds",
  "last_seal_timestamp_seconds",
  "commit_duration_seconds",
  "receipt_to_commit_seconds",
] as const;

const OWN_LABELS = new Set(["reason", "operation", "code"]);

type Labels = Record<string, string>;

function checkLabels(labels: Readonly<Record<string, string>>): Labels {
  for (const [name, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith("__")) {
      throw new InvalidOptionError(`labels.${name}`, "not a Prometheus label name");
    }
    if (OWN_LABELS.has(name)) throw new InvalidOptionError(`labels.${name}`, "the metrics use this label");
    if (typeof value !== "string") throw new InvalidOptionError(`labels.${name}`, "expected a string");
  }
  return { ...labels };
}

function checkBuckets(option: string, buckets: readonly number[]): number[] {
  const sorted = buckets.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]!));
  if (buckets.length === 0 || !sorted) {
    throw new InvalidOptionError(option, "expected increasing positive numbers of seconds");
  }
  return [...buckets];
}

/**
 * Prometheus metrics of a bridge, registered in a prom-client registry: counters fed by the
 * bridge's events (received and redelivered messages read from `bridge.stats()`, so nothing is done
 * per message), gauges read from `bridge.stats()` when the registry is scraped, and histograms of
 * commit duration and receipt→commit latency. Attach it before `bridge.start()` so the counters see
 * everything. The metric names (with the default prefix) are listed in docs/operations.md.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { bridgeMetrics } from "veep-bridge/metrics";
 *
 * const registry = new Registry();
 * using metrics = bridgeMetrics(bridge, { registry, labels: { instance: "bridge-a" } });
 * // GET /metrics → response.end(await registry.metrics()) with registry.contentType
 * ```
 * @throws `InvalidOptionError` for a bad prefix, label or bucket list, and when the registry
 * already holds a metric of one of these names (nothing is registered then).
 */
export function bridgeMetrics(bridge: Bridge, options: BridgeMetricsOptions = {}): BridgeMetrics {
  const registry = options.registry ?? register;
  const prefix = options.prefix ?? "veep_bridge_";
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidOptionError("prefix", "a metric name prefix has letters, digits, _ and : only");
  }
  const constant = checkLabels(options.labels ?? {});
  const constantNames = Object.keys(constant);
  const now = options.now ?? Date.now;
  const durationBuckets = checkBuckets(
    "commitDurationBuckets",
    options.commitDurationBuckets ?? DEFAULT_COMMIT_DURATION_BUCKETS,
  );
  const latencyBuckets = checkBuckets(
    "commitLatencyBuckets",
    options.commitLatencyBuckets ?? DEFAULT_COMMIT_LATENCY_BUCKETS,
  );
  const registers = [registry];
  const name = (suffix: string): string => `${prefix}${suffix}`;
  const taken = METRIC_SUFFIXES.map(name).filter((full) => registry.getSingleMetric(full) !== undefined);
  if (taken.length > 0) {
    throw new InvalidOptionError(
      "registry",
      `already holds ${taken.join(", ")}: use another prefix or registry, or dispose the earlier bridgeMetrics`,
    );
  }

  const counter = (suffix: string, help: string, labelNames: readonly string[] = []) =>
    new Counter({ name: name(suffix), help, labelNames: [...constantNames, ...labelNames], registers });
  /** A counter read from the bridge's own count at scrape time (nothing to do per message). */
  const countedByBridge = (suffix: string, help: string, read: () => number) =>
    new Counter({
      name: name(suffix),
      help,
      labelNames: constantNames,
      registers,
      collect() {
        this.reset();
        this.inc(constant, read());
      },
    });
  countedByBridge(
    "readings_received_total",
    "Messages received from the source, good or bad.",
    () => bridge.stats().received,
  );
  const stored = counter("readings_stored_total", "Readings newly stored (committed).");
  const duplicates = counter(
    "readings_duplicate_total",
    "Redelivered copies recognised (in memory or by the store) and acknowledged without storing.",
  );
  const rejected = counter(
    "readings_rejected_total",
    "Payloads rejected and recorded as dead letters, by reason.",
    ["reason"],
  );
  countedByBridge(
    "redeliveries_total",
    "Deliveries the transport flagged as redeliveries (MQTT DUP).",
    () => bridge.stats().redelivered,
  );
  const sealed = counter("batches_sealed_total", "Batches sealed with their Merkle root, by reason.", [
    "reason",
  ]);
  const failed = counter("batches_failed_total", "Resumed open batches that failed their integrity check.");
  const anchored = counter(
    "batches_anchored_total",
    "Batches whose anchor transaction was confirmed on chain (option anchoring).",
  );
  const anchorTransactions = counter(
    "anchor_transactions_total",
    "Anchoring outcomes by type: sent, confirmed, expired (sent again), failed (retried later).",
    ["type"],
  );
  const retries = counter("store_retries_total", "Store operations retried, by operation.", ["operation"]);
  const errors = counter("errors_total", "Errors the bridge reported, by code.", ["code"]);

  let sourceUp = 0;
  let backpressure = 0;
  let lastCommit = 0;
  let lastSeal = 0;
  let openBatch: { readonly id: string; readonly start: number } | undefined;

  const gauge = (suffix: string, help: string, read: () => number) =>
    new Gauge({
      name: name(suffix),
      help,
      labelNames: constantNames,
      registers,
      collect() {
        this.set(constant, read());
      },
    });
  gauge("buffered_readings", "Messages held in the write buffer (waiting or being committed).", () => {
    return bridge.stats().buffered;
  });
  gauge("buffered_bytes", "Payload bytes held in the write buffer.", () => bridge.stats().bufferedBytes);
  gauge("open_batch_readings", "Leaves in the open (unsealed) batch.", () => bridge.stats().openBatchSize);
  gauge(
    "oldest_unsealed_batch_age_seconds",
    "Seconds since the first reading of the open batch was received; 0 without one.",
    () => {
      const stats = bridge.stats();
      if (!openBatch || stats.openBatchId !== openBatch.id) return 0;
      return Math.max(0, now() - openBatch.start) / 1000;
    },
  );
  gauge("source_up", "1 while the source is connected (its last status was online), else 0.", () => sourceUp);
  gauge("backpressure", "1 while the source is paused because the write buffer is full.", () => backpressure);
  gauge(
    "last_commit_timestamp_seconds",
    "Unix time of the last commit; 0 before the first.",
    () => lastCommit / 1000,
  );
  gauge(
    "last_seal_timestamp_seconds",
    "Unix time of the last sealed batch; 0 before the first.",
    () => lastSeal / 1000,
  );
  const commitDuration = new Histogram({
    name: name("commit_duration_seconds"),
    help: "Time the store took to commit one write-buffer flush.",
    labelNames: constantNames,
    buckets: durationBuckets,
    registers,
  });
  const latency = new Histogram({
    name: name("receipt_to_commit_seconds"),
    help: "Per stored reading, time from its receipt to its COMMIT.",
    labelNames: constantNames,
    buckets: latencyBuckets,
    registers,
  });

  for (const plain of [stored, duplicates, failed]) plain.inc(constant, 0);
  for (const reason of REJECTION_REASONS) rejected.inc({ ...constant, reason }, 0);
  for (const reason of SEAL_REASONS) sealed.inc({ ...constant, reason }, 0);
  for (const operation of ["append", "seal"]) retries.inc({ ...constant, operation }, 0);
  commitDuration.zero(constant);
  latency.zero(constant);

  const listeners: { [K in keyof BridgeEvents]?: BridgeEvents[K] } = {
    stored: (event) => {
      if (event.stored > 0) stored.inc(constant, event.stored);
      if (event.duplicates > 0) duplicates.inc(constant, event.duplicates);
      lastCommit = event.committedAt.getTime();
      commitDuration.observe(constant, event.durationMs / 1000);
      for (const reading of event.readings) {
        latency.observe(constant, Math.max(0, lastCommit - reading.receivedAt.getTime()) / 1000);
      }
    },
    rejected: (event) => rejected.inc({ ...constant, reason: event.reason }),
    "batch:opened": (event) => {
      openBatch = { id: event.batchId, start: event.startTimestamp.getTime() };
    },
    "batch:sealed": (event) => {
      sealed.inc({ ...constant, reason: event.reason });
      lastSeal = now();
      if (openBatch?.id === event.batchId) openBatch = undefined;
    },
    anchor: (event) => {
      anchorTransactions.inc({ ...constant, type: event.type });
      if (event.type === "confirmed") anchored.inc(constant);
    },
    "batch:failed": (event) => {
      failed.inc(constant);
      if (openBatch?.id === event.batchId) openBatch = undefined;
    },
    retry: (event) => retries.inc({ ...constant, operation: event.operation }),
    backpressure: () => {
      backpressure = 1;
    },
    drain: () => {
      backpressure = 0;
    },
    source: (status) => {
      if (status.state !== "error") sourceUp = status.state === "online" ? 1 : 0;
    },
    stopped: () => {
      sourceUp = 0;
    },
    error: (error) => errors.inc({ ...constant, code: error.code }),
  };
  const detach: (() => void)[] = [];
  const listen = <K extends keyof BridgeEvents>(event: K, listener: BridgeEvents[K] | undefined): void => {
    if (!listener) return;
    const wired = listener as Parameters<Bridge["on"]>[1];
    bridge.on(event, wired);
    detach.push(() => bridge.off(event, wired));
  };
  for (const event of Object.keys(listeners) as (keyof BridgeEvents)[]) listen(event, listeners[event]);
  const allNames = METRIC_SUFFIXES.map(name);
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const off of detach) off();
    for (const full of allNames) registry.removeSingleMetric(full);
  };
  return { registry, names: allNames, dispose, [Symbol.dispose]: dispose };
}
