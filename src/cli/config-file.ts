import type { BatchOptions, WriteBufferOptions } from "../index.js";
import type { MqttSourceOptions } from "../sources/mqtt/index.js";
import type { PostgresStoreOptions } from "../stores/postgres/index.js";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";
import { parseJsonInput, readTextInput } from "./read-input.js";

/**
 * The JSON file given to `veep-bridge run --config FILE`. Every key is optional; `postgres` and
 * `mqtt` take the options of `postgresStore` and `mqttSource` and are validated by them.
 */
export interface ConfigFile {
  /** PostgreSQL URL (beats `DATABASE_URL`). */
  readonly databaseUrl?: string;
  /** Further `postgresStore` options (host, port, ssl, max, …). */
  readonly postgres?: Omit<PostgresStoreOptions, "pool" | "hasher" | "onPoolError">;
  /** `mqttSource` options (url, clientId, username, password, tls, sharedGroup, …). */
  readonly mqtt?: MqttSourceOptions;
  /** Topic pattern with `{tenant}`, `{site}`, `{device}`. */
  readonly topic?: string;
  /** When batches are sealed. */
  readonly batch?: Omit<BatchOptions, "shouldSeal">;
  /** How messages are grouped into transactions. */
  readonly writeBuffer?: WriteBufferOptions;
  /** Largest accepted payload in bytes. */
  readonly maxPayloadBytes?: number;
  /** Apply pending migrations on start. */
  readonly migrate?: boolean;
  /** Seal the open batch when stopping. */
  readonly sealOnExit?: boolean;
  /** Serve `/metrics`, `/healthz` and `/readyz` (on when `port` is set). */
  readonly metrics?: MetricsFileConfig;
  /**
   * Device signature policy: `"reject"` (the default: a device with a key must sign), `"store"`
   * (store unsigned or badly signed readings with `is_valid` false) or `"off"` (no checks).
   */
  readonly signatures?: SignaturePolicy;
}

/** The `signatures` setting of `veep-bridge run`. */
export type SignaturePolicy = "reject" | "store" | "off";

/** `true` for the values of {@link SignaturePolicy}. */
export function isSignaturePolicy(value: unknown): value is SignaturePolicy {
  return value === "reject" || value === "store" || value === "off";
}

/** The `metrics` key of a config file. */
export interface MetricsFileConfig {
  /** TCP port of the metrics endpoint (0: a free one); unset: no endpoint. */
  readonly port?: number;
  /** Address to bind. @defaultValue `"0.0.0.0"` */
  readonly host?: string;
}

const KEYS: Record<keyof ConfigFile, "string" | "object" | "number" | "boolean"> = {
  databaseUrl: "string",
  postgres: "object",
  mqtt: "object",
  topic: "string",
  batch: "object",
  writeBuffer: "object",
  maxPayloadBytes: "number",
  migrate: "boolean",
  sealOnExit: "boolean",
  metrics: "object",
  signatures: "string",
};

function checkMetrics(path: string, metrics: Record<string, unknown>): void {
  for (const [key, entry] of Object.entries(metrics)) {
    if (key === "port") {
      if (typeof entry !== "number" || !Number.isInteger(entry) || entry < 0 || entry > 65_535) {
        throw invalid(path, `"metrics.port" must be a TCP port (0–65535), got ${JSON.stringify(entry)}`);
      }
    } else if (key === "host") {
      if (typeof entry !== "string" || entry === "") {
        throw invalid(path, `"metrics.host" must be a non-empty string, got ${JSON.stringify(entry)}`);
      }
    } else {
      throw invalid(path, `unknown key "metrics.${key}" (known: port, host)`);
    }
  }
}

function invalid(path: string, message: string): CliError {
  return new CliError(`config file ${path}: ${message}`, EXIT.unavailable);
}

/** Reads and shape-checks a config file; unknown keys and wrong types are errors naming the key. */
export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let value: unknown;
  try {
    value = parseJsonInput(await readTextInput(path), `config file ${path}`);
  } catch (error) {
    throw error instanceof CliError ? new CliError(error.message, EXIT.unavailable) : error;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(path, "expected a JSON object");
  }
  for (const [key, entry] of Object.entries(value)) {
    const expected = KEYS[key as keyof ConfigFile];
    if (!expected) throw invalid(path, `unknown key "${key}" (known: ${Object.keys(KEYS).join(", ")})`);
    const actual = entry === null ? "null" : Array.isArray(entry) ? "array" : typeof entry;
    if (actual !== expected) throw invalid(path, `"${key}" must be a ${expected}, got ${actual}`);
    if (key === "metrics") checkMetrics(path, entry as Record<string, unknown>);
    if (key === "signatures" && !isSignaturePolicy(entry)) {
      throw invalid(path, `"signatures" must be "reject", "store" or "off", got ${JSON.stringify(entry)}`);
    }
  }
  return value as ConfigFile;
}
