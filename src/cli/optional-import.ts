import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";

function isMissingModule(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    String((error as Error).message).includes(name)
  );
}

/**
 * Imports an optional peer dependency; when it is not installed, fails with exit 5 and says how to
 * install it, or what to use instead.
 */
export async function importOptional<T>(name: string, load: () => Promise<T>, instead: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissingModule(error, name)) {
      throw new CliError(
        `the optional package "${name}" is not installed — run \`npm install --save-dev ${name}\`, or ${instead}`,
        EXIT.missingDependency,
        { cause: error },
      );
    }
    throw error;
  }
}
