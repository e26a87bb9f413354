/**
 * Resolves with the name of the first SIGINT or SIGTERM. A second signal while the caller is still
 * shutting down calls `onForce` (which should exit at once).
 */
export function waitForShutdownSignal(onForce: (signal: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals): void => {
      if (received) {
        onForce(signal);
        return;
      }
      received = true;
      resolve(signal);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}
