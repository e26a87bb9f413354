import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { createKeyPairSignerFromBytes, lamports } from "@solana/kit";
import { connectAsync } from "mqtt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OpenBatch } from "../../src/adapter.js";
import { createBridge } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import {
  type AuthMosquitto,
  freePort,
  hasMosquitto,
  startMosquittoWithAuth,
} from "../mqtt/support/brokers.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type LiteSvmRpc, startLiteSvmRpc } from "../support/litesvm-rpc.js";
import { type OwnPostgres, startOwnPostgres } from "../support/own-postgres.js";
import { forgetSession } from "./support/mqtt-session.js";
import { type CliResult, cleanEnv, runCli, start, TSX } from "./support/process.js";

const hex = (): string => randomBytes(6).toString("hex");

/** The database role's password, and one the CLI is given by mistake. */
const DB_PASSWORD = `dbS3cret-${hex()}`;
const WRONG_DB_PASSWORD = `dbWr0ng-${hex()}`;
/** The broker user's password (with a `/`, which makes a URL holding it unparsable), and a wrong one. */
const BROKER_PASSWORD = `mqS3cret/${hex()}`;
const WRONG_BROKER_PASSWORD = `mqWr0ng-${hex()}`;
const DEVICE_PASSWORD = `dev-${hex()}`;

/** The Solana fee payer's key (secret half, then public half, as in a Solana CLI keypair file) and its file. */
const KEY = (() => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const d = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const x = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return { secret: d, json: JSON.stringify([...d, ...x]) };
})();
const KEY_DIR = join(tmpdir(), `vbkey-${hex()}`);
const KEY_PATH = join(KEY_DIR, `payer-${hex()}.json`);

/**
 * Every secret these runs hand the CLI. None may appear in what it prints or emits, in any form a URL
 * gives it; the Solana fee payer's keypair file path and the key's bytes (as JSON, hex, base64) too.
 */
const secrets: readonly string[] = [
  DB_PASSWORD,
  WRONG_DB_PASSWORD,
  BROKER_PASSWORD,
  WRONG_BROKER_PASSWORD,
  KEY_PATH,
  KEY.json,
  KEY.secret.toString("hex"),
  KEY.secret.toString("base64"),
  KEY.secret.toString("base64url"),
];

/** A secret as given and as a URL carries it, and every 8 characters of it: a leaked part counts. */
function forms(secret: string): string[] {
  const whole = [secret, encodeURIComponent(secret)];
  const parts = whole.flatMap((form) =>
    Array.from({ length: Math.max(0, form.length - 7) }, (_, i) => form.slice(i, i + 8)),
  );
  return [...new Set([...whole, ...parts])];
}

/** Fails naming where (part of) a secret appeared. */
function expectNoSecret(what: string, text: string): void {
  for (const secret of secrets) {
    const leaked = forms(secret).filter((form) => text.includes(form));
    expect(leaked, `${what} contains (part of) the secret ${JSON.stringify(secret)}:\n${text}`).toEqual([]);
  }
}

function expectQuiet(result: CliResult, what: string): void {
  expectNoSecret(`${what}: stdout`, result.stdout);
  expectNoSecret(`${what}: stderr`, result.stderr);
}

const ROLE = "veep_secret_role";

describe.skipIf(!hasMosquitto("the CLI secrets tests"))(
  "the CLI never shows a password it was given",
  // Each case runs the CLI a few times; on a busy machine one run takes seconds.
  { timeout: 90_000 },
  () => {
    let cluster: OwnPostgres | undefined;
    let broker: AuthMosquitto | undefined;
    let dir: string;
    let closedPort: number;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "veep-secrets-"));
      // The machine's PostgreSQL trusts 127.0.0.1, so a wrong password would pass there: this cluster checks it.
      cluster = await startOwnPostgres({ authMethod: "scram-sha-256" });
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      try {
        await admin.query(`CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${DB_PASSWORD}'`);
      } finally {
        await admin.end();
      }
      broker = await startMosquittoWithAuth({ bridge: BROKER_PASSWORD, device: DEVICE_PASSWORD }, [
        "user bridge",
        "topic read veep/#",
        "user device",
        "topic write veep/#",
      ]);
      closedPort = await freePort();
    });

    afterAll(async () => {
      await broker?.stop();
      await cluster?.dispose();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    /** A new database owned by the role (so each test has its own). */
    async function newDatabase(): Promise<string> {
      const name = `vb_secret_${hex()}`;
      const admin = new pg.Client({ connectionString: cluster!.url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name} OWNER ${ROLE}`);
      } finally {
        await admin.end();
      }
      return name;
    }

    const dbUrl = (database: string, password = DB_PASSWORD, port = cluster!.port): string =>
      `postgres://${ROLE}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;

    const brokerEnv = (password = BROKER_PASSWORD): Record<string, string> => ({
      MQTT_URL: broker!.url,
      MQTT_USERNAME: "bridge",
      MQTT_PASSWORD: password,
      MQTT_CLIENT_ID: `vb-secret-${hex()}`,
      MQTT_CONNECT_TIMEOUT_MS: "3000",
    });

    /** Runs the CLI, plainly and with VEEP_DEBUG=1 (which prints the cause's stack), checking both. */
    async function cli(
      args: string[],
      env: Record<string, string>,
      expected: number,
      debug = expected !== 0,
    ): Promise<CliResult> {
      const result = await runCli(args, cleanEnv(env));
      expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(expected);
      expectQuiet(result, args.join(" "));
      if (debug) {
        const debug = await runCli(args, cleanEnv({ ...env, VEEP_DEBUG: "1" }));
        expect(debug.code).toBe(expected);
        expectQuiet(debug, `VEEP_DEBUG=1 ${args.join(" ")}`);
      }
      return result;
    }

    it("migrate and verify succeed with the password in DATABASE_URL or DATABASE_PASSWORD", async () => {
      const database = await newDatabase();
      await cli(["migrate", "--seed"], { DATABASE_URL: dbUrl(database) }, 0);
      const discrete = {
        DATABASE_HOST: "127.0.0.1",
        DATABASE_PORT: String(cluster!.port),
        DATABASE_NAME: database,
        DATABASE_USER: ROLE,
        DATABASE_PASSWORD: DB_PASSWORD,
      };
      await cli(["migrate"], discrete, 0);
      await cli(["verify"], discrete, 0);
      await cli(["verify", "--json"], { DATABASE_URL: dbUrl(database) }, 0);
      await cli(["verify", "--json", "--database-url", dbUrl(database)], {}, 0);
    });

    it.each([
      ["migrate --create-database", ["migrate", "--create-database"]],
      ["verify --json", ["verify", "--json"]],
    ])(
      "%s with a wrong password exits 3 (refused login), in DATABASE_URL and DATABASE_PASSWORD",
      async (_, args) => {
        const database = await newDatabase();
        const refused = await cli(args, { DATABASE_URL: dbUrl(database, WRONG_DB_PASSWORD) }, 3);
        expect(refused.stderr).toMatch(new RegExp(`refused the login of role "${ROLE}"`));
        await cli(
          args,
          {
            DATABASE_HOST: "127.0.0.1",
            DATABASE_PORT: String(cluster!.port),
            DATABASE_NAME: database,
            DATABASE_USER: ROLE,
            DATABASE_PASSWORD: WRONG_DB_PASSWORD,
          },
          3,
        );
      },
    );

    it.each([
      ["migrate", ["migrate"]],
      ["verify", ["verify"]],
      ["run", ["run"]],
    ])("%s against an unreachable server exits 3", async (_, args) => {
      const result = await cli(
        args,
        { DATABASE_URL: dbUrl("veep", DB_PASSWORD, closedPort), ...brokerEnv() },
        3,
      );
      expect(result.stderr).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:\d+/);
    });

    it.each([false, true])(
      "run (--json: %s) stores, seals and stops without showing a password",
      async (json) => {
        const database = await newDatabase();
        const env = { DATABASE_URL: dbUrl(database), ...brokerEnv() };
        const tenant = `t${hex()}`;
        const bridge = start(
          TSX,
          [
            "src/cli/main.ts",
            "run",
            ...(json ? ["--json"] : []),
            "--batch-max-messages",
            "2",
            "--seal-on-exit",
          ],
          cleanEnv(env),
        );
        try {
          await bridge.waitForOutput(json ? /"event":"started"/ : /bridge started/);
          const device = await connectAsync(broker!.url, {
            clientId: `device-${tenant}`,
            username: "device",
            password: DEVICE_PASSWORD,
            reconnectPeriod: 0,
          });
          for (let i = 0; i < 2; i++) {
            await device.publishAsync(
              `veep/${tenant}/site/SENSOR_001/data`,
              JSON.stringify({ deviceId: "SENSOR_001", timestamp: 1_700_000_000 + i, kwh: i }),
              { qos: 1 },
            );
          }
          await device.endAsync();
          await bridge.waitForOutput(json ? /"event":"batch:sealed"/ : /sealed batch/);
        } finally {
          bridge.child.kill("SIGTERM");
        }
        const { code } = await bridge.exited;
        expect(code, bridge.stderr()).toBe(0);
        expectNoSecret("run: stdout", bridge.stdout());
        expectNoSecret("run: stderr", bridge.stderr());
        expect(bridge.stdout()).toMatch(
          /connecting: PostgreSQL postgres:\/\/veep_secret_role:\*\*\*@|"database":"postgres:\/\/veep_secret_role:\*\*\*@/,
        );
        await cli(["verify"], { DATABASE_URL: dbUrl(database) }, 0);
      },
    );

    it("run with both passwords in a --config file (the broker's is wrong) exits 3", async () => {
      const database = await newDatabase();
      const config = join(dir, `config-${hex()}.json`);
      await writeFile(
        config,
        JSON.stringify({
          databaseUrl: dbUrl(database),
          mqtt: {
            url: broker!.url,
            username: "bridge",
            password: WRONG_BROKER_PASSWORD,
            connectTimeoutMs: 3000,
          },
        }),
      );
      const refused = await cli(["run", "--json", "--config", config], {}, 3);
      expect(refused.stderr).toMatch(/refused the credentials/);
    });

    it.each([false, true])("run (--json: %s) with a wrong broker password exits 3", async (json) => {
      const database = await newDatabase();
      const result = await cli(
        ["run", ...(json ? ["--json"] : [])],
        { DATABASE_URL: dbUrl(database), ...brokerEnv(WRONG_BROKER_PASSWORD) },
        3,
      );
      expect(result.stderr).toMatch(/the MQTT broker at 127\.0\.0\.1:\d+ refused the credentials/);
    });

    it("run with a wrong database password exits 3", async () => {
      const database = await newDatabase();
      const result = await cli(
        ["run", "--json"],
        { DATABASE_URL: dbUrl(database, WRONG_DB_PASSWORD), ...brokerEnv() },
        3,
      );
      expect(result.stderr).toMatch(/refused the login/);
    });

    it("run against an unreachable broker exits 3", async () => {
      const database = await newDatabase();
      const result = await cli(
        ["run", "--json"],
        { DATABASE_URL: dbUrl(database), ...brokerEnv(), MQTT_URL: `mqtt://127.0.0.1:${closedPort}` },
        3,
      );
      expect(result.stderr).toMatch(/cannot reach the MQTT broker/);
    });

    it.each([
      [
        "the password in an MQTT_URL that does not parse",
        () => ({ MQTT_URL: `mqtt://bridge:${BROKER_PASSWORD}@127.0.0.1:1883` }),
      ],
      [
        "the password in a DATABASE_URL that does not parse",
        () => ({ DATABASE_URL: `postgres://u:${DB_PASSWORD}@127.0.0.1:99999/db` }),
      ],
    ])("bad configuration: %s exits 3", async (_, env) => {
      const database = await newDatabase();
      await cli(["run"], { DATABASE_URL: dbUrl(database), ...brokerEnv(), ...env() }, 3);
    });

    it.each([
      [
        "a password outside quotes",
        (secret: string) => `{"mqtt": {"username": "bridge", "password": ${secret}}}`,
      ],
      [
        "a password after a syntax error",
        (secret: string) => `{"databaseUrl": "postgres://u:${secret}@h/db" "topic": 1}`,
      ],
      [
        "an unknown key next to a password",
        (secret: string) => `{"mqtt": {"password": "${secret}"}, "pasword": "${secret}"}`,
      ],
      [
        "a password given without a user name on MQTT 3.1.1",
        (secret: string) => `{"mqtt": {"password": "${secret}", "protocolVersion": 4}}`,
      ],
    ])("bad config file: %s exits 3", async (_, text) => {
      const config = join(dir, `bad-${hex()}.json`);
      await writeFile(config, text(BROKER_PASSWORD));
      await cli(["run", "--config", config], { DATABASE_URL: dbUrl("veep") }, 3);
    });

    it("a library bridge's events and errors carry no password (wrong broker, then wrong database password)", async () => {
      const database = await newDatabase();
      const seen: unknown[] = [];
      for (const [storePassword, brokerPassword] of [
        [DB_PASSWORD, WRONG_BROKER_PASSWORD],
        [WRONG_DB_PASSWORD, BROKER_PASSWORD],
      ] as const) {
        const bridge = createBridge({
          source: mqttSource({
            url: broker!.url,
            clientId: `vb-secret-lib-${hex()}`,
            username: "bridge",
            password: brokerPassword,
          }),
          store: postgresStore({ connectionString: dbUrl(database, storePassword) }),
        });
        for (const event of ["source", "error", "retry", "started", "stopped"] as const) {
          bridge.on(event, (...args: unknown[]) => seen.push({ event, args }));
        }
        const error = await bridge.start().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        seen.push(error);
      }
      expect(seen.length).toBeGreaterThan(2);
      expectNoSecret(
        "events and errors",
        inspect(seen, { depth: Number.POSITIVE_INFINITY, showHidden: false }),
      );
      expectNoSecret(
        "event messages",
        seen.map((e) => (e instanceof Error ? e.message : JSON.stringify(e, errorsAsText))).join("\n"),
      );
    });
  },
);

describe("the CLI never shows the Solana fee payer's key or its path", { timeout: 90_000 }, () => {
  let db: TestDatabase;
  let rpc: LiteSvmRpc;
  let env: Record<string, string>;

  beforeAll(async () => {
    await mkdir(KEY_DIR, { recursive: true });
    await writeFile(KEY_PATH, KEY.json);
    db = await createTestDatabase("vb_secret_key");
    rpc = await startLiteSvmRpc();
    const payer = await createKeyPairSignerFromBytes(Uint8Array.from(JSON.parse(KEY.json) as number[]));
    rpc.svm.airdrop(payer.address, lamports(1_000_000_000n));
    const store = postgresStore({ connectionString: db.url });
    await store.open();
    const batch = new OpenBatch();
    batch.apply((await store.append(batch.request(makeReadings(3), []))).plan!);
    await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 3 });
    await store.close();
    env = { DATABASE_URL: db.url, SOLANA_RPC_URL: rpc.url, SOLANA_KEYPAIR: KEY_PATH };
  });
  afterAll(async () => {
    await rpc?.close();
    await db?.drop();
    await rm(KEY_DIR, { recursive: true, force: true });
  });

  /** Runs the CLI, plainly and with VEEP_DEBUG=1 (which prints the cause's stack), checking both. */
  async function cli(args: string[], extra: Record<string, string>, expected: number): Promise<CliResult> {
    const result = await runCli(args, cleanEnv({ ...env, ...extra }));
    expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(expected);
    expectQuiet(result, args.join(" "));
    const debug = await runCli(args, cleanEnv({ ...env, ...extra, VEEP_DEBUG: "1" }));
    expect(debug.code).toBe(expected);
    expectQuiet(debug, `VEEP_DEBUG=1 ${args.join(" ")}`);
    return result;
  }

  it("anchor and verify --anchors with the key in SOLANA_KEYPAIR or --keypair", async () => {
    const anchored = await cli(["anchor"], {}, 0);
    expect(anchored.stdout).toMatch(/confirmed {2}[0-9a-f-]{36}/);
    await cli(["anchor", "--keypair", KEY_PATH], { SOLANA_KEYPAIR: "" }, 0);
    await cli(["verify", "--anchors"], {}, 0);
  });

  /**
   * `veep-bridge run --anchor` with `keypair` as SOLANA_KEYPAIR: two readings fill a batch of two, which is
   * anchored (or fails to be, with a bad file); then SIGTERM. Returns what it printed.
   */
  async function runAnchoring(keypair: string, outcome: RegExp, debug: boolean): Promise<CliResult> {
    const tenant = `sec${hex()}`;
    const clientId = `cli-secret-${tenant}`;
    const running = start(
      TSX,
      [
        "src/cli/main.ts",
        "run",
        "--anchor",
        "--json",
        "--client-id",
        clientId,
        "--mqtt-url",
        inject("mqttUrl"),
        "--topic",
        "veep/{tenant}/{site}/{device}/data",
        "--batch-max-messages",
        "2",
      ],
      cleanEnv({ ...env, SOLANA_KEYPAIR: keypair, ...(debug ? { VEEP_DEBUG: "1" } : {}) }),
    );
    try {
      await running.waitForOutput(/"event":"started"/);
      const device = await connectAsync(inject("mqttUrl"), { clientId: `${clientId}-pub` });
      for (let i = 0; i < 2; i++) {
        const payload = { deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: i, run: tenant };
        await device.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, JSON.stringify(payload), {
          qos: 1,
        });
      }
      await device.endAsync();
      await running.waitForOutput(outcome, 30_000);
      running.child.kill("SIGTERM");
      const { code } = await running.exited;
      return { code, stdout: running.stdout(), stderr: running.stderr() };
    } finally {
      if (running.child.exitCode === null) running.child.kill("SIGKILL");
      await forgetSession(inject("mqttUrl"), clientId);
    }
  }

  it("run --anchor anchors with the key and, with a missing or mismatched keypair file, reports the failure without its path or content", async () => {
    const anchored = await runAnchoring(KEY_PATH, /"event":"anchor:confirmed"/, false);
    expect(anchored.code, anchored.stderr).toBe(0);
    expectQuiet(anchored, "run --anchor");
    const mismatched = join(KEY_DIR, `mismatched-run-${hex()}.json`);
    await writeFile(mismatched, JSON.stringify([...KEY.secret, ...KEY.secret]));
    for (const [file, what] of [
      [`${KEY_PATH}.missing`, "a missing keypair file"],
      [mismatched, "a mismatched keypair file"],
    ] as const) {
      for (const debug of [false, true]) {
        const failed = await runAnchoring(file, /"event":"anchor:failed"/, debug);
        expect(failed.code, failed.stderr).toBe(0);
        expect(failed.stdout).toMatch(/keypair file/);
        expectQuiet(failed, `${debug ? "VEEP_DEBUG=1 " : ""}run --anchor with ${what}`);
        expect(`${failed.stdout}${failed.stderr}`).not.toContain(file);
      }
    }
  });

  it("a missing, unreadable or wrong keypair file exits 3 without its path or content", async () => {
    await cli(["anchor"], { SOLANA_KEYPAIR: `${KEY_PATH}.missing` }, 3);
    const notJson = join(KEY_DIR, `not-json-${hex()}.json`);
    await writeFile(notJson, `secret ${KEY.secret.toString("hex")}`);
    const notJsonResult = await runCli(["anchor"], cleanEnv({ ...env, SOLANA_KEYPAIR: notJson }));
    expect(notJsonResult.code).toBe(3);
    expect(notJsonResult.stderr).toMatch(/not a Solana CLI keypair file/);
    expectQuiet(notJsonResult, "anchor with a file that is not JSON");
    expect(notJsonResult.stderr).not.toContain(notJson);
    const mismatched = join(KEY_DIR, `mismatched-${hex()}.json`);
    await writeFile(mismatched, JSON.stringify([...KEY.secret, ...KEY.secret]));
    const wrong = await runCli(["anchor", "--keypair", mismatched], cleanEnv({ ...env, VEEP_DEBUG: "1" }));
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/public half does not match/);
    expectQuiet(wrong, "anchor with a mismatched keypair");
    expect(wrong.stderr).not.toContain(mismatched);
  });
});

function errorsAsText(_key: string, value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}
