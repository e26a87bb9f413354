import { connectAsync } from "mqtt";

/**
 * Ends the persistent session a test process left on the broker (connect with the same client id
 * and a clean session), so a shared broker does not keep queueing messages for it.
 */
export async function forgetSession(url: string, clientId: string): Promise<void> {
  const client = await connectAsync(url, { clientId, clean: true, reconnectPeriod: 0 });
  await client.endAsync();
}
