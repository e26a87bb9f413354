import { connectAsync, type MqttClient } from "mqtt";
import { sleep } from "./net.js";
import type { Workload } from "./workload.js";

/** A QoS 1 publisher on a clean MQTT 3.1.1 session of its own. */
export class Publisher {
  readonly #client: MqttClient;

  private constructor(client: MqttClient) {
    this.#client = client;
  }

  static async connect(url: string): Promise<Publisher> {
    const client = await connectAsync(url, {
      clientId: `veep-bench-pub-${process.pid}-${Date.now()}`,
      clean: true,
      protocolVersion: 4,
    });
    return new Publisher(client);
  }

  /**
   * The whole workload as fast as the broker takes it, `inFlight` publishes outstanding at a time;
   * resolves once the broker has acknowledged every one.
   */
  async burst(workload: Workload, inFlight = 100): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < workload.total) {
        const { topic, payload } = workload.message(next++);
        await this.#client.publishAsync(topic, payload, { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }

  /** The workload at `rate` messages per second, on a 10 ms schedule that catches up after a late tick. */
  async paced(workload: Workload, rate: number): Promise<void> {
    const started = Date.now();
    const acks: Array<Promise<unknown>> = [];
    let sent = 0;
    while (sent < workload.total) {
      const due = Math.min(workload.total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const { topic, payload } = workload.message(sent);
        acks.push(this.#client.publishAsync(topic, payload, { qos: 1 }));
      }
      await sleep(10);
    }
    await Promise.all(acks);
  }

  /** Disconnects; `force` drops what is still outstanding (cleanup after a failure). */
  async end(force = false): Promise<void> {
    await this.#client.endAsync(force);
  }
}
