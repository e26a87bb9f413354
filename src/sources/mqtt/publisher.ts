import { connectAsync, type MqttClient } from "mqtt";

/** Options of {@link connectMqttPublisher}. */
export interface MqttPublisherOptions {
  /**
   * Client identifier.
   * @defaultValue `veep-bridge-publisher-<pid>`
   */
  readonly clientId?: string;
  /** User name, if the broker needs one. */
  readonly username?: string;
  /** Password, if the broker needs one (never logged). */
  readonly password?: string;
}

/** A minimal MQTT publisher, for device simulators, demos and tests. */
export interface MqttPublisher {
  /** Publishes one message; with QoS 1 it resolves once the broker acknowledged it (PUBACK). */
  publish(topic: string, payload: string | Uint8Array, qos?: 0 | 1): Promise<void>;
  /** Disconnects; idempotent. */
  close(): Promise<void>;
}

/**
 * Connects a publisher (clean session, reconnecting every 500 ms while the broker is away).
 *
 * @example
 * ```ts
 * const devices = await connectMqttPublisher("mqtt://localhost:1883");
 * await devices.publish("veep/factory1/line2/SENSOR_001/data", JSON.stringify({ deviceId: "SENSOR_001", kwh: 1.5 }));
 * await devices.close();
 * ```
 */
export async function connectMqttPublisher(
  url: string,
  options: MqttPublisherOptions = {},
): Promise<MqttPublisher> {
  const client: MqttClient = await connectAsync(url, {
    clientId: options.clientId ?? `veep-bridge-publisher-${process.pid}`,
    clean: true,
    reconnectPeriod: 500,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    async publish(topic, payload, qos = 1) {
      await client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos });
    },
    close() {
      closing ??= client.endAsync();
      return closing;
    },
  };
}
