/**
 * The part of node-postgres (`pg`) this adapter calls, typed structurally (as Kysely does), so an
 * application can pass its own, already configured `pg.Pool` from any pg 8.x.
 */

/** Per-query type parsers (`pg`'s `types` query option). */
export interface PgCustomTypes {
  /** Returns the parser of a column type, by OID. */
  getTypeParser(oid: number, format?: string): (value: string) => unknown;
}

/** A query as `pg` accepts it: `name` makes it a named prepared statement. */
export interface PgQueryConfig {
  /** Prepared statement name (one text per name). */
  readonly name?: string;
  /** SQL with `$1`, `$2`, … placeholders. */
  readonly text: string;
  /** Parameter values. */
  readonly values?: unknown[];
  /** Type parsers used for this query's result only. */
  readonly types?: PgCustomTypes;
}

/** What a query resolves to. */
export interface PgQueryResult<Row> {
  /** Result rows. */
  readonly rows: Row[];
  /** Rows affected or returned (`null` for some utility statements). */
  readonly rowCount: number | null;
}

/** Something that runs queries: a pool or a checked-out client. */
export interface PgQueryable {
  /** Runs a query. */
  query<Row = Record<string, unknown>>(config: PgQueryConfig): Promise<PgQueryResult<Row>>;
}

/** A client checked out of a pool. */
export interface PgPoolClientLike extends PgQueryable {
  /** Returns the client to the pool; pass an error (or `true`) to destroy it instead. */
  release(destroy?: Error | boolean): void;
  /**
   * Listens for connection errors while checked out (a pg client emits `error` when its connection
   * dies between queries; unheard, that would crash the process).
   */
  on?(event: "error", listener: (error: Error) => void): unknown;
  /** Stops listening. */
  removeListener?(event: "error", listener: (error: Error) => void): unknown;
}

/** The subset of `pg.Pool` the store uses. */
export interface PgPoolLike extends PgQueryable {
  /** Checks a client out (for transactions). */
  connect(): Promise<PgPoolClientLike>;
  /** Closes every connection. */
  end(): Promise<void>;
}
