import { cpus, loadavg } from "node:os";
import pg from "pg";
import { wrap } from "./wrap.js";

/** PostgreSQL settings that bound ingest speed, printed with every run. */
const SETTINGS = [
  "synchronous_commit",
  "shared_buffers",
  "wal_buffers",
  "max_wal_size",
  "checkpoint_timeout",
];

/** The header lines: what the figures were measured on. */
export async function machineFacts(adminUrl: string, postgresLabel: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const show = async (name: string): Promise<string> =>
      String((await client.query(`SHOW ${name}`)).rows[0]?.[name]);
    const version = await show("server_version");
    const settings: string[] = [];
    for (const name of SETTINGS) settings.push(`${name}=${await show(name)}`);
    const cpu = cpus();
    const load = loadavg()
      .map((x) => x.toFixed(2))
      .join(" ");
    return [
      `node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}), loadavg ${load}`,
      `PostgreSQL ${version} (${postgresLabel})`,
      ...wrap(settings.join(", "), 100, "  "),
    ];
  } finally {
    await client.end();
  }
}
