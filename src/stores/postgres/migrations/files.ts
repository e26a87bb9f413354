import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MigrationError } from "../errors.js";

/** One SQL migration file. */
export interface MigrationFile {
  /** Its number, from the `NNN_` prefix. */
  readonly version: number;
  /** File name, e.g. `001_initial_schema.sql`. */
  readonly name: string;
  /** SQL text. */
  readonly sql: string;
  /** Lowercase hex SHA-256 of the text with line endings normalised to `\n`. */
  readonly checksum: string;
  /**
   * Checksums of earlier texts of this file that differ from it only in comments: a database
   * migrated with one of them is up to date.
   */
  readonly earlierChecksums: readonly string[];
  /** Applied only on request (`-- veep-bridge:opt-in seed` in the file): sample data. */
  readonly optIn: boolean;
}

/** Comment-only rewordings of shipped files: the checksums of their earlier texts. */
const EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  "001_initial_schema.sql": ["9212e0a00dc3bedbca0e1734c498d5264eec1990a2d74769eea84b058a44164b"],
  "002_seed_data.sql": ["cbdf2310b981ac90546ee91fcb8acc87938669352bae3d75d2f8bf071dbb02be"],
  "003_message_leaf_index.sql": ["bad464f748a9a66f3267d8bb69dbd973b21722a4c3afcedb83f5d4024802e965"],
  "004_unique_message_hash.sql": ["93f26030c2640354aafa99603ce25a83743026be734935cf6705f77825ad2630"],
  "006_batch_failure_reason.sql": ["61c213fb8e5ba84a968dd4994d523628f5fdb68db6586175af2eda95b1d3950d"],
  "007_dedup_per_device.sql": ["0935ab41da736c96b6288f8b3ebd9cff5db57bb44c2f24df3874462a03fa65f6"],
};

const FILE_NAME = /^(\d{3,})_[a-z0-9_]+\.sql$/;
const OPT_IN_MARKER = /^--\s*veep-bridge:opt-in\b/m;

function isPackageRoot(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown };
    return pkg.name === "veep-bridge" && existsSync(join(dir, "migrations"));
  } catch {
    return false;
  }
}

/**
 * The `migrations/` folder shipped with the package, found by walking up from this module to the
 * package root (works from `src/stores/postgres/migrations/`, `dist/postgres.js` and `dist/postgres.cjs`).
 */
export function defaultMigrationsDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isPackageRoot(dir)) return join(dir, "migrations");
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new MigrationError(
    "cannot find the veep-bridge migrations/ folder next to its package.json; pass `migrationsDirectory`",
  );
}

/** Reads and checksums the migration files of a folder, in version order. */
export function readMigrationFiles(directory: string = defaultMigrationsDirectory()): MigrationFile[] {
  const dir = resolve(directory);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith(".sql"));
  } catch (error) {
    throw new MigrationError(`cannot read migrations folder ${dir}`, { cause: error });
  }
  const files = names.map((name): MigrationFile => {
    const match = FILE_NAME.exec(name);
    if (!match) throw new MigrationError(`migration file name ${name} is not NNN_snake_case.sql`);
    const sql = readFileSync(join(dir, name), "utf8").replace(/\r\n/g, "\n");
    return {
      version: Number(match[1]),
      name,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
      earlierChecksums: EARLIER_CHECKSUMS[name] ?? [],
      optIn: OPT_IN_MARKER.test(sql),
    };
  });
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    if (files[i]?.version === files[i - 1]?.version) {
      throw new MigrationError(`two migration files share version ${files[i]?.version}`);
    }
  }
  return files;
}
