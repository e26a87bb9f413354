import { createBridge } from "../../index.js";
import { mqttSource } from "../../sources/mqtt/index.js";
import { postgresStore } from "../../stores/postgres/index.js";
import { booleanFlag, parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { describeError } from "../describe-error.js";
import { EXIT } from "../exit-codes.js";
import { attachReporter, reportMode } from "../reporter.js";
import { RUN_CONFIG_FLAGS, resolveRunConfig } from "../run-config.js";
import { waitForShutdownSignal } from "../signals.js";
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
                              maxPayloadBytes, migrate, sealOnExit }
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
  --skip-migrate              only check the schema is up to date instead of migrating
  --seal-on-exit              seal the open batch when stopping (default: it is resumed next start)
  --json                      JSON lines instead of text
  -h, --help                  show this help

Output: on a terminal one live status line (msg/s, stored, rejected, open batch size, last
sealed batch); otherwise one line per event and a counters line every 10 s.`;

/** `veep-bridge run`. */
export const runCommand: Command = {
  name: "run",
  summary: "bridge MQTT to PostgreSQL until SIGINT/SIGTERM",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("run", argv, { ...RUN_CONFIG_FLAGS, json: { type: "boolean" } });
    const config = await resolveRunConfig(values);
    const database = databaseTarget(config.postgres);
    const broker = brokerTarget(config.mqtt.url ?? "mqtt://localhost:1883");
    const context = { database, broker: broker.address };
    let bridge: ReturnType<typeof createBridge>;
    try {
      bridge = createBridge({
        source: mqttSource(config.mqtt),
        store: postgresStore({ ...config.postgres, migrate: config.migrate }),
        batch: config.batch,
        writeBuffer: config.writeBuffer,
        ...(config.topic !== undefined ? { topic: config.topic } : {}),
        ...(config.maxPayloadBytes !== undefined ? { maxPayloadBytes: config.maxPayloadBytes } : {}),
      });
    } catch (error) {
      throw describeError(error, context);
    }
    const reporter = attachReporter(bridge, reportMode(booleanFlag(values, "json")));
    reporter.log("connecting", `connecting: PostgreSQL ${database.display}, MQTT ${broker.display}`, {
      database: database.display,
      broker: broker.display,
    });
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
      throw describeError(error, context);
    }
    const signal = await stopping;
    reporter.log("stopping", `${signal}: draining (commit and acknowledge what was received)`, { signal });
    await bridge.stop({ drain: true, seal: config.sealOnExit });
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
