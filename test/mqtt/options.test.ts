import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/errors.js";
import { defaultClientId, type MqttSourceOptions, mqttSource } from "../../src/sources/mqtt/index.js";

function rejected(options: MqttSourceOptions): string | undefined {
  try {
    mqttSource(options);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).option;
  }
}

describe("mqttSource options", () => {
  it("applies documented defaults: persistent QoS 1 session under a stable client id, MQTT 5 window 4000", () => {
    const source = mqttSource();
    expect(source.name).toBe("mqtt");
    expect(source.clientId).toBe(defaultClientId());
    expect(source.clientId).toMatch(/^veep-bridge-[A-Za-z0-9_-]+$/);
    expect(source.protocolVersion).toBeUndefined();
    expect(source.maxInFlight).toBe(4000);
    expect(mqttSource({ protocolVersion: 5, receiveMaximum: 50 }).maxInFlight).toBe(50);
    expect(mqttSource({ protocolVersion: 4 }).maxInFlight).toBe(20);
    expect(mqttSource({ protocolVersion: 4, maxInFlight: 32 }).maxInFlight).toBe(32);
  });

  it("derives the default client id from the host name, sanitised", () => {
    expect(defaultClientId("edge.plant-3 (a)")).toBe("veep-bridge-edge-plant-3--a-");
  });

  it.each<[string, MqttSourceOptions]>([
    ["url", { url: "http://broker" }],
    ["url", { url: "not a url" }],
    ["topic", { topic: "veep/#/x" }],
    ["topic", { topic: "veep/a+/x" }],
    ["topic", { topic: "" }],
    ["clientId", { clientId: "" }],
    ["qos", { qos: 2 as 1 }],
    ["clean", { clean: "no" as unknown as boolean }],
    ["protocolVersion", { protocolVersion: 3 as 4 }],
    ["password", { password: "secret" }],
    ["sharedGroup", { sharedGroup: "a/b" }],
    ["keepaliveSeconds", { keepaliveSeconds: -1 }],
    ["keepaliveSeconds", { keepaliveSeconds: 1.5 }],
    ["reconnect.minDelayMs", { reconnect: { minDelayMs: 0 } }],
    ["reconnect.maxDelayMs", { reconnect: { minDelayMs: 5000, maxDelayMs: 1000 } }],
    ["connectTimeoutMs", { connectTimeoutMs: 0 }],
    ["receiveMaximum", { protocolVersion: 4, receiveMaximum: 10 }],
    ["receiveMaximum", { protocolVersion: 5, receiveMaximum: 0 }],
    ["sessionExpirySeconds", { protocolVersion: 4, sessionExpirySeconds: 60 }],
    ["maxInFlight", { maxInFlight: 0 }],
    ["maxPausedMessages", { maxPausedMessages: 10 } as MqttSourceOptions],
    ["tls.rejectUnauthorized", { tls: { rejectUnauthorized: "yes" as unknown as boolean } }],
  ])("rejects an invalid `%s` with an error naming it", (option, options) => {
    expect(rejected(options)).toBe(option);
  });

  it("never puts the password in an error message", () => {
    try {
      mqttSource({ url: "ftp://bridge:s3cret@broker" });
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("s3cret");
    }
  });

  it("accepts a full configuration", () => {
    expect(
      rejected({
        url: "mqtts://broker.example:8883",
        topic: "veep/acme/+/+/data",
        clientId: "bridge-1",
        qos: 1,
        clean: false,
        username: "bridge",
        password: "secret",
        tls: { ca: "-----BEGIN CERTIFICATE-----", rejectUnauthorized: true },
        sharedGroup: "bridges",
        protocolVersion: 5,
        keepaliveSeconds: 10,
        reconnect: { minDelayMs: 500, maxDelayMs: 60_000 },
        receiveMaximum: 32,
        sessionExpirySeconds: 86_400,
      }),
    ).toBeUndefined();
  });
});
