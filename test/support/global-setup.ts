import type { TestProject } from "vitest/node";
import { startEmbeddedBroker } from "../../src/cli/embedded-broker.js";
import { startEmbeddedPostgres } from "../../src/cli/embedded-postgres.js";
import { MOSQUITTO_MISSING, mosquittoInstalled, mosquittoRequired, probeBroker } from "./mosquitto.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin connection string of a PostgreSQL server tests may create databases on. */
    databaseUrl: string;
    /** URL of an MQTT broker (MQTT 3.1.1 at least). */
    mqttUrl: string;
    /** `true` when the broker is the in-process aedes started here. */
    mqttEmbedded: boolean;
    /** `true` when PostgreSQL is the embedded server started here. */
    postgresEmbedded: boolean;
  }
}

/**
 * With VEEP_REQUIRE_MOSQUITTO=1, the run fails here when mosquitto is missing or `MQTT_URL` does not
 * answer, rather than the tests needing them disappearing. Without it, an unreachable `MQTT_URL` is
 * reported (its tests will fail on their own).
 */
async function checkMosquitto(): Promise<void> {
  const required = mosquittoRequired();
  if (required && !mosquittoInstalled()) {
    throw new Error(
      `VEEP_REQUIRE_MOSQUITTO is set but there is ${MOSQUITTO_MISSING}: the TLS, MQTT 5, kill, broker-restart ` +
        "and catch-up tests start mosquittos of their own",
    );
  }
  const url = process.env.MQTT_URL;
  if (!url) return;
  const problem = await probeBroker(url);
  if (problem === undefined) return;
  const message = `the MQTT broker at MQTT_URL=${url} is unreachable (${problem})`;
  if (required) throw new Error(`VEEP_REQUIRE_MOSQUITTO is set but ${message}`);
  console.warn(`${message}: the tests on it will fail`);
}

/**
 * embedded-postgres, once loaded, ends the process with `process.exit(0)` on `beforeExit`, which would
 * replace the failure code vitest sets in `process.exitCode`: a failing run would exit 0.
 */
function keepFailureExitCode(): void {
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    const failed = process.exitCode !== undefined && process.exitCode !== 0 && process.exitCode !== "0";
    return exit(failed && (code === undefined || code === null || code === 0) ? process.exitCode : code);
  }) as typeof process.exit;
}

/**
 * Uses the PostgreSQL in `DATABASE_URL` and the broker in `MQTT_URL` when set; otherwise starts an
 * embedded PostgreSQL and an in-process aedes broker (the same ones the demo uses) for the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await checkMosquitto();
  const stops: Array<() => Promise<void>> = [];
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    keepFailureExitCode();
    const pg = await startEmbeddedPostgres();
    stops.push(() => pg.stop());
    databaseUrl = pg.url;
  }
  let mqttUrl = process.env.MQTT_URL;
  if (!mqttUrl) {
    const broker = await startEmbeddedBroker();
    stops.push(() => broker.stop());
    mqttUrl = broker.url;
  }
  project.provide("databaseUrl", databaseUrl);
  project.provide("mqttUrl", mqttUrl);
  project.provide("postgresEmbedded", !process.env.DATABASE_URL);
  project.provide("mqttEmbedded", !process.env.MQTT_URL);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
