import { type AddressInfo, createServer, type Server } from "node:net";
import { importOptional } from "./optional-import.js";

/** A running in-process MQTT broker. */
export interface EmbeddedBroker {
  /** Its `mqtt://127.0.0.1:<port>` URL. */
  readonly url: string;
  /** Closes the listener and the broker. Idempotent. */
  stop(): Promise<void>;
}

/** Starts an in-process MQTT 3.1.1 broker (the optional `aedes` package) on a free local port. */
export async function startEmbeddedBroker(): Promise<EmbeddedBroker> {
  const { Aedes } = await importOptional("aedes", () => import("aedes"), "set MQTT_URL to a broker");
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return stopping;
    },
  };
}
