import type { TestProject } from "vitest/node";
import { startEmbeddedBroker } from "../../src/cli/embedded-broker.js";
import { startEmbeddedPostgres } from "../../src/cli/embedded-postgres.js";

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
 * Uses the PostgreSQL in `DATABASE_URL` and the broker in `MQTT_URL` when set; otherwise starts an
 * embedded PostgreSQL and an in-process aedes broker (the same ones the demo uses) for the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
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
