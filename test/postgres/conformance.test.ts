import { postgresStore } from "../../src/stores/postgres/index.js";
import { storeConformance } from "../../src/testing/index.js";
import { createTestDatabase } from "../support/database.js";

storeConformance("postgres", async () => {
  const db = await createTestDatabase("vbconf");
  return {
    store: postgresStore({ connectionString: db.url }),
    reopen: async () => postgresStore({ connectionString: db.url }),
    dispose: () => db.drop(),
  };
});
