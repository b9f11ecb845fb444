// Waiting on events with a named time budget: the drill never sleeps to "let things settle".
import type { BudgetName } from "./config.ts";
import { monotonicNow } from "./metrics.ts";

const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

export class BudgetExceededError extends Error {
  constructor(
    readonly budget: BudgetName,
    readonly budgetMs: number,
    what: string,
    lastState: string,
  ) {
    super(`${what}: not reached within ${formatSeconds(budgetMs)} (budget '${budget}'); last state: ${lastState}`);
    this.name = "BudgetExceededError";
  }
}

export interface PollOptions<T> {
  /** What we are waiting for, in words a DBA reads in the failure message. */
  what: string;
  budget: BudgetName;
  budgetMs: number;
  /** Reads the current state; throwing counts as "not yet" and the error text becomes the last state. */
  probe: () => Promise<T>;
  done: (state: T) => boolean;
  describe?: (state: T) => string;
  /** Pause between probes; each probe is itself a round trip, so this stays short. */
  intervalMs?: number;
}

/** Polls `probe` until `done`, or fails with the budget's name and the last state seen. */
export async function pollUntil<T>(options: PollOptions<T>): Promise<T> {
  const deadline = performance.now() + options.budgetMs;
  let lastState = "not probed yet";
  for (;;) {
    try {
      // A probe that never settles (a query on a dead connection) must not outlive the budget; one
      // started just before the deadline still gets a short grace to answer.
      const remainingMs = Math.max(0, deadline - performance.now()) + Math.min(1000, options.budgetMs);
      const state = await withinBudget(options.what, options.budget, remainingMs, options.probe);
      if (options.done(state)) return state;
      lastState = options.describe ? options.describe(state) : JSON.stringify(state);
    } catch (error) {
      // A probe cut short by the deadline says nothing new: keep the state seen before it.
      lastState = error instanceof BudgetExceededError ? `${lastState} (the last probe did not answer in time)` : (error as Error).message;
    }
    if (performance.now() >= deadline) throw new BudgetExceededError(options.budget, options.budgetMs, options.what, lastState);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** Runs `work` and fails with the budget's name if it takes longer. */
export async function withinBudget<T>(what: string, budget: BudgetName, budgetMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceededError(budget, budgetMs, what, "still running")), budgetMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How often a long operation (a load, a backup) says it is still going. */
const PROGRESS_INTERVAL_MS = 15_000;

/**
 * Runs `work`, and every PROGRESS_INTERVAL_MS until it ends says how long it has run and, when
 * `probe` answers, how far it got. Only long operations say anything: a quick one is silent.
 */
export async function withProgress<T>(say: (line: string) => void, what: string, work: () => Promise<T>, probe?: () => Promise<string>): Promise<T> {
  const started = monotonicNow();
  let probing = false;
  const timer = setInterval(() => {
    if (probing) return;
    probing = true;
    const elapsed = `${((monotonicNow() - started) / 1000).toFixed(0)} s`;
    void (probe ? probe().then((state) => `, ${state}`) : Promise.resolve(""))
      .catch(() => "")
      .then((state) => say(`${what}: still running after ${elapsed}${state}`))
      .finally(() => {
        probing = false;
      });
  }, PROGRESS_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
