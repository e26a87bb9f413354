import { hostname } from "node:os";
import { InvalidOptionError } from "../../errors.js";
import { integerOption } from "../../validation.js";

/** TLS settings of an `mqtts://` (or `wss://`) connection. Contents are passed to Node's `tls.connect`. */
export interface MqttTlsOptions {
  /** Certificate authorities to trust (PEM), instead of the system store. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string | Uint8Array;
  /** Private key of {@link MqttTlsOptions.cert} (PEM). */
  readonly key?: string | Uint8Array;
  /**
   * Refuse a broker whose certificate does not verify.
   * @defaultValue `true`
   */
  readonly rejectUnauthorized?: boolean;
  /** Server name for SNI and certificate checks, when it differs from the URL's host. */
  readonly servername?: string;
}

/** Reconnection delays: the first retry waits `minDelayMs`, each failed attempt doubles it up to `maxDelayMs`. */
export interface MqttReconnectOptions {
  /**
   * Delay before the first reconnection attempt, in milliseconds.
   * @defaultValue `1000`
   */
  readonly minDelayMs?: number;
  /**
   * Longest delay between attempts, in milliseconds.
   * @defaultValue `30000`
   */
  readonly maxDelayMs?: number;
}

/**
 * Options of {@link mqttSource}. Every field is optional; defaults suit a persistent QoS 1 subscription.
 *
 * @example
 * ```ts
 * mqttSource({ url: process.env.MQTT_URL, clientId: "veep-bridge-plant-3", username: "bridge", password });
 * ```
 */
export interface MqttSourceOptions {
  /**
   * Broker URL (`mqtt:`, `mqtts:`, `tcp:`, `ssl:`, `ws:` or `wss:`). The library does not read the
   * environment; the CLI and the tests pass `MQTT_URL` here.
   * @defaultValue `"mqtt://localhost:1883"`
   */
  readonly url?: string;
  /**
   * Subscription filter to use instead of the one the bridge derives from its topic pattern
   * (e.g. `veep/acme/#`). Messages outside the bridge's pattern are dead-lettered by the bridge.
   */
  readonly topic?: string;
  /**
   * MQTT client identifier. A persistent session (`clean: false`) is bound to it: keep it fixed across
   * restarts, and give every bridge process its own (two clients with one id keep disconnecting each other).
   * @defaultValue `"veep-bridge-<hostname>"` (see {@link defaultClientId})
   */
  readonly clientId?: string;
  /**
   * Subscription QoS. `1`: at-least-once, acknowledged after the store's COMMIT. `0`: at-most-once, no
   * acknowledgement (`ack()` is a no-op) and nothing is redelivered. QoS 2 is not offered: de-duplication by
   * message hash already makes QoS 1 effectively exactly-once in the store.
   * @defaultValue `1`
   */
  readonly qos?: 0 | 1;
  /**
   * Start a clean session. `false` keeps a persistent session, so the broker keeps un-acknowledged and
   * queued messages while the bridge is down and redelivers them; `true` loses them.
   * @defaultValue `false`
   */
  readonly clean?: boolean;
  /** User name for the broker. */
  readonly username?: string;
  /** Password for the broker; never logged nor included in errors or status details. */
  readonly password?: string | Uint8Array;
  /** TLS settings for `mqtts://` and `wss://` URLs. */
  readonly tls?: MqttTlsOptions;
  /**
   * Shared-subscription group: subscribe to `$share/<group>/<filter>` so several bridges split the stream.
   * Each bridge still needs its own `clientId`.
   */
  readonly sharedGroup?: string;
  /**
   * MQTT protocol version: `5`, `4` (MQTT 3.1.1), or `"auto"`: MQTT 5, and MQTT 3.1.1 when the broker
   * refuses MQTT 5 at the first connection ("unacceptable/unsupported protocol version", as aedes does).
   * MQTT 5 is preferred because its Receive Maximum lets the broker keep many messages in flight while
   * the bridge commits, which is what lets a backlog drain at the database's speed; on MQTT 3.1.1 the
   * broker's own limit applies (mosquitto `max_inflight_messages`, 20 by default).
   * @defaultValue `"auto"`
   */
  readonly protocolVersion?: 4 | 5 | "auto";
  /**
   * Keepalive interval in seconds (`0` disables it). It keeps working while acknowledgements are held.
   * @defaultValue `30`
   */
  readonly keepaliveSeconds?: number;
  /** Reconnection backoff. */
  readonly reconnect?: MqttReconnectOptions;
  /**
   * How long `start()` waits for the first connection before it rejects, in milliseconds.
   * @defaultValue `30000`
   */
  readonly connectTimeoutMs?: number;
  /**
   * MQTT 5 only: Receive Maximum sent in CONNECT, the number of un-acknowledged QoS 1 messages the broker may
   * have in flight to this client (mosquitto lets it replace its `max_inflight_messages` for MQTT 5
   * clients). Acknowledgements wait for the COMMIT, so this is how much can arrive while a commit runs.
   * @defaultValue `4000` (the bridge's default write-buffer capacity: a larger window would only stall)
   */
  readonly receiveMaximum?: number;
  /**
   * On MQTT 3.1.1: how many un-acknowledged QoS 1 messages the broker delivers at most (its in-flight
   * window), announced to the bridge so it commits as soon as that many wait instead of waiting for its
   * timer. Set it to the broker's limit: mosquitto `max_inflight_messages` (default 20), EMQX `max_inflight`
   * (default 32). On MQTT 5 the window is `receiveMaximum`.
   * @defaultValue `20` (mosquitto's default)
   */
  readonly maxInFlight?: number;
  /**
   * MQTT 5 only: Session Expiry Interval in seconds. MQTT 5 ends a session when the connection closes unless
   * this is set, so with `clean: false` the default keeps the session indefinitely, like MQTT 3.1.1.
   * @defaultValue `4294967295` (never expires) when `clean` is `false`, `0` otherwise
   */
  readonly sessionExpirySeconds?: number;
}

/** {@link MqttSourceOptions} with every default applied; produced by {@link resolveMqttSourceOptions}. */
export interface ResolvedMqttSourceOptions {
  /** Broker URL. */
  readonly url: string;
  /** Subscription filter override, if any. */
  readonly topic: string | undefined;
  /** Client identifier. */
  readonly clientId: string;
  /** Subscription QoS. */
  readonly qos: 0 | 1;
  /** Clean session flag. */
  readonly clean: boolean;
  /** User name. */
  readonly username: string | undefined;
  /** Password. */
  readonly password: string | Uint8Array | undefined;
  /** TLS settings. */
  readonly tls: MqttTlsOptions | undefined;
  /** Shared-subscription group. */
  readonly sharedGroup: string | undefined;
  /** Protocol version, or `"auto"` (5, falling back to 4). */
  readonly protocolVersion: 4 | 5 | "auto";
  /** Keepalive, seconds. */
  readonly keepaliveSeconds: number;
  /** First reconnection delay, ms. */
  readonly reconnectMinDelayMs: number;
  /** Longest reconnection delay, ms. */
  readonly reconnectMaxDelayMs: number;
  /** Initial connection timeout, ms. */
  readonly connectTimeoutMs: number;
  /** MQTT 5 Receive Maximum. */
  readonly receiveMaximum: number;
  /** MQTT 5 Session Expiry Interval, seconds. */
  readonly sessionExpirySeconds: number;
  /** The broker's in-flight window on MQTT 3.1.1. */
  readonly maxInFlight: number;
}

const PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "ws:", "wss:"]);
const SESSION_NEVER_EXPIRES = 0xffff_ffff;

/**
 * The client identifier used when none is given: `veep-bridge-<hostname>`, with characters other than
 * letters, digits, `-` and `_` replaced by `-`. Stable across restarts on one host; two bridges on one host
 * need explicit, distinct ids.
 *
 * @param host - host name to derive from
 * @defaultValue host is `os.hostname()`
 */
export function defaultClientId(host: string = hostname()): string {
  return `veep-bridge-${host.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/**
 * Checks an MQTT subscription filter: non-empty, `#` only as the last whole level, `+` only as a whole level.
 *
 * @param option - option name reported in the error
 * @param filter - the filter to check
 * @throws {@link InvalidOptionError} naming `option`
 */
export function assertTopicFilter(option: string, filter: string): void {
  if (typeof filter !== "string" || filter.length === 0) {
    throw new InvalidOptionError(option, "expected a non-empty MQTT topic filter");
  }
  if (filter.includes("\u0000")) throw new InvalidOptionError(option, "must not contain U+0000");
  const levels = filter.split("/");
  levels.forEach((level, i) => {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw new InvalidOptionError(option, `\`#\` must be the whole last level, in "${filter}"`);
    }
    if (level.includes("+") && level !== "+") {
      throw new InvalidOptionError(option, `\`+\` must be a whole level, in "${filter}"`);
    }
  });
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError("url", `not a URL: "${redactUrl(url)}"`);
  }
  if (!PROTOCOLS.has(parsed.protocol)) {
    throw new InvalidOptionError(
      "url",
      `unsupported protocol "${parsed.protocol}", expected mqtt:, mqtts:, ws: or wss:`,
    );
  }
}

/**
 * A URL safe to log: its password (if any) replaced by `***`.
 *
 * @param url - a broker URL
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/.*@/s, "//***@");
  }
}

/**
 * Applies defaults and validates every option.
 *
 * @param options - what the user passed to {@link mqttSource}
 * @throws {@link InvalidOptionError} naming the first invalid option
 */
export function resolveMqttSourceOptions(options: MqttSourceOptions = {}): ResolvedMqttSourceOptions {
  const url = options.url ?? "mqtt://localhost:1883";
  if (typeof url !== "string") throw new InvalidOptionError("url", "expected a string");
  checkUrl(url);
  if (options.topic !== undefined) assertTopicFilter("topic", options.topic);
  const clientId = options.clientId ?? defaultClientId();
  if (typeof clientId !== "string" || clientId.length === 0 || clientId.length > 65_535) {
    throw new InvalidOptionError("clientId", "expected a non-empty string (a fixed id keeps the session)");
  }
  const qos = options.qos ?? 1;
  if (qos !== 0 && qos !== 1) {
    throw new InvalidOptionError("qos", `expected 0 or 1, got ${String(qos)} (QoS 2 is not supported)`);
  }
  const clean = options.clean ?? false;
  if (typeof clean !== "boolean") throw new InvalidOptionError("clean", "expected a boolean");
  const protocolVersion = options.protocolVersion ?? "auto";
  if (protocolVersion !== 4 && protocolVersion !== 5 && protocolVersion !== "auto") {
    throw new InvalidOptionError(
      "protocolVersion",
      `expected 4 (MQTT 3.1.1), 5 or "auto", got ${String(protocolVersion)}`,
    );
  }
  if ((options as { readonly maxPausedMessages?: unknown }).maxPausedMessages !== undefined) {
    throw new InvalidOptionError(
      "maxPausedMessages",
      "was removed: a paused source no longer disconnects; it stops reading, and the bridge bounds what it " +
        "holds with writeBuffer.capacity and writeBuffer.capacityBytes",
    );
  }
  if (options.password !== undefined && options.username === undefined && protocolVersion !== 5) {
    throw new InvalidOptionError("password", "MQTT 3.1.1 allows a password only with a username");
  }
  if (options.username !== undefined && typeof options.username !== "string") {
    throw new InvalidOptionError("username", "expected a string");
  }
  const group = options.sharedGroup;
  if (group !== undefined && (typeof group !== "string" || group === "" || /[/+#]/.test(group))) {
    throw new InvalidOptionError("sharedGroup", "expected a non-empty name without `/`, `+` or `#`");
  }
  const keepaliveSeconds = integerOption("keepaliveSeconds", options.keepaliveSeconds, 30, {
    min: 0,
    max: 65_535,
  });
  const reconnectMinDelayMs = integerOption("reconnect.minDelayMs", options.reconnect?.minDelayMs, 1000, {
    min: 1,
    max: 3_600_000,
  });
  const reconnectMaxDelayMs = integerOption(
    "reconnect.maxDelayMs",
    options.reconnect?.maxDelayMs,
    Math.max(30_000, reconnectMinDelayMs),
    { min: reconnectMinDelayMs, max: 3_600_000 },
  );
  const connectTimeoutMs = integerOption("connectTimeoutMs", options.connectTimeoutMs, 30_000, {
    min: 1,
    max: 3_600_000,
  });
  if (options.receiveMaximum !== undefined && protocolVersion === 4) {
    throw new InvalidOptionError(
      "receiveMaximum",
      'is an MQTT 5 setting: set protocolVersion to 5 or "auto"',
    );
  }
  const receiveMaximum = integerOption("receiveMaximum", options.receiveMaximum, 4000, {
    min: 1,
    max: 65_535,
  });
  if (options.sessionExpirySeconds !== undefined && protocolVersion === 4) {
    throw new InvalidOptionError(
      "sessionExpirySeconds",
      'is an MQTT 5 setting: set protocolVersion to 5 or "auto"',
    );
  }
  const sessionExpirySeconds = integerOption(
    "sessionExpirySeconds",
    options.sessionExpirySeconds,
    clean ? 0 : SESSION_NEVER_EXPIRES,
    { min: 0, max: SESSION_NEVER_EXPIRES },
  );
  const maxInFlight = integerOption("maxInFlight", options.maxInFlight, 20, { min: 1, max: 65_535 });
  const tls = options.tls;
  if (tls?.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== "boolean") {
    throw new InvalidOptionError("tls.rejectUnauthorized", "expected a boolean");
  }
  return {
    url,
    topic: options.topic,
    clientId,
    qos,
    clean,
    username: options.username,
    password: options.password,
    tls,
    sharedGroup: group,
    protocolVersion,
    keepaliveSeconds,
    reconnectMinDelayMs,
    reconnectMaxDelayMs,
    connectTimeoutMs,
    receiveMaximum,
    sessionExpirySeconds,
    maxInFlight,
  };
}
