import { connectAsync } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceError } from "../../src/errors.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import type { SourceStatus } from "../../src/sources/source.js";
import { cleanEnv, runCli } from "../cli/support/process.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  type AuthMosquitto,
  type DynamicSecurityMosquitto,
  hasDynamicSecurity,
  hasMosquitto,
  startMosquittoWithAuth,
  startMosquittoWithSubscribeAcl,
} from "./support/brokers.js";
import { collector, uniqueId } from "./support/collect.js";

const BRIDGE_PASSWORD = "bridge-pw-4f1c9e";
const DEVICE_PASSWORD = "device-pw-8a27d3";

const errorsOf = (statuses: readonly SourceStatus[]): Error[] =>
  statuses.flatMap((s) => (s.state === "error" && s.error ? [s.error] : []));

describe.skipIf(!hasMosquitto("the MQTT authentication tests"))(
  "MQTT user name, password and ACL on a mosquitto of our own",
  () => {
    let broker: AuthMosquitto | undefined;

    beforeAll(async () => {
      broker = await startMosquittoWithAuth({ bridge: BRIDGE_PASSWORD, device: DEVICE_PASSWORD }, [
        "user bridge",
        "topic read vbauth/allowed/#",
        "user device",
        "topic write vbauth/#",
        "user rotating4",
        "topic read vbauth/allowed/#",
        "user rotating5",
        "topic read vbauth/allowed/#",
      ]);
    });

    afterAll(async () => {
      await broker?.stop();
    });

    async function publish(topic: string, payload: string, protocolVersion: 4 | 5): Promise<void> {
      const client = await connectAsync(broker!.url, {
        clientId: uniqueId("device"),
        username: "device",
        password: DEVICE_PASSWORD,
        protocolVersion,
        reconnectPeriod: 0,
      });
      try {
        await client.publishAsync(topic, payload, { qos: 1 });
      } finally {
        await client.endAsync();
      }
    }

    describe.each([4, 5] as const)("MQTT protocol %s", (protocolVersion) => {
      const source = (options: { username?: string; password?: string }) =>
        mqttSource({
          url: broker!.url,
          clientId: uniqueId(`vb-auth-${protocolVersion}`),
          clean: true,
          protocolVersion,
          connectTimeoutMs: 10_000,
          reconnect: { minDelayMs: 100, maxDelayMs: 400 },
          ...options,
        });

      it("with the right user name and password, it subscribes within the ACL and receives", async () => {
        const topic = `vbauth/allowed/${uniqueId()}/d/data`;
        const bridge = source({ username: "bridge", password: BRIDGE_PASSWORD });
        const seen = collector();
        await bridge.start({ topicFilter: "vbauth/allowed/#", handlers: seen.handlers });
        try {
          expect(bridge.protocolVersion).toBe(protocolVersion);
          await publish(topic, '{"auth":true}', protocolVersion);
          await seen.waitForMessages(1);
          expect(seen.texts()).toEqual(['{"auth":true}']);
          seen.messages[0]!.ack();
        } finally {
          await bridge.stop();
        }
      });

      it.each([
        ["a wrong password", { username: "bridge", password: "not-the-password" }],
        ["an unknown user", { username: "nobody", password: BRIDGE_PASSWORD }],
        ["no credentials (anonymous is not allowed)", {}],
      ])("%s: start() rejects at once with NOT_AUTHORIZED, without the password", async (_, credentials) => {
        const refused = source(credentials);
        const seen = collector();
        const begun = Date.now();
        const started = refused.start({ topicFilter: "vbauth/allowed/#", handlers: seen.handlers });
        await expect(started).rejects.toBeInstanceOf(SourceError);
        const error = (await started.catch((e: unknown) => e)) as SourceError;
        expect(error.code).toBe("NOT_AUTHORIZED");
        expect(error.message).toMatch(
          /The broker refused the connection: Connection refused: (Not authorized|Bad username or password)/i,
        );
        expect(
          Date.now() - begun,
          "a refusal is final for start(), not retried until the timeout",
        ).toBeLessThan(3000);
        const everything = [error.message, ...errorsOf(seen.statuses).map((e) => e.message)].join("\n");
        for (const secret of [BRIDGE_PASSWORD, "not-the-password"]) expect(everything).not.toContain(secret);
        expect(errorsOf(seen.statuses).map((e) => (e as SourceError).code)).toContain("NOT_AUTHORIZED");
      });

      it("credentials refused on a reconnection are retried with backoff, each refusal reported", async () => {
        const user = `rotating${protocolVersion}`;
        await broker!.setPassword(user, "first-password");
        const running = source({ username: user, password: "first-password" });
        const seen = collector();
        await running.start({ topicFilter: "vbauth/allowed/#", handlers: seen.handlers });
        try {
          await broker!.setPassword(user, "second-password");
          await broker!.kill("SIGTERM");
          await broker!.restart();
          const deadline = Date.now() + 10_000;
          while (
            errorsOf(seen.statuses).filter((e) => (e as SourceError).code === "NOT_AUTHORIZED").length < 3
          ) {
            if (Date.now() > deadline)
              throw new Error(`no repeated refusals: ${JSON.stringify(seen.statuses)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
          expect(seen.statuses.filter((s) => s.state === "reconnecting").length).toBeGreaterThanOrEqual(3);
          const onlineBefore = seen.statuses.length;
          await broker!.setPassword(user, "first-password");
          await seen.waitForStatus("online", onlineBefore, 10_000);
          const topic = `vbauth/allowed/${uniqueId()}/d/data`;
          await publish(topic, '{"back":true}', protocolVersion);
          await seen.waitForMessages(1);
          expect(seen.texts()).toEqual(['{"back":true}']);
          seen.messages[0]!.ack();
        } finally {
          await running.stop();
        }
      });
    });

    describe("veep-bridge run", () => {
      let db: TestDatabase;

      beforeAll(async () => {
        db = await createTestDatabase("vb_mqtt_auth");
      });

      afterAll(async () => {
        await db?.drop();
      });

      const env = (extra: Record<string, string>) =>
        cleanEnv({ DATABASE_URL: db.url, MQTT_URL: broker!.url, MQTT_USERNAME: "bridge", ...extra });

      it("exits 3 when the broker refuses the credentials", async () => {
        const result = await runCli(
          ["run", "--topic", "vbauth/allowed/{tenant}/{site}/{device}"],
          env({ MQTT_PASSWORD: "wrong" }),
        );
        expect(result.code, result.stderr).toBe(3);
        expect(result.stderr).toMatch(
          /the MQTT broker at 127\.0\.0\.1:\d+ refused the credentials \(.*\) — check MQTT_USERNAME and MQTT_PASSWORD/,
        );
      });
    });
  },
);

describe.skipIf(!hasDynamicSecurity("the MQTT subscription ACL tests"))(
  "a subscription the broker's ACL denies (mosquitto with dynamic security)",
  () => {
    let broker: DynamicSecurityMosquitto | undefined;
    let db: TestDatabase | undefined;

    beforeAll(async () => {
      broker = await startMosquittoWithSubscribeAcl("bridge", BRIDGE_PASSWORD, "vbauth/allowed/#");
      db = await createTestDatabase("vb_mqtt_acl");
    });

    afterAll(async () => {
      await broker?.stop();
      await db?.drop();
    });

    it.each([
      [4, "0x80"],
      [5, "0x87"],
    ] as const)(
      "MQTT %s: start() fails with SUBSCRIPTION_REFUSED naming the SUBACK code %s",
      async (protocolVersion, code) => {
        const source = mqttSource({
          url: broker!.url,
          clientId: uniqueId(`vb-acl-${protocolVersion}`),
          clean: true,
          protocolVersion,
          username: "bridge",
          password: BRIDGE_PASSWORD,
        });
        const started = source.start({ topicFilter: "vbauth/denied/#", handlers: collector().handlers });
        const error = (await started.catch((e: unknown) => e)) as SourceError;
        expect(error).toBeInstanceOf(SourceError);
        expect(error.code).toBe("SUBSCRIPTION_REFUSED");
        expect(error.message).toBe(
          `The broker refused the subscription to "vbauth/denied/#" (SUBACK code ${code}); check its ACL for this user.`,
        );
        const allowed = mqttSource({
          url: broker!.url,
          clientId: uniqueId(`vb-acl-${protocolVersion}`),
          clean: true,
          protocolVersion,
          username: "bridge",
          password: BRIDGE_PASSWORD,
        });
        await allowed.start({ topicFilter: "vbauth/allowed/#", handlers: collector().handlers });
        await allowed.stop();
      },
    );

    it.each([4, 5] as const)(
      "MQTT %s: a subscription refused when MQTT.js renews it after a reconnection is reported",
      async (protocolVersion) => {
        const source = mqttSource({
          url: broker!.url,
          clientId: uniqueId(`vb-acl-re-${protocolVersion}`),
          clean: true,
          protocolVersion,
          username: "bridge",
          password: BRIDGE_PASSWORD,
          reconnect: { minDelayMs: 100, maxDelayMs: 400 },
        });
        const seen = collector();
        await source.start({ topicFilter: "vbauth/allowed/#", handlers: seen.handlers });
        const acl = ["subscriber", "subscribePattern", "vbauth/allowed/#"];
        try {
          broker!.dynsec("removeRoleACL", ...acl);
          await broker!.kill("SIGTERM");
          await broker!.restart();
          const deadline = Date.now() + 10_000;
          const refused = (): SourceError | undefined =>
            errorsOf(seen.statuses).find(
              (e): e is SourceError => e instanceof SourceError && e.code === "SUBSCRIPTION_REFUSED",
            );
          while (refused() === undefined) {
            if (Date.now() > deadline) throw new Error(`not reported: ${JSON.stringify(seen.statuses)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
          expect(refused()!.message).toBe(
            `The broker refused the subscription to "vbauth/allowed/#" (SUBACK code ${protocolVersion === 4 ? "0x80" : "0x87"}); check its ACL for this user.`,
          );
        } finally {
          broker!.dynsec("addRoleACL", ...acl, "allow", "5");
          await source.stop();
        }
      },
    );

    it("veep-bridge run exits 3 saying the broker refused the subscription", async () => {
      const result = await runCli(
        ["run", "--topic", "vbauth/denied/{tenant}/{site}/{device}"],
        cleanEnv({
          DATABASE_URL: db!.url,
          MQTT_URL: broker!.url,
          MQTT_USERNAME: "bridge",
          MQTT_PASSWORD: BRIDGE_PASSWORD,
        }),
      );
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(
        /the MQTT broker at 127\.0\.0\.1:\d+ refused the subscription: .*"vbauth\/denied\/\+\/\+\/\+".*check its ACL/,
      );
    });
  },
);
