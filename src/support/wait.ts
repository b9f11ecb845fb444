// Waiting on events with a named time budget: the drill never sleeps to "let things settle".
import { monotonicNow } from "./measure.ts";

const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

/**
 * A time budget as one value: its name (what a failure message and the settings call it) and its
 * length, so that a length never travels under a name that does not govern it. Budgets a user can
 * set come from the settings (`budgetOf(settings, "recover")`, src/drill/config.ts); the suite's own
 * fixed ones are made with `budget(name, ms)` where they are used.
 */
export interface Budget {
  readonly name: string;
  readonly ms: number;
}

export const budget = (name: string, ms: number): Budget => ({ name, ms });

/**
 * `argv` under coreutils' `timeout`, for a command that runs on another host (docker exec, SSH),
 * where stopping our side does not stop it: TERM when the budget is spent, KILL 10 s later. Its
 * exit code is then 124 or 137 (`stoppedByTimeout`).
 */
export const underTimeout = (argv: string[], limit: Budget): string[] => [
  "timeout",
  "--kill-after=10",
  String(Math.max(1, Math.ceil(limit.ms / 1000))),
  ...argv,
];

/** Whether an exit code is `timeout`'s own: the command was stopped when its budget was spent. */
export const stoppedByTimeout = (exitCode: number | null | undefined): boolean => exitCode === 124 || exitCode === 137;

export class BudgetExceededError extends Error {
  constructor(
    readonly budget: Budget,
    what: string,
    lastState: string,
  ) {
    super(`${what}: not reached within ${formatSeconds(budget.ms)} (budget '${budget.name}'); last state: ${lastState}`);
    this.name = "BudgetExceededError";
  }
}

export interface PollOptions<T> {
  /** What we are waiting for, in words a DBA reads in the failure message. */
  what: string;
  budget: Budget;
  /** Reads the current state; throwing counts as "not yet" and the error text becomes the last state. */
  probe: () => Promise<T>;
  done: (state: T) => boolean;
  describe?: (state: T) => string;
  /** Pause between probes; each probe is itself a round trip, so this stays short. */
  intervalMs?: number;
}

/** Polls `probe` until `done`, or fails with the budget's name and the last state seen. */
export async function pollUntil<T>(options: PollOptions<T>): Promise<T> {
  const deadline = performance.now() + options.budget.ms;
  let lastState = "not probed yet";
  for (;;) {
    try {
      // A probe that never settles (a query on a dead connection) must not outlive the budget; one
      // started just before the deadline still gets a short grace to answer.
      const remainingMs = Math.max(0, deadline - performance.now()) + Math.min(1000, options.budget.ms);
      const state = await withinBudget(options.what, budget(options.budget.name, remainingMs), options.probe);
      if (options.done(state)) return state;
      lastState = options.describe ? options.describe(state) : JSON.stringify(state);
    } catch (error) {
      // A probe cut short by the deadline says nothing new: keep the state seen before it.
      lastState = error instanceof BudgetExceededError ? `${lastState} (the last probe did not answer in time)` : (error as Error).message;
    }
    if (performance.now() >= deadline) throw new BudgetExceededError(options.budget, options.what, lastState);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** Runs `work` and fails with the budget's name if it takes longer. */
export async function withinBudget<T>(what: string, limit: Budget, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceededError(limit, what, "still running")), limit.ms);
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
