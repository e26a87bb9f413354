/**
 * `veep-bridge/metrics`: Prometheus metrics of a bridge with prom-client, for a host application's
 * own registry (the `veep-bridge run` command serves the same ones with `--metrics-port`). Only
 * this entry point loads prom-client.
 *
 * @packageDocumentation
 */
export {
  type BridgeMetrics,
  type BridgeMetricsOptions,
  bridgeMetrics,
  DEFAULT_COMMIT_DURATION_BUCKETS,
  DEFAULT_COMMIT_LATENCY_BUCKETS,
} from "./bridge-metrics.js";
