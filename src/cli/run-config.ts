import type { BatchOptions, WriteBufferOptions } from "../index.js";
import type { MqttSourceOptions } from "../sources/mqtt/index.js";
import type { PartitionInterval, PostgresStoreOptions } from "../stores/postgres/index.js";
import {
  booleanFlag,
  durationFlag,
  type FlagSpec,
  type FlagValues,
  positiveIntegerFlag,
  stringFlag,
} from "./args.js";
import { CliError, usageError } from "./cli-error.js";
import { type ConfigFile, isSignaturePolicy, loadConfigFile, type SignaturePolicy } from "./config-file.js";
import { EXIT } from "./exit-codes.js";
import { DEFAULT_METRICS_HOST, type MetricsEndpointConfig } from "./metrics-server.js";

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
  /** The `/metrics`, `/healthz` and `/readyz` endpoint, or `undefined` when off (the default). */
  readonly metrics: MetricsEndpointConfig | undefined;
  /** Device signature policy (default `"reject"`). */
  readonly signatures: SignaturePolicy;
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
  "partition-interval": { type: "string" },
  "skip-migrate": { type: "boolean" },
  "seal-on-exit": { type: "boolean" },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string" },
  signatures: { type: "string" },
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

/** Makes the error for a setting that is not what it should be (`expected`). */
type Invalid = (expected: string, value: string) => Error;

/** An environment variable's error: exit 3 (a setting the service cannot run with). */
const invalidEnv =
  (name: string): Invalid =>
  (expected, value) =>
    new CliError(`${name} must be ${expected}, got "${value}"`, EXIT.unavailable);

/** A flag's error: a usage error of `run`. */
const invalidFlag =
  (name: string): Invalid =>
  (expected, value) =>
    usageError(`${name} expects ${expected}, got "${value}"`, "run");

function port(value: string | undefined, invalid: Invalid): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number > 65_535) throw invalid("a TCP port (0–65535)", value);
  return number;
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
    ...defined({
      topic: env.VEEP_TOPIC || undefined,
      signatures: signaturePolicy(env.VEEP_SIGNATURES || undefined, invalidEnv("VEEP_SIGNATURES")),
    }),
    batch: defined({
      maxMessages: envInteger(env, "VEEP_BATCH_MAX_MESSAGES"),
      maxAgeMs: envInteger(env, "VEEP_BATCH_MAX_AGE_MS"),
    }),
    ...defined({
      postgres: partitionInterval(
        env.VEEP_PARTITION_INTERVAL,
        (message) => new CliError(`VEEP_PARTITION_INTERVAL ${message}`, EXIT.unavailable),
      ),
    }),
    metrics: defined({
      port: port(env.VEEP_METRICS_PORT || undefined, invalidEnv("VEEP_METRICS_PORT")),
      host: env.VEEP_METRICS_HOST || undefined,
    }),
  };
}

const PARTITION_INTERVALS: readonly string[] = ["hour", "day", "week", "month"];

/** `{ partitions: { interval } }` for a valid interval; `fail` describes an invalid one. */
function partitionInterval(
  value: string | undefined,
  fail: (message: string) => Error,
): Pick<PostgresStoreOptions, "partitions"> | undefined {
  if (value === undefined || value === "") return undefined;
  if (!PARTITION_INTERVALS.includes(value)) throw fail(`must be hour, day, week or month, got "${value}"`);
  return { partitions: { interval: value as PartitionInterval } };
}

function signaturePolicy(value: string | undefined, invalid: Invalid): SignaturePolicy | undefined {
  if (value === undefined) return undefined;
  if (!isSignaturePolicy(value)) throw invalid("reject, store or off", value);
  return value;
}

function fromFlags(values: FlagValues): ConfigFile {
  const flag = (name: string) => stringFlag(values, name);
  return {
    ...defined({
      postgres: partitionInterval(flag("partition-interval"), (message) =>
        usageError(`--partition-interval ${message}`, "run"),
      ),
      databaseUrl: flag("database-url"),
      topic: flag("topic"),
      signatures: signaturePolicy(flag("signatures"), invalidFlag("--signatures")),
    }),
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
    metrics: defined({
      port: port(flag("metrics-port"), invalidFlag("--metrics-port")),
      host: flag("metrics-host"),
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
      postgres: {
        ...merged.postgres,
        ...layer.postgres,
        ...(merged.postgres?.partitions || layer.postgres?.partitions
          ? { partitions: { ...merged.postgres?.partitions, ...layer.postgres?.partitions } }
          : {}),
      },
      mqtt: { ...merged.mqtt, ...layer.mqtt },
      batch: { ...merged.batch, ...layer.batch },
      writeBuffer: { ...merged.writeBuffer, ...layer.writeBuffer },
      metrics: { ...merged.metrics, ...layer.metrics },
    };
  }
  return merged;
}

/**
 * Resolves the run configuration. Precedence, highest first: flags, `--config` file, environment
 * (`MQTT_*`, `VEEP_*`; `DATABASE_*` are read by the PostgreSQL store), built-in defaults. The
 * metrics endpoint is on only when a port is given (`--metrics-port`, `VEEP_METRICS_PORT` or the
 * file's `metrics.port`).
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
    signatures: merged.signatures ?? "reject",
    metrics:
      merged.metrics?.port !== undefined
        ? { port: merged.metrics.port, host: merged.metrics.host ?? DEFAULT_METRICS_HOST }
        : undefined,
  };
}
