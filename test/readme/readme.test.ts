import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { forgetSession } from "../cli/support/mqtt-session.js";
import { cleanEnv, REPO_ROOT, start, TSX } from "../cli/support/process.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/** How the README's `veep-bridge…` imports map onto this repository's entry modules. */
const ENTRY_POINTS: Record<string, string> = {
  "veep-bridge": "src/index.ts",
  "veep-bridge/mqtt": "src/sources/mqtt/index.ts",
  "veep-bridge/postgres": "src/stores/postgres/index.ts",
  "veep-bridge/testing": "src/testing/index.ts",
  "veep-bridge/verify": "src/verify.ts",
  "veep-bridge/memory": "src/memory.ts",
  "veep-bridge/adapter": "src/adapter.ts",
};

/** The ```ts block that follows `<!-- readme-test: NAME -->` in README.md. */
function snippet(readme: string, name: string): string {
  const marker = `<!-- readme-test: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  if (!match?.[1]) throw new Error(`no ts code block after ${marker}`);
  return match[1];
}

/** The snippet with only its package imports pointed at the sources; everything else unchanged. */
function runnable(code: string): string {
  const rewritten = code.replace(/from "(veep-bridge(?:\/[a-z]+)?)"/g, (_, specifier: string) => {
    const entry = ENTRY_POINTS[specifier];
    if (!entry) throw new Error(`README imports unknown entry point ${specifier}`);
    return `from ${JSON.stringify(join(REPO_ROOT, entry))}`;
  });
  expect(rewritten.replace(/from "[^"]+"/g, "")).toBe(code.replace(/from "[^"]+"/g, ""));
  return rewritten;
}

describe("README", () => {
  let readme: string;
  let db: TestDatabase;
  let dir: string;
  const tenant = `readme${randomBytes(3).toString("hex")}`;

  beforeAll(async () => {
    readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
    db = await createTestDatabase("vb_readme");
    dir = await mkdtemp(join(tmpdir(), "veep-readme-"));
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function countRows(sql: string): Promise<number> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(sql, [`veep/${tenant}/%`]);
      return Number(rows[0]?.n ?? 0);
    } finally {
      await client.end();
    }
  }

  it("starts with the two commands", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(firstBlock).toMatch(/^npm install && npm run demo/m);
    expect(firstBlock).toMatch(/^npm test/m);
  });

  it("quick start: stores readings, rejects a bad one, ignores a duplicate, drains on SIGTERM", async () => {
    const file = join(dir, "quick-start.mts");
    await writeFile(file, runnable(snippet(readme, "quick-start")));
    const clientId = `readme-${randomBytes(4).toString("hex")}`;
    const bridge = start(
      TSX,
      [file],
      cleanEnv({ DATABASE_URL: db.url, MQTT_URL: inject("mqttUrl"), MQTT_CLIENT_ID: clientId }),
    );
    await bridge.waitForOutput(/bridge running/, 30_000);
    const devices = await connectAsync(inject("mqttUrl"), { clientId: `readme-pub-${tenant}` });
    const payloads = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: 15.7 + i, voltage: 220.1 }),
    );
    for (const payload of payloads)
      await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, payload, { qos: 1 });
    await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, payloads[0]!, { qos: 1 });
    await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, "[1,2,3]", { qos: 1 });
    await devices.endAsync();
    await bridge.waitForOutput(/rejected \(not_an_object\) on veep\/readme/, 20_000);
    const deadline = Date.now() + 20_000;
    while (
      (await countRows("SELECT count(*) AS n FROM messages WHERE topic LIKE $1")) < 30 &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    bridge.child.kill("SIGTERM");
    const { code } = await bridge.exited;
    await forgetSession(inject("mqttUrl"), clientId);
    expect(bridge.stdout()).toMatch(/bridge stopped/);
    expect(code, bridge.stderr()).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM messages WHERE topic LIKE $1")).toBe(30);
    expect(await countRows("SELECT count(*) AS n FROM dead_letters WHERE topic LIKE $1")).toBe(1);
  });

  it("verification snippet: passes on the stored data and reports tampering", async () => {
    const file = join(dir, "verify.mts");
    await writeFile(file, runnable(snippet(readme, "verify")));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ message_id: string }>(
        "SELECT message_id FROM messages WHERE topic LIKE $1 ORDER BY leaf_index LIMIT 1",
        [`veep/${tenant}/%`],
      );
      const messageId = rows[0]!.message_id;
      const run = async () => {
        const running = start(TSX, [file, messageId], cleanEnv({ DATABASE_URL: db.url }));
        const { code } = await running.exited;
        expect(code, running.stderr()).toBe(0);
        return running.stdout();
      };
      const good = await run();
      expect(good).toMatch(/all \d+ batches verify/);
      expect(good).toMatch(/the reading verifies/);
      expect(good).toMatch(/proof holds: true/);
      await client.query(
        `UPDATE messages SET raw_data = jsonb_set(raw_data, '{kwh}', '999') WHERE message_id = $1`,
        [messageId],
      );
      const bad = await run();
      expect(bad).toMatch(/message_hash_mismatch/);
      expect(bad).not.toMatch(/the reading verifies/);
    } finally {
      await client.end();
    }
  });
});
