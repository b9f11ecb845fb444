// Scenario 13's application: a steady writer through the application's one address (PgBouncer).
// Every attempt inserts the next id in its own autocommit transaction; an answer from the server
// is its acknowledgement of the commit. The client keeps a log of every attempt (id, outcome,
// server time, client times), reconnects by itself after any error, and never reuses an id, so
// the log is the ground truth the data loss is measured against (src/scenario-13/data-loss.ts).
import pg from "pg";
import type { BudgetName } from "../drill/config.ts";
import type { WorkloadAttempt } from "../scenario-13/data-loss.ts";
import { monotonicNow } from "../support/measure.ts";
import { BudgetExceededError } from "../support/wait.ts";

export const WORKLOAD_TABLE = "pgdrill_workload";

/** The table, owned by the application's role. */
export const workloadTableSql = (owner: string): string[] => [
  `CREATE TABLE ${WORKLOAD_TABLE} (id bigint PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  `ALTER TABLE ${WORKLOAD_TABLE} OWNER TO ${pg.escapeIdentifier(owner)}`,
];

export interface WorkloadOptions {
  connectionString: string;
  ratePerSecond: number;
  /** An attempt that gets no answer within this counts as failed (budget workloadCommit). */
  commitTimeoutMs: number;
}

type Listener = (attempt: WorkloadAttempt) => void;

export class SteadyWorkload {
  readonly attempts: WorkloadAttempt[] = [];
  private client: pg.Client | undefined;
  private nextId = 1;
  private running = false;
  private paused: Promise<void> | undefined;
  private resumePaused: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly options: WorkloadOptions) {
    if (!(options.ratePerSecond > 0)) throw new Error(`workload rate must be positive, got ${options.ratePerSecond}`);
  }

  get ratePerSecond(): number {
    return this.options.ratePerSecond;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the attempt in flight; resolves once the connection is closed. */
  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await this.loop;
    await this.disconnect();
  }

  /**
   * Holds new attempts until resume(); resolves once the attempt in flight has its answer. The
   * drill pauses the writer only to read one exact state of every table (Scenario 13 step 9).
   */
  async pause(): Promise<void> {
    if (!this.paused) this.paused = new Promise((resolve) => (this.resumePaused = resolve));
    await this.inFlight;
  }

  resume(): void {
    this.resumePaused?.();
    this.paused = undefined;
    this.resumePaused = undefined;
  }

  /**
   * The first attempt from now on that `matches`, within a named budget (the budget's clock starts
   * now, so an attempt that lands while the caller is still busy is not missed); on overrun the
   * error names the budget and the workload's last attempt.
   */
  waitFor(matches: (attempt: WorkloadAttempt) => boolean, budget: { what: string; name: BudgetName; ms: number }): Promise<WorkloadAttempt> {
    return new Promise<WorkloadAttempt>((resolve, reject) => {
      const listener: Listener = (a) => {
        if (!matches(a)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(a);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const last = this.attempts.at(-1);
        const lastState = last ? `last attempt id ${last.id} ${last.outcome}${last.error ? `: ${last.error}` : ""}` : "no attempt yet";
        reject(new BudgetExceededError(budget, budget.what, lastState));
      }, budget.ms);
      this.listeners.add(listener);
    });
  }

  acknowledged(): WorkloadAttempt[] {
    return this.attempts.filter((a) => a.outcome === "acked");
  }

  private inFlight: Promise<void> = Promise.resolve();

  private async run(): Promise<void> {
    const periodMs = 1000 / this.options.ratePerSecond;
    let due = monotonicNow();
    while (this.running) {
      if (this.paused) {
        await this.paused;
        due = monotonicNow();
        continue;
      }
      // The fixed rate (pacing the load, not waiting for any state): each attempt is due one period
      // after the previous one was due; a slow attempt is followed at once by the next (one in
      // flight at a time), never by a burst.
      const wait = due - monotonicNow();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue; // paused or stopped meanwhile?
      }
      due = Math.max(due + periodMs, monotonicNow() - periodMs);
      this.inFlight = this.attempt();
      await this.inFlight;
    }
  }

  private async attempt(): Promise<void> {
    const id = this.nextId++;
    const sentAtMs = monotonicNow();
    let record: WorkloadAttempt;
    try {
      const client = await this.connected();
      const { rows } = await client.query<{ at: string }>(`INSERT INTO ${WORKLOAD_TABLE} (id) VALUES ($1) RETURNING written_at::text AS at`, [id]);
      record = { id, outcome: "acked", serverTime: rows[0]!.at, sentAtMs, doneAtMs: monotonicNow() };
    } catch (error) {
      record = { id, outcome: "failed", error: (error as Error).message, sentAtMs, doneAtMs: monotonicNow() };
      // Whatever went wrong, the next attempt starts on a new connection.
      await this.disconnect();
    }
    this.attempts.push(record);
    for (const listener of [...this.listeners]) listener(record);
  }

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.commitTimeoutMs,
      query_timeout: this.options.commitTimeoutMs,
      application_name: "pgdrill-workload",
    });
    // A connection that breaks between attempts is noticed by the next attempt's error.
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
