import type { PgPoolClientLike, PgPoolLike } from "./pg-types.js";

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
  const client = await pool.connect();
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
    client.release(broken ?? false);
  }
}
