import type { IClientOptions } from "mqtt";
import type { ResolvedMqttSourceOptions } from "./options.js";

function toBuffer(value: string | Uint8Array): Buffer {
  return typeof value === "string"
    ? Buffer.from(value, "utf8")
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function isList(
  value: string | Uint8Array | ReadonlyArray<string | Uint8Array>,
): value is ReadonlyArray<string | Uint8Array> {
  return Array.isArray(value);
}

/**
 * Maps resolved source options onto MQTT.js client options for one protocol version (manual connect, so
 * the PUBACK interceptor is installed before the first packet).
 *
 * @param options - validated options
 * @param protocolVersion - the version to connect with
 */
export function toClientOptions(options: ResolvedMqttSourceOptions, protocolVersion: 4 | 5): IClientOptions {
  const client: IClientOptions = {
    clientId: options.clientId,
    clean: options.clean,
    protocolVersion,
    keepalive: options.keepaliveSeconds,
    reconnectPeriod: options.reconnectMinDelayMs,
    connectTimeout: options.connectTimeoutMs,
    resubscribe: true,
    manualConnect: true,
    // Never queue our own outgoing packets while offline: a PUBACK of a dropped connection is void.
    queueQoSZero: false,
  };
  if (options.username !== undefined) client.username = options.username;
  if (options.password !== undefined) client.password = toBuffer(options.password);
  const tls = options.tls;
  if (tls !== undefined) {
    if (tls.ca !== undefined) {
      const ca = tls.ca;
      client.ca = isList(ca) ? ca.map(toBuffer) : toBuffer(ca);
    }
    if (tls.cert !== undefined) client.cert = toBuffer(tls.cert);
    if (tls.key !== undefined) client.key = toBuffer(tls.key);
    client.rejectUnauthorized = tls.rejectUnauthorized ?? true;
    if (tls.servername !== undefined) client.servername = tls.servername;
  }
  if (protocolVersion === 5) {
    // No topicAliasMaximum: the broker then never aliases topics to us, so every PUBLISH carries its topic.
    client.properties = {
      sessionExpiryInterval: options.sessionExpirySeconds,
      receiveMaximum: options.receiveMaximum,
    };
  }
  return client;
}
