import { createDatabase, redactConnectionString } from "../stores/postgres/index.js";
import { type EmbeddedBroker, startEmbeddedBroker } from "./embedded-broker.js";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "./embedded-postgres.js";

/** The database and broker the demo runs against, and how to release them. */
export interface DemoInfrastructure {
  /** Connection string of the demo database. */
  readonly databaseUrl: string;
  /** Broker URL. */
  readonly mqttUrl: string;
  /** What the demo started itself (empty when both came from the environment). */
  readonly started: readonly string[];
  /** Stops what the demo started. */
  release(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * Uses `DATABASE_URL` and `MQTT_URL` when set; otherwise starts an embedded PostgreSQL (with a
 * `veep_bridge` database) and an in-process broker. `say` narrates each step.
 */
export async function startDemoInfrastructure(
  env: Readonly<Record<string, string | undefined>>,
  say: (line: string) => void,
): Promise<DemoInfrastructure> {
  let postgres: EmbeddedPostgresServer | undefined;
  let broker: EmbeddedBroker | undefined;
  const release = async (): Promise<void> => {
    await broker?.stop();
    await postgres?.stop();
  };
  try {
    let databaseUrl = env.DATABASE_URL;
    if (databaseUrl) {
      say(`PostgreSQL: using DATABASE_URL ${redactConnectionString(databaseUrl)}`);
    } else {
      say("PostgreSQL: starting an embedded server (embedded-postgres) in a temporary directory…");
      const started = Date.now();
      postgres = await startEmbeddedPostgres();
      databaseUrl = withDatabase(postgres.url, "veep_bridge");
      await createDatabase({ connectionString: databaseUrl });
      say(
        `PostgreSQL: ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${redactConnectionString(databaseUrl)}`,
      );
    }
    let mqttUrl = env.MQTT_URL;
    if (mqttUrl) {
      say(`MQTT: using MQTT_URL ${redactConnectionString(mqttUrl)}`);
    } else {
      broker = await startEmbeddedBroker();
      mqttUrl = broker.url;
      say(`MQTT: in-process broker (aedes) listening on ${mqttUrl}`);
    }
    const started = [
      ...(postgres ? ["PostgreSQL (data directory removed)"] : []),
      ...(broker ? ["the broker"] : []),
    ];
    return { databaseUrl, mqttUrl, started, release };
  } catch (error) {
    await release();
    throw error;
  }
}
