import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidOptionError, StoreError } from "../../src/errors.js";
import { postgresStore, redactConnectionString } from "../../src/stores/postgres/index.js";
import { POOL_DEFAULTS, resolvePoolConfig } from "../../src/stores/postgres/options.js";
import { createTestDatabase } from "../support/database.js";

const catchError = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
};

describe("postgresStore options", () => {
  const saved = process.env.DATABASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  });

  it("defaults exactly as the documented pool settings", () => {
    expect(resolvePoolConfig({}, {})).toEqual({
      host: "localhost",
      port: 5432,
      database: "veep_bridge",
      user: "bridge",
      max: 10,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 2000,
    });
    expect(POOL_DEFAULTS).toMatchObject({
      max: 10,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 2000,
    });
  });

  it("reads DATABASE_HOST, DATABASE_PORT, DATABASE_NAME, DATABASE_USER and DATABASE_PASSWORD", () => {
    const env = {
      DATABASE_HOST: "db.internal",
      DATABASE_PORT: "6543",
      DATABASE_NAME: "iot",
      DATABASE_USER: "writer",
      DATABASE_PASSWORD: "pw",
    };
    expect(resolvePoolConfig({}, env)).toMatchObject({
      host: "db.internal",
      port: 6543,
      database: "iot",
      user: "writer",
      password: "pw",
    });
  });

  it("lets DATABASE_URL override the DATABASE_* variables, and explicit options override both", () => {
    const env = { DATABASE_URL: "postgres://u:p@url-host:5555/urldb", DATABASE_HOST: "ignored" };
    const fromUrl = resolvePoolConfig({}, env);
    expect(fromUrl.connectionString).toBe(env.DATABASE_URL);
    expect(fromUrl.host).toBeUndefined();
    expect(resolvePoolConfig({ connectionString: "postgres://x@h/d" }, env).connectionString).toBe(
      "postgres://x@h/d",
    );
    const explicit = resolvePoolConfig({ host: "explicit" }, env);
    expect(explicit.host).toBe("explicit");
    expect(explicit.connectionString).toBeUndefined();
    expect(
      resolvePoolConfig({ max: 3, idleTimeoutMillis: 5, connectionTimeoutMillis: 7 }, env),
    ).toMatchObject({
      max: 3,
      idleTimeoutMillis: 5,
      connectionTimeoutMillis: 7,
    });
  });

  it("passes ssl through unchanged", () => {
    const ssl = { rejectUnauthorized: false, ca: "---" };
    expect(resolvePoolConfig({ ssl }, {}).ssl).toBe(ssl);
    expect(resolvePoolConfig({ ssl: true }, {}).ssl).toBe(true);
  });

  it("names the invalid option", () => {
    const cases: Array<[() => unknown, string]> = [
      [() => resolvePoolConfig({ max: 0 }, {}), "max"],
      [() => resolvePoolConfig({ port: 70_000 }, {}), "port"],
      [() => resolvePoolConfig({}, { DATABASE_PORT: "abc" }), "DATABASE_PORT"],
      [() => resolvePoolConfig({}, { DATABASE_URL: "mysql://a@b/c" }), "DATABASE_URL"],
      [() => postgresStore({ insertMethod: "bulk" as never }), "insertMethod"],
      [() => postgresStore({ connectionString: "not a url :: secretpw" }), "connectionString"],
    ];
    for (const [fn, option] of cases) {
      const error = catchError(fn);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });

  it("redacts passwords in connection strings", () => {
    expect(redactConnectionString("postgres://bridge:s3cret@db:5432/veep")).toBe(
      "postgres://bridge:***@db:5432/veep",
    );
    expect(redactConnectionString("postgres://db/veep?password=s3cret")).toBe(
      "postgres://db/veep?password=***",
    );
    expect(redactConnectionString("postgres://bridge:s3cret@db:5432/veep bad")).not.toContain("s3cret");
    const error = catchError(() => postgresStore({ connectionString: "ftp://bridge:s3cret@db/veep" }));
    expect((error as Error).message).toContain("ftp://bridge:***@db/veep");
    expect((error as Error).message).not.toContain("s3cret");
  });

  it("never shows the password: not in inspect output, not in connection errors", async () => {
    const store = postgresStore({
      connectionString: "postgres://bridge:s3cret@127.0.0.1:1/veep",
      connectionTimeoutMillis: 300,
    });
    expect(inspect(store, { depth: 10, showHidden: true })).not.toContain("s3cret");
    expect(JSON.stringify(store)).not.toContain("s3cret");
    const error = await store.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(inspect(error, { depth: 10 })).not.toContain("s3cret");
    await store.close();

    const db = await createTestDatabase("vbopt");
    try {
      const url = new URL(db.url);
      url.username = "no_such_role";
      url.password = "s3cret";
      const wrong = postgresStore({ connectionString: url.toString() });
      const refused = await wrong.open().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StoreError);
      expect(inspect(refused, { depth: 10 })).not.toContain("s3cret");
      await wrong.close();
    } finally {
      await db.drop();
    }
  });

  it("connects with the environment alone (DATABASE_URL)", async () => {
    const db = await createTestDatabase("vbenv");
    try {
      process.env.DATABASE_URL = db.url;
      const store = postgresStore();
      await store.open();
      expect(await store.getRecentBatches()).toEqual({ items: [], nextCursor: null });
      await store.close();
    } finally {
      await db.drop();
    }
  });
});
