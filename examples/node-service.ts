/**
 * Embedding veep-bridge in a plain Node service: the bridge, a health check and metrics over HTTP,
 * and a graceful shutdown on SIGINT/SIGTERM.
 *
 *   DATABASE_URL=postgres://… MQTT_URL=mqtt://… PORT=8080 npx tsx examples/node-service.ts
 *   curl localhost:8080/healthz   # 200 when the bridge runs and the broker is connected
 *   curl localhost:8080/metrics   # Prometheus text format (veep-bridge/metrics, see metrics.ts)
 *
 * `veep-bridge run --metrics-port` serves the same endpoints without writing a service.
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { type Bridge, createBridge } from "veep-bridge";
import { bridgeMetrics } from "veep-bridge/metrics";
import { mqttSource } from "veep-bridge/mqtt";
import { postgresStore } from "veep-bridge/postgres";

/** What the service needs to run. */
export interface ServiceConfig {
  /** PostgreSQL URL. */
  readonly databaseUrl: string | undefined;
  /** Broker URL. */
  readonly mqttUrl: string;
  /** Fixed MQTT client id (the broker keeps this client's session). */
  readonly clientId: string;
  /** HTTP port (0 picks a free one). */
  readonly port: number;
}

/** A running service. */
export interface Service {
  /** The bridge, to add your own listeners. */
  readonly bridge: Bridge;
  /** Port the HTTP server listens on. */
  readonly port: number;
  /** Stops accepting HTTP requests, drains the bridge, closes everything. */
  stop(): Promise<void>;
}

/** Starts the bridge and the HTTP endpoints. */
export async function startService(config: ServiceConfig): Promise<Service> {
  const bridge = createBridge({
    source: mqttSource({ url: config.mqttUrl, clientId: config.clientId }),
    store: postgresStore({ connectionString: config.databaseUrl }),
  });
  const registry = new Registry();
  const metrics = bridgeMetrics(bridge, { registry });
  let brokerOnline = false;
  bridge.on("source", (s) => {
    brokerOnline = s.state === "online";
  });
  bridge.on("error", (e) => console.error(`[veep-bridge] ${e.code}: ${e.message}`));
  bridge.on("batch:sealed", (b) =>
    console.log(`[veep-bridge] sealed ${b.batchId} (${b.messageCount} readings)`),
  );

  await bridge.start();
  const server: Server = createServer(async (request, response) => {
    if (request.url === "/healthz") {
      const healthy = bridge.state === "running" && brokerOnline;
      response.writeHead(healthy ? 200 : 503, { "content-type": "application/json" });
      response.end(JSON.stringify({ state: bridge.state, brokerOnline, ...bridge.stats() }));
    } else if (request.url === "/metrics") {
      const text = await registry.metrics();
      response.writeHead(200, { "content-type": registry.contentType });
      response.end(text);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(config.port, "127.0.0.1", resolve));
  return {
    bridge,
    port: (server.address() as AddressInfo).port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await bridge.stop({ drain: true });
      metrics.dispose();
    },
  };
}

async function main(): Promise<void> {
  const service = await startService({
    databaseUrl: process.env.DATABASE_URL,
    mqttUrl: process.env.MQTT_URL ?? "mqtt://localhost:1883",
    clientId: process.env.MQTT_CLIENT_ID ?? "veep-bridge-service-1",
    port: Number(process.env.PORT ?? 8080),
  });
  console.log(`listening on http://127.0.0.1:${service.port}`);
  const shutdown = (): void => {
    void service.stop().then(() => console.log("stopped"));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
