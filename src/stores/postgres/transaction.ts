import type { PgPoolClientLike, PgPoolLike } from "./pg-types.js";

/**
 * Checks a client out and listens for its connection errors while it is out (a pg client emits
 * `error` when its connection dies between queries, which would otherwise crash the process). The
 * returned `release` destroys the client if such an error (or `broken`) occurred.
 */
export async function checkOut(
  pool: PgPoolLike,
): Promise<{ client: PgPoolClientLike; release: (broken?: Error) => void }> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (error: Error): void => {
    failed ??= error;
  };
  client.on?.("error", onError);
  return {
    client,
    release: (broken) => {
      client.removeListener?.("error", onError);
      client.release(broken ?? failed ?? false);
    },
  };
}

/**
 * Runs `work` in one transaction on a client of `pool`: COMMIT when it resolves, ROLLBACK when it
 * throws (the client is destroyed if even the ROLLBACK fails, so a broken connection never returns
 * to the pool).
 */
export async function inTransaction<T>(
  pool: PgPoolLike,
  work: (client: PgPoolClientLike) => Promise<T>,
  begin = "BEGIN",
): Promise<T> {
  const { client, release } = await checkOut(pool);
  let broken: Error | undefined;
  try {
    await client.query({ text: begin });
    const result = await work(client);
    await client.query({ text: "COMMIT" });
    return result;
  } catch (error) {
    try {
      await client.query({ text: "ROLLBACK" });
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    release(broken);
  }
}
