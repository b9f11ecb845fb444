// One way to speak SQL to any PostgreSQL of a drill: the primary and the networked recovered
// instances through a pg client, the isolated nightly instance (no network at all) through psql
// on its socket. The engine's reads (row digest, promotion check, the user's queries) run on either.
import pg from "pg";
import { budget, withinBudget } from "../../src/support/wait.ts";
import { execIn } from "../exec.ts";

export interface SqlSession {
  /** Names the server in messages: "primary", "recovered instance", ... */
  readonly role: string;
  query<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  one<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R>;
  /**
   * A query's rows, each the array of its column values as JSON types (bigint counts are numbers):
   * the same values from either kind of session, so expected rows are written once.
   */
  rows(sql: string): Promise<unknown[][]>;
}

/** The first line of SQL that is not a comment, to name a failed statement. */
export const firstStatementLine = (sql: string): string =>
  sql
    .split("\n")
    .find((line) => line.trim() && !line.trim().startsWith("--"))
    ?.trim() ?? sql.trim();

/**
 * The query's rows as one JSON array of arrays. json_each on a json (not jsonb) row keeps every
 * column in order, also duplicate names such as two count(*), which an object would collapse;
 * json_agg keeps the query's row order.
 */
export function rowsAsJson(sql: string): string {
  const body = sql.trim().replace(/;\s*$/, "");
  return `SELECT coalesce(json_agg((SELECT json_agg(e.value ORDER BY e.n) FROM json_each(to_json(q)) WITH ORDINALITY AS e(key, value, n))), '[]') FROM (${body}\n) q`;
}

/** $1, $2, ... replaced by quoted literals, for psql (which has no bind parameters before PostgreSQL 16). */
export function inlineParameters(text: string, params: unknown[]): string {
  return text.replace(/\$(\d+)\b/g, (match, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= params.length) throw new Error(`SQL parameter ${match} has no value (${params.length} given)`);
    const value = params[index];
    if (value === null || value === undefined) return "NULL";
    if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
    if (typeof value === "object") throw new Error(`SQL parameter ${match}: only text, numbers, booleans and dates can be inlined for psql`);
    return pg.escapeLiteral(String(value));
  });
}

/** A pg client on a published port: the primary and the recovered instances on the drill network. */
export class PgClientSession implements SqlSession {
  private constructor(
    readonly client: pg.Client,
    readonly role: string,
  ) {}

  static async connect(connectionString: string, role: string, statementTimeoutMs: number): Promise<PgClientSession> {
    const client = new pg.Client({
      connectionString,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 5_000,
      application_name: "pgdrill",
    });
    await client.connect();
    // An error on an idle connection (e.g. the server stopped on purpose) must not crash the run.
    client.on("error", () => undefined);
    return new PgClientSession(client, role);
  }

  async query<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.client.query<R>(text, params)).rows;
    } catch (error) {
      throw new Error(`SQL on the ${this.role} failed: ${(error as Error).message}\n  statement: ${firstStatementLine(text)}`);
    }
  }

  async one<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R> {
    const rows = await this.query<R>(text, params);
    if (rows.length !== 1) throw new Error(`expected one row from the ${this.role}, got ${rows.length}: ${text}`);
    return rows[0]!;
  }

  async rows(sql: string): Promise<unknown[][]> {
    return (await this.one<{ rows: unknown[][] }>(`SELECT (${rowsAsJson(sql)}) AS rows`)).rows;
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** psql through `docker exec` on the container's own socket: for an instance that has no network. */
export class PsqlSession implements SqlSession {
  constructor(
    private readonly containerId: string,
    readonly role: string,
    private readonly options: { database: string; user: string; statementTimeoutMs: number },
  ) {}

  private async psql(sql: string): Promise<string> {
    const { database, user, statementTimeoutMs } = this.options;
    // The server stops the statement at statement_timeout (the sqlStatement budget); psql gets 5 s
    // more to report that before this side gives up on it.
    const psqlBudget = budget("sqlStatement", statementTimeoutMs + 5_000);
    const result = await withinBudget(`psql on the ${this.role}: ${firstStatementLine(sql).slice(0, 80)}`, psqlBudget, () =>
      execIn(this.containerId, ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", database, "-U", user, "-c", sql], {
        user: "postgres",
        where: `the ${this.role}`,
        env: { PGOPTIONS: `-c statement_timeout=${statementTimeoutMs}` },
        allowFailure: true,
      }),
    );
    if (result.exitCode !== 0)
      throw new Error(`SQL on the ${this.role} failed: ${(result.stderr || result.stdout).trim()}\n  statement: ${firstStatementLine(sql)}`);
    return result.stdout;
  }

  async query<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    const body = inlineParameters(text, params).trim().replace(/;\s*$/, "");
    return JSON.parse(await this.psql(`SELECT coalesce(json_agg(q), '[]') FROM (${body}\n) q`)) as R[];
  }

  async one<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R> {
    const rows = await this.query<R>(text, params);
    if (rows.length !== 1) throw new Error(`expected one row from the ${this.role}, got ${rows.length}: ${text}`);
    return rows[0]!;
  }

  async rows(sql: string): Promise<unknown[][]> {
    return JSON.parse(await this.psql(rowsAsJson(sql))) as unknown[][];
  }
}
