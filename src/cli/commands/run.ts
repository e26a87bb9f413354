import type { Bridge } from "../../index.js";
import { booleanFlag, parseCommandArgs } from "../args.js";
import { usageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { describeError } from "../describe-error.js";
import { EXIT } from "../exit-codes.js";
import { tuneHeap } from "../heap.js";
import { type MetricsEndpoint, READY_TIMEOUT_MS, startMetricsEndpoint } from "../metrics-server.js";
import { attachReporter, reportMode } from "../reporter.js";
import { bridgeFromRunConfig } from "../run-bridge.js";
import { RUN_CONFIG_FLAGS, resolveRunConfig } from "../run-config.js";
import { waitForShutdownSignal } from "../signals.js";
import {
  AGGREGATE_FLAGS,
  AGGREGATE_HELP,
  aggregationSettings,
  feePayerAnchor,
  rpcHost,
  SOLANA_FLAGS,
  SOLANA_HELP,
  solanaSettings,
} from "../solana.js";
import { brokerTarget, databaseTarget } from "../targets.js";

const HELP = `Usage: veep-bridge run [options]

Subscribes to the MQTT broker and writes every reading to PostgreSQL: hashed, committed, then
acknowledged; batches are sealed with their Merkle root. SIGINT/SIGTERM drain what was received
(commit + acknowledge) and exit 0; a second signal exits at once (unacknowledged messages are
redelivered by the broker on the next start).

Configuration, highest precedence first: flags, --config file, environment, defaults.

Options:
  -c, --config FILE           JSON file: { databaseUrl, postgres: {…postgresStore options},
                              mqtt: {…mqttSource options}, topic, batch, writeBuffer,
                              maxPayloadBytes, migrate, sealOnExit, metrics: { port, host },
                              signatures }
  --database-url URL          PostgreSQL URL                [DATABASE_URL, or DATABASE_HOST,
                              DATABASE_PORT, DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD]
  --mqtt-url URL              broker URL                    [MQTT_URL, default mqtt://localhost:1883]
                              (MQTT_USERNAME and MQTT_PASSWORD: environment or config file only)
  --client-id ID              MQTT client id (fixed: it keeps the persistent session)
                                                            [MQTT_CLIENT_ID, default veep-bridge-<hostname>]
  --shared-group NAME         subscribe as $share/NAME/…    [MQTT_SHARED_GROUP]
  --max-in-flight N           broker's in-flight window     [MQTT_MAX_IN_FLIGHT, default 20]
  --connect-timeout DURATION  first broker connection       [MQTT_CONNECT_TIMEOUT_MS, default 30s]
  --topic PATTERN             topic pattern                 [VEEP_TOPIC, default veep/{tenant}/{site}/{device}/data]
  --batch-max-messages N      seal at N messages            [VEEP_BATCH_MAX_MESSAGES, default 1000]
  --batch-max-age DURATION    seal after (e.g. 5m, 300s)    [VEEP_BATCH_MAX_AGE_MS, default 300000 ms]
  --batch-max-bytes N         seal at N payload bytes       [default: no limit]
  --partition-interval UNIT   span of the messages partitions made from now: hour, day, week or
                              month; one partition's indexes should fit in shared_buffers
                                                            [VEEP_PARTITION_INTERVAL, default: as stored, day]
  --skip-migrate              only check the schema is up to date instead of migrating
  --seal-on-exit              seal the open batch when stopping (default: it is resumed next start)
  --signatures POLICY         a device with a key (veep-bridge devices set-key) must sign: reject
                              dead-letters its unsigned or badly signed readings, store keeps them
                              marked not valid, off checks nothing [VEEP_SIGNATURES, default reject]
  --metrics-port PORT         serve /metrics, /healthz, /readyz on PORT (0: a free one)
                                                            [VEEP_METRICS_PORT, default: off]
  --metrics-host ADDRESS      address the metrics endpoint binds
                                                            [VEEP_METRICS_HOST, default 0.0.0.0]
  --anchor                    anchor each sealed batch on Solana after sealing (in the background;
                              see veep-bridge anchor --help), with the Solana options below
  --json                      JSON lines instead of text
  -h, --help                  show this help

${SOLANA_HELP}

${AGGREGATE_HELP}

Metrics (with --metrics-port): /metrics in the Prometheus text format (veep_bridge_* and process
metrics, see docs/operations.md); /healthz answers 200 while the process runs; /readyz answers 200
when the bridge runs, the broker is connected and PostgreSQL answers SELECT 1 within ${READY_TIMEOUT_MS} ms,
else 503 with the reason. A port already in use exits 3 before connecting.

Memory: the process lets V8's old generation at most double between major collections instead
of V8's default (up to four times), which takes about a third off its peak under a backlog;
VEEP_HEAP_GROWING_PERCENT sets another percentage (0: V8's default).

Output: on a terminal one live status line (msg/s, stored, rejected, open batch size, last
sealed batch); otherwise one line per event and a counters line every 10 s.`;

/** `veep-bridge run`. */
export const runCommand: Command = {
  name: "run",
  summary: "bridge MQTT to PostgreSQL until SIGINT/SIGTERM",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("run", argv, {
      ...RUN_CONFIG_FLAGS,
      ...SOLANA_FLAGS,
      ...AGGREGATE_FLAGS,
      json: { type: "boolean" },
      anchor: { type: "boolean" },
    });
    const config = await resolveRunConfig(values);
    const solana = booleanFlag(values, "anchor") ? solanaSettings("run", values, process.env) : undefined;
    if (solana && !solana.keypairPath)
      throw usageError("--anchor needs the fee payer: --keypair FILE or SOLANA_KEYPAIR", "run");
    const aggregate = solana ? aggregationSettings("run", values, process.env, 60_000) : undefined;
    const anchor = solana ? await feePayerAnchor({ ...solana, keypairPath: solana.keypairPath! }) : undefined;
    tuneHeap();
    const database = databaseTarget(config.postgres);
    const broker = brokerTarget(config.mqtt.url ?? "mqtt://localhost:1883");
    const context = { database, broker: broker.address };
    let bridge: Bridge;
    try {
      bridge = bridgeFromRunConfig(
        config,
        anchor ? { anchor, ...(aggregate ? { aggregate } : {}) } : undefined,
      );
    } catch (error) {
      throw describeError(error, context);
    }
    const reporter = attachReporter(bridge, reportMode(booleanFlag(values, "json")));
    if (anchor && solana) {
      reporter.log(
        "anchoring",
        `anchoring sealed batches on ${rpcHost(solana.rpcUrl)} (commitment ${solana.commitment})`,
      );
      bridge.on("anchor", (event) => {
        const text =
          event.type === "confirmed"
            ? `anchor confirmed: batch ${event.batchId}, slot ${event.slot}, fee ${event.feeLamports} lamports, ${event.signature}`
            : event.type === "failed"
              ? `anchor FAILED: batch ${event.batchId}: ${event.reason} (retry after ${event.retryAt.toISOString()})`
              : `anchor ${event.type}: batch ${event.batchId}, ${event.signature}`;
        reporter.log(`anchor:${event.type}`, text, { ...event });
      });
    }
    reporter.log("connecting", `connecting: PostgreSQL ${database.display}, MQTT ${broker.display}`, {
      database: database.display,
      broker: broker.display,
    });
    let endpoint: MetricsEndpoint | undefined;
    if (config.metrics) {
      try {
        endpoint = await startMetricsEndpoint(bridge, config.metrics, config.postgres);
      } catch (error) {
        reporter.stop();
        throw error;
      }
      reporter.log("metrics", `serving /metrics, /healthz and /readyz on ${endpoint.url}`, {
        url: endpoint.url,
      });
    }
    const stopping = waitForShutdownSignal((signal) => {
      reporter.log(
        "forced",
        `${signal} again: exiting without draining; the broker redelivers what was not acknowledged`,
      );
      process.exit(130);
    });
    try {
      await bridge.start();
    } catch (error) {
      reporter.stop();
      await endpoint?.close();
      throw describeError(error, context);
    }
    const signal = await stopping;
    reporter.log("stopping", `${signal}: draining (commit and acknowledge what was received)`, { signal });
    await bridge.stop({ drain: true, seal: config.sealOnExit });
    await endpoint?.close();
    const stats = bridge.stats();
    reporter.stop();
    reporter.log(
      "exit",
      `stopped cleanly: ${stats.stored} stored, ${stats.duplicates} duplicates, ${stats.rejected} rejected`,
      { ...stats, lastSealed: stats.lastSealed?.batchId },
    );
    return EXIT.ok;
  },
};
