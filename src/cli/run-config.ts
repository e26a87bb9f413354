import type { BatchOptions, WriteBufferOptions } from "../index.js";
import type { MqttSourceOptions } from "../sources/mqtt/index.js";
import type { PostgresStoreOptions } from "../stores/postgres/index.js";
import {
  booleanFlag,
  durationFlag,
  type FlagSpec,
  type FlagValues,
  positiveIntegerFlag,
  stringFlag,
} from "./args.js";
import { CliError } from "./cli-error.js";
import { type ConfigFile, loadConfigFile } from "./config-file.js";
import { EXIT } from "./exit-codes.js";

/** Everything `veep-bridge run` needs, merged from defaults, environment, config file and flags. */
export interface RunConfig {
  /** `postgresStore` options (empty: the store reads `DATABASE_*`). */
  readonly postgres: PostgresStoreOptions;
  /** `mqttSource` options. */
  readonly mqtt: MqttSourceOptions;
  /** Topic pattern, or `undefined` for the default. */
  readonly topic: string | undefined;
  /** Seal policy. */
  readonly batch: BatchOptions;
  /** Write buffer. */
  readonly writeBuffer: WriteBufferOptions;
  /** Largest payload, or `undefined` for the default. */
  readonly maxPayloadBytes: number | undefined;
  /** Apply pending migrations on start. */
  readonly migrate: boolean;
  /** Seal the open batch on SIGINT/SIGTERM. */
  readonly sealOnExit: boolean;
}

/** Flags of `veep-bridge run` that configure the bridge. */
export const RUN_CONFIG_FLAGS: FlagSpec = {
  config: { type: "string", short: "c" },
  "database-url": { type: "string" },
  "mqtt-url": { type: "string" },
  "client-id": { type: "string" },
  "shared-group": { type: "string" },
  "max-in-flight": { type: "string" },
  "connect-timeout": { type: "string" },
  topic: { type: "string" },
  "batch-max-messages": { type: "string" },
  "batch-max-age": { type: "string" },
  "batch-max-bytes": { type: "string" },
  "skip-migrate": { type: "boolean" },
  "seal-on-exit": { type: "boolean" },
};

type Env = Readonly<Record<string, string | undefined>>;

function envInteger(env: Env, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new CliError(`${name} must be a positive integer, got "${value}"`, EXIT.unavailable);
  }
  return Number(value);
}

function defined<T extends object>(entries: T): Partial<T> {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function fromEnv(env: Env): ConfigFile {
  return {
    mqtt: defined({
      url: env.MQTT_URL || undefined,
      username: env.MQTT_USERNAME || undefined,
      password: env.MQTT_PASSWORD || undefined,
      clientId: env.MQTT_CLIENT_ID || undefined,
      sharedGroup: env.MQTT_SHARED_GROUP || undefined,
      maxInFlight: envInteger(env, "MQTT_MAX_IN_FLIGHT"),
      connectTimeoutMs: envInteger(env, "MQTT_CONNECT_TIMEOUT_MS"),
    }),
    ...defined({ topic: env.VEEP_TOPIC || undefined }),
    batch: defined({
      maxMessages: envInteger(env, "VEEP_BATCH_MAX_MESSAGES"),
      maxAgeMs: envInteger(env, "VEEP_BATCH_MAX_AGE_MS"),
    }),
  };
}

function fromFlags(values: FlagValues): ConfigFile {
  const flag = (name: string) => stringFlag(values, name);
  return {
    ...defined({ databaseUrl: flag("database-url"), topic: flag("topic") }),
    mqtt: defined({
      url: flag("mqtt-url"),
      clientId: flag("client-id"),
      sharedGroup: flag("shared-group"),
      maxInFlight: positiveIntegerFlag("run", "--max-in-flight", flag("max-in-flight")),
      connectTimeoutMs: durationFlag("run", "--connect-timeout", flag("connect-timeout")),
    }),
    batch: defined({
      maxMessages: positiveIntegerFlag("run", "--batch-max-messages", flag("batch-max-messages")),
      maxAgeMs: durationFlag("run", "--batch-max-age", flag("batch-max-age")),
      maxBytes: positiveIntegerFlag("run", "--batch-max-bytes", flag("batch-max-bytes")),
    }),
    ...(booleanFlag(values, "skip-migrate") ? { migrate: false } : {}),
    ...(booleanFlag(values, "seal-on-exit") ? { sealOnExit: true } : {}),
  };
}

function merge(layers: readonly ConfigFile[]): ConfigFile {
  let merged: ConfigFile = {};
  for (const layer of layers) {
    merged = {
      ...merged,
      ...layer,
      postgres: { ...merged.postgres, ...layer.postgres },
      mqtt: { ...merged.mqtt, ...layer.mqtt },
      batch: { ...merged.batch, ...layer.batch },
      writeBuffer: { ...merged.writeBuffer, ...layer.writeBuffer },
    };
  }
  return merged;
}

/**
 * Resolves the run configuration. Precedence, highest first: flags, `--config` file, environment
 * (`MQTT_*`, `VEEP_*`; `DATABASE_*` are read by the PostgreSQL store), built-in defaults.
 */
export async function resolveRunConfig(values: FlagValues, env: Env = process.env): Promise<RunConfig> {
  const path = stringFlag(values, "config");
  const file = path ? await loadConfigFile(path) : {};
  const merged = merge([fromEnv(env), file, fromFlags(values)]);
  const postgres: PostgresStoreOptions = {
    ...merged.postgres,
    ...(merged.databaseUrl ? { connectionString: merged.databaseUrl } : {}),
  };
  return {
    postgres,
    mqtt: { url: "mqtt://localhost:1883", ...merged.mqtt },
    topic: merged.topic,
    batch: merged.batch ?? {},
    writeBuffer: merged.writeBuffer ?? {},
    maxPayloadBytes: merged.maxPayloadBytes,
    migrate: merged.migrate ?? true,
    sealOnExit: merged.sealOnExit ?? false,
  };
}
