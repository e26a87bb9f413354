/**
 * Metrics from the bridge's events, in the Prometheus text format, with no dependency.
 * Run it: `npx tsx examples/metrics.ts` (memory adapters, prints the metrics once).
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */
import { pathToFileURL } from "node:url";
import { type Bridge, createBridge, memorySource, memoryStore } from "veep-bridge";

/** Upper bounds (ms) of the commit-duration histogram buckets. */
const BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 1000] as const;

/** Live metrics of one bridge. */
export interface BridgeMetrics {
  /** The metrics in the Prometheus text exposition format. */
  render(): string;
}

/** Subscribes to `bridge`'s events and keeps counters, gauges and a commit-latency histogram. */
export function bridgeMetrics(bridge: Bridge): BridgeMetrics {
  const rejected = new Map<string, number>();
  const retries = new Map<string, number>();
  const buckets = BUCKETS_MS.map(() => 0);
  let commits = 0;
  let commitMsSum = 0;
  let sourceUp = 0;
  let lastSealedSeconds = 0;
  let backpressure = 0;

  bridge.on("stored", (e) => {
    commits += 1;
    commitMsSum += e.durationMs;
    BUCKETS_MS.forEach((le, i) => {
      if (e.durationMs <= le) buckets[i]! += 1;
    });
  });
  bridge.on("rejected", (e) => rejected.set(e.reason, (rejected.get(e.reason) ?? 0) + 1));
  bridge.on("retry", (e) => retries.set(e.operation, (retries.get(e.operation) ?? 0) + 1));
  bridge.on("batch:sealed", () => {
    lastSealedSeconds = Date.now() / 1000;
  });
  bridge.on("source", (s) => {
    sourceUp = s.state === "online" ? 1 : 0;
  });
  bridge.on("backpressure", () => {
    backpressure = 1;
  });
  bridge.on("drain", () => {
    backpressure = 0;
  });

  const line = (name: string, value: number, labels = ""): string => `${name}${labels} ${value}`;
  return {
    render() {
      const s = bridge.stats();
      return [
        "# TYPE veep_messages_received_total counter",
        line("veep_messages_received_total", s.received),
        "# TYPE veep_messages_stored_total counter",
        line("veep_messages_stored_total", s.stored),
        "# TYPE veep_messages_duplicate_total counter",
        line("veep_messages_duplicate_total", s.duplicates),
        "# TYPE veep_messages_rejected_total counter",
        ...[...rejected].map(([reason, n]) =>
          line("veep_messages_rejected_total", n, `{reason="${reason}"}`),
        ),
        "# TYPE veep_batches_sealed_total counter",
        line("veep_batches_sealed_total", s.sealedBatches),
        "# TYPE veep_store_retries_total counter",
        ...[...retries].map(([operation, n]) =>
          line("veep_store_retries_total", n, `{operation="${operation}"}`),
        ),
        "# TYPE veep_open_batch_messages gauge",
        line("veep_open_batch_messages", s.openBatchSize),
        "# TYPE veep_write_buffer_messages gauge",
        line("veep_write_buffer_messages", s.buffered),
        "# TYPE veep_last_sealed_timestamp_seconds gauge",
        line("veep_last_sealed_timestamp_seconds", lastSealedSeconds),
        "# TYPE veep_source_up gauge",
        line("veep_source_up", sourceUp),
        "# TYPE veep_backpressure gauge",
        line("veep_backpressure", backpressure),
        "# TYPE veep_commit_duration_ms histogram",
        ...BUCKETS_MS.map((le, i) => line("veep_commit_duration_ms_bucket", buckets[i]!, `{le="${le}"}`)),
        line("veep_commit_duration_ms_bucket", commits, '{le="+Inf"}'),
        line("veep_commit_duration_ms_sum", commitMsSum),
        line("veep_commit_duration_ms_count", commits),
        "",
      ].join("\n");
    },
  };
}

async function main(): Promise<void> {
  const source = memorySource();
  const bridge = createBridge({ source, store: memoryStore(), batch: { maxMessages: 50 } });
  const metrics = bridgeMetrics(bridge);
  await bridge.start();
  for (let i = 0; i < 120; i++) {
    source.publish("veep/factory1/line2/SENSOR_001/data", {
      deviceId: "SENSOR_001",
      timestamp: i,
      kwh: 15 + i / 10,
    });
  }
  source.publish("veep/factory1/line2/SENSOR_001/data", "not json");
  await source.whenAllAcknowledged();
  await bridge.stop();
  process.stdout.write(metrics.render());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
