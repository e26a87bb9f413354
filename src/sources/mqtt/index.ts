/**
 * `veep-bridge/mqtt`: the MQTT source (the only part of veep-bridge that imports `mqtt`).
 *
 * @packageDocumentation
 */
export { type MqttSource, mqttSource } from "./mqtt-source.js";
export {
  defaultClientId,
  type MqttReconnectOptions,
  type MqttSourceOptions,
  type MqttTlsOptions,
} from "./options.js";
export { connectMqttPublisher, type MqttPublisher, type MqttPublisherOptions } from "./publisher.js";
