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
};

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
  }
  return value as ConfigFile;
}
