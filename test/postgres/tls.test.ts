import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBridge, InvalidOptionError, StoreError } from "../../src/index.js";
import { memorySource } from "../../src/memory.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { seedPayload } from "../../src/testing/index.js";
import { cleanEnv, runCli } from "../cli/support/process.js";
import { makeCertificates, type TestCertificates } from "../support/certificates.js";
import { type OwnPostgres, startOwnPostgres } from "../support/own-postgres.js";

const PASSWORD = "postgres";

/**
 * A cluster of our own that serves TLS with a throw-away CA and, through `pg_hba.conf`, accepts
 * nothing but TLS connections: whatever connects to it did so over TLS.
 */
describe("PostgreSQL over TLS (a cluster of our own, ssl = on, hostssl only)", () => {
  let dir: string;
  let certs: TestCertificates;
  let cluster: OwnPostgres | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-pg-tls-"));
    certs = await makeCertificates(dir);
    cluster = await startOwnPostgres({
      authMethod: "scram-sha-256",
      tls: { cert: certs.cert, key: certs.key },
      hba: [
        "local all all trust",
        "hostssl all all 127.0.0.1/32 scram-sha-256",
        "hostssl all all ::1/128 scram-sha-256",
        "hostnossl all all all reject",
      ],
    });
  });

  afterAll(async () => {
    await cluster?.dispose();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A connection string to `database` as the superuser, with `query` (TLS parameters) appended. */
  function url(database: string, query = ""): string {
    return `postgres://postgres:${PASSWORD}@127.0.0.1:${cluster!.port}/${database}${query}`;
  }

  const verifyFull = (caFile: string): string => `?sslmode=verify-full&sslrootcert=${caFile}`;

  async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: url("postgres", verifyFull(certs.caFile)) });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** A new database of the test's own on the cluster. */
  async function createDatabase(): Promise<string> {
    const name = `vb_tls_${randomBytes(5).toString("hex")}`;
    await admin((client) => client.query(`CREATE DATABASE "${name}"`));
    return name;
  }

  async function dropDatabase(name: string): Promise<void> {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }

  /** Runs a bridge on `store`, stores three readings and seals them; returns the sealed batch's size. */
  async function storeThree(store: ReturnType<typeof postgresStore>): Promise<number> {
    const source = memorySource();
    const bridge = createBridge({ source, store });
    bridge.on("error", () => undefined);
    await bridge.start();
    try {
      for (let i = 0; i < 3; i++) {
        source.publish("veep/tls/line1/SENSOR_001/data", seedPayload("SENSOR_001", i));
      }
      await source.whenAllAcknowledged();
      const sealed = await bridge.flush();
      return sealed?.messageCount ?? 0;
    } finally {
      await bridge.stop();
    }
  }

  it("a connection without TLS is refused by the cluster (so the tests below did use TLS)", async () => {
    const database = await createDatabase();
    try {
      const store = postgresStore({ connectionString: url(database), migrate: false });
      await expect(store.open()).rejects.toThrow(/no encryption/);
      await store.close();
    } finally {
      await dropDatabase(database);
    }
  });

  it("veep-bridge migrate without TLS parameters exits 3 saying the server wants TLS", async () => {
    const result = await runCli(["migrate"], cleanEnv({ DATABASE_URL: url("postgres") }));
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(
      /PostgreSQL at 127\.0\.0\.1:\d+ accepts only TLS connections here — add sslmode=verify-full&sslrootcert=FILE/,
    );
  });

  it("DATABASE_URL style: sslmode=verify-full&sslrootcert=CA in the connection string", async () => {
    const database = await createDatabase();
    try {
      const store = postgresStore({ connectionString: url(database, verifyFull(certs.caFile)) });
      expect(await storeThree(store)).toBe(3);
      const check = postgresStore({ connectionString: url(database, verifyFull(certs.caFile)) });
      await check.open();
      const report = await check.verifyAll();
      const connections = await admin(
        async (client) =>
          (
            await client.query<{ ssl: boolean; version: string }>(
              "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1",
              [database],
            )
          ).rows,
      );
      await check.close();
      expect(connections.length, "the store's pooled connection is open").toBeGreaterThan(0);
      for (const connection of connections) {
        expect(connection.ssl).toBe(true);
        expect(connection.version).toMatch(/^TLSv1\.[23]$/);
      }
      expect(report.ok).toBe(true);
      expect(report.messages).toBe(3);
    } finally {
      await dropDatabase(database);
    }
  });

  it("the ssl option: { ca } with discrete connection fields, verifying the server's name", async () => {
    const database = await createDatabase();
    try {
      const store = postgresStore({
        host: "127.0.0.1",
        port: cluster!.port,
        database,
        user: "postgres",
        password: PASSWORD,
        ssl: { ca: certs.ca },
      });
      expect(await storeThree(store)).toBe(3);
    } finally {
      await dropDatabase(database);
    }
  });

  it("the ssl option with a connection string that carries no TLS parameters", async () => {
    const database = await createDatabase();
    try {
      const store = postgresStore({ connectionString: url(database), ssl: { ca: certs.ca } });
      expect(await storeThree(store)).toBe(3);
    } finally {
      await dropDatabase(database);
    }
  });

  it.each([
    [
      "sslrootcert= naming another CA",
      () => ({ connectionString: url("postgres", verifyFull(certs.wrongCaFile)) }),
    ],
    [
      "ssl: { ca } with another CA",
      () => ({ connectionString: url("postgres"), ssl: { ca: certs.wrongCa } }),
    ],
    ["ssl: true (the system's CAs)", () => ({ connectionString: url("postgres"), ssl: true })],
  ])("a certificate the client does not trust (%s) fails start() at once, saying so", async (_, options) => {
    const source = memorySource();
    const bridge = createBridge({
      source,
      store: postgresStore({ ...options(), connectionTimeoutMillis: 10_000 }),
    });
    const retries: unknown[] = [];
    bridge.on("retry", (event) => retries.push(event));
    bridge.on("error", () => undefined);
    const begun = Date.now();
    const started = bridge.start();
    await expect(started).rejects.toBeInstanceOf(StoreError);
    await expect(started).rejects.toThrow(/TLS certificate was not accepted \([A-Z_]+: .+\).*sslrootcert/);
    expect(Date.now() - begun, "a certificate error is final, not retried").toBeLessThan(5000);
    expect(retries).toEqual([]);
    expect(bridge.state).toBe("stopped");
  });

  it("the ssl option next to TLS parameters in the connection string is refused, not silently replaced", () => {
    expect(() =>
      postgresStore({ connectionString: url("postgres", verifyFull(certs.caFile)), ssl: { ca: certs.ca } }),
    ).toThrow(/Invalid option `ssl`: the connection string sets TLS too \(sslmode, sslrootcert\)/);
    expect(() =>
      postgresStore({ connectionString: url("postgres", "?sslmode=verify-full"), ssl: { ca: certs.ca } }),
    ).toThrow(InvalidOptionError);
  });

  it("a server name the certificate does not cover fails under verify-full", async () => {
    const store = postgresStore({
      connectionString: url("postgres"),
      ssl: { ca: certs.ca, servername: "db.example.invalid" },
    });
    await expect(store.open()).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID/);
    await store.close();
  });

  it("veep-bridge migrate and verify connect with sslmode=verify-full in DATABASE_URL", async () => {
    const database = await createDatabase();
    try {
      const env = { DATABASE_URL: url(database, verifyFull(certs.caFile)) };
      const migrated = await runCli(["migrate"], cleanEnv(env));
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(migrated.stdout).toMatch(/applied 001_initial_schema\.sql/);
      const verified = await runCli(["verify"], cleanEnv(env));
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/verified 0 batch\(es\)/);
    } finally {
      await dropDatabase(database);
    }
  });

  it("veep-bridge run --config: postgres.ssl.ca reaches the store (it migrates over TLS; another CA exits 3)", async () => {
    const database = await createDatabase();
    try {
      const runWith = async (ca: string) => {
        const config = join(dir, `run-${randomBytes(4).toString("hex")}.json`);
        await writeFile(config, JSON.stringify({ databaseUrl: url(database), postgres: { ssl: { ca } } }));
        return runCli(
          ["run", "--config", config, "--mqtt-url", "mqtt://127.0.0.1:1", "--connect-timeout", "1s"],
          cleanEnv(),
        );
      };
      const wrong = await runWith(certs.wrongCa);
      expect(wrong.code, wrong.stderr).toBe(3);
      expect(wrong.stderr).toMatch(/presented a TLS certificate that is not trusted/);
      const right = await runWith(certs.ca);
      expect(right.code, right.stderr).toBe(3);
      expect(right.stderr, "past the database, the broker is what is missing").toMatch(
        /cannot reach the MQTT broker/,
      );
      const client = new pg.Client({ connectionString: url(database, verifyFull(certs.caFile)) });
      await client.connect();
      const applied = await client
        .query<{ n: number }>("SELECT count(*)::int AS n FROM veep_bridge_migrations")
        .finally(() => client.end());
      expect(applied.rows[0]?.n).toBeGreaterThan(0);
    } finally {
      await dropDatabase(database);
    }
  });

  it("veep-bridge migrate --create-database creates the database over TLS", async () => {
    const database = `vb_tls_${randomBytes(5).toString("hex")}`;
    try {
      const env = cleanEnv({ DATABASE_URL: url(database, verifyFull(certs.caFile)) });
      const created = await runCli(["migrate", "--create-database"], env);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain(`created database "${database}"`);
    } finally {
      await dropDatabase(database);
    }
  });

  it.each([
    ["migrate", []],
    ["verify", []],
    ["run", ["--mqtt-url", "mqtt://127.0.0.1:1", "--connect-timeout", "1s"]],
  ])(
    "veep-bridge %s with another CA in sslrootcert= exits 3 at once with a clear message",
    async (command, extra) => {
      const env = cleanEnv({ DATABASE_URL: url("postgres", verifyFull(certs.wrongCaFile)) });
      const begun = Date.now();
      const result = await runCli([command, ...extra], env);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(
        new RegExp(
          `PostgreSQL at 127\\.0\\.0\\.1:${cluster!.port} presented a TLS certificate that is not trusted \\([A-Z_]+\\) — .*sslrootcert`,
        ),
      );
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(Date.now() - begun).toBeLessThan(20_000);
    },
  );
});

describe("TLS asked of a PostgreSQL without it", () => {
  let cluster: OwnPostgres | undefined;

  beforeAll(async () => {
    cluster = await startOwnPostgres();
  });

  afterAll(async () => {
    await cluster?.dispose();
  });

  it("sslmode=require: start() fails at once and the CLI exits 3 saying the server does not offer TLS", async () => {
    const connectionString = `${cluster!.url}?sslmode=require`;
    const store = postgresStore({ connectionString, migrate: false });
    await expect(store.open()).rejects.toThrow(/does not support SSL connections; enable ssl on the server/);
    await store.close();
    const result = await runCli(["migrate"], cleanEnv({ DATABASE_URL: connectionString }));
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+ does not offer TLS — /);
  });
});
