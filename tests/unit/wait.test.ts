import { describe, expect, test, vi } from "vitest";
import { BudgetExceededError, budget, pollUntil, stoppedByTimeout, underTimeout, withinBudget } from "../../src/support/wait.ts";

/** Awaits `promise` and returns the BudgetExceededError it must reject with. */
async function budgetError(promise: Promise<unknown>): Promise<BudgetExceededError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BudgetExceededError);
    return error as BudgetExceededError;
  }
  throw new Error("resolved instead of exceeding its budget");
}

describe("BudgetExceededError", () => {
  test("message names what, the budget in seconds, the budget's name and the last state", () => {
    const error = new BudgetExceededError(
      budget("walArchived", 60_000),
      "WAL segment 000000010000000000000017 archived",
      "not in /var/lib/barman/pg-primary/wals",
    );
    expect(error.name).toBe("BudgetExceededError");
    expect(error.budget).toEqual({ name: "walArchived", ms: 60_000 });
    expect(error.message).toBe(
      "WAL segment 000000010000000000000017 archived: not reached within 60 s (budget 'walArchived'); last state: not in /var/lib/barman/pg-primary/wals",
    );
    expect(error).toBeInstanceOf(Error);
  });
});

describe("pollUntil", () => {
  test("resolves with the first state that is done, without probing again", async () => {
    let probes = 0;
    const state = await pollUntil({
      what: "three probes",
      budget: budget("sqlStatement", 2_000),
      probe: async () => ++probes,
      done: (n) => n >= 3,
      intervalMs: 1,
    });
    expect(state).toBe(3);
    expect(probes).toBe(3);
  });

  test("done on the first probe: no waiting", async () => {
    const started = performance.now();
    await expect(
      pollUntil({ what: "x", budget: budget("backup", 1_000), probe: async () => "ready", done: (s) => s === "ready", intervalMs: 500 }),
    ).resolves.toBe("ready");
    expect(performance.now() - started).toBeLessThan(400);
  });

  test("a probe that throws counts as 'not yet'", async () => {
    let probes = 0;
    const state = await pollUntil({
      what: "PostgreSQL answering",
      budget: budget("containerStart", 2_000),
      probe: async () => {
        probes += 1;
        if (probes < 3) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
        return { up: true };
      },
      done: (s) => s.up,
      intervalMs: 1,
    });
    expect(state).toEqual({ up: true });
    expect(probes).toBe(3);
  });

  test("budget exhausted: BudgetExceededError with the budget and the described last state", async () => {
    let probes = 0;
    const started = performance.now();
    const error = await budgetError(
      pollUntil({
        what: "WAL segment 000000010000000000000017 archived",
        budget: budget("walArchived", 50),
        probe: async () => ({ lastArchived: `00000001000000000000001${++probes}` }),
        done: () => false,
        describe: (s) => `last archived ${s.lastArchived}`,
        intervalMs: 5,
      }),
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(49);
    expect(elapsed).toBeLessThan(1_000);
    expect(probes).toBeGreaterThan(1);
    expect(error.budget).toEqual({ name: "walArchived", ms: 50 });
    expect(error.message).toMatch(/^WAL segment 000000010000000000000017 archived: not reached within 0.05 s \(budget 'walArchived'\); last state: /);
    expect(error.message.endsWith(`; last state: last archived 00000001000000000000001${probes}`)).toBe(true);
  });

  test("without describe, the last state is the JSON of the state", async () => {
    const error = await budgetError(
      pollUntil({ what: "backup DONE", budget: budget("backup", 20), probe: async () => ({ status: "STARTED" }), done: () => false, intervalMs: 5 }),
    );
    expect(error.message).toMatch(/\(budget 'backup'\); last state: \{"status":"STARTED"\}$/);
  });

  test("a probe that keeps throwing: the last state is its error message", async () => {
    const error = await budgetError(
      pollUntil({
        what: "recovered instance promoted",
        budget: budget("recoveredInstancePromoted", 20),
        probe: async (): Promise<boolean> => {
          throw new Error("the database system is starting up");
        },
        done: (s) => s,
        intervalMs: 5,
      }),
    );
    expect(error.message).toMatch(/\(budget 'recoveredInstancePromoted'\); last state: the database system is starting up$/);
  });

  test("a zero budget still probes once", async () => {
    let probes = 0;
    const error = await budgetError(pollUntil({ what: "x", budget: budget("recover", 0), probe: async () => ++probes, done: () => false }));
    expect(probes).toBe(1);
    expect(error.message).toBe("x: not reached within 0 s (budget 'recover'); last state: 1");
  });
});

describe("withinBudget", () => {
  test("returns the work's result and leaves no timer behind", async () => {
    vi.useFakeTimers();
    try {
      await expect(withinBudget("count rows", budget("sqlStatement", 1_000), async () => 10_000)).resolves.toBe(10_000);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  test("work slower than the budget: BudgetExceededError 'still running'", async () => {
    vi.useFakeTimers();
    try {
      const slow = withinBudget("barman recover", budget("recover", 2_000), () => new Promise<string>((resolve) => setTimeout(() => resolve("late"), 5_000)));
      const caught = budgetError(slow);
      await vi.advanceTimersByTimeAsync(2_000);
      const error = await caught;
      expect(error.budget).toEqual({ name: "recover", ms: 2_000 });
      expect(error.message).toBe("barman recover: not reached within 2 s (budget 'recover'); last state: still running");
      await vi.advanceTimersByTimeAsync(5_000); // the late result is ignored, nothing else fires
    } finally {
      vi.useRealTimers();
    }
  });

  test("with real timers and a tiny budget", async () => {
    const error = await budgetError(withinBudget("seed", budget("sqlStatement", 20), () => new Promise((resolve) => setTimeout(resolve, 300))));
    expect(error.message).toMatch(/^seed: not reached within [\d.]+ s \(budget 'sqlStatement'\); last state: still running$/);
  });

  test("the work's own failure is passed through, not turned into a budget error", async () => {
    vi.useFakeTimers();
    try {
      const failure = new Error('relation "orders" does not exist');
      await expect(withinBudget("count rows", budget("sqlStatement", 1_000), async () => Promise.reject(failure))).rejects.toBe(failure);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("fixed bugs (regression tests)", () => {
  // The deadline is only checked between probes, so a probe that never settles (a query stuck on
  // a dead connection) keeps pollUntil waiting forever: the named budget is not enforced.
  test("pollUntil rejects within its budget even when a probe never settles", async () => {
    const outcome = await Promise.race([
      pollUntil({ what: "stuck probe", budget: budget("sqlStatement", 30), probe: () => new Promise<never>(() => {}), done: () => true }).then(
        () => "resolved",
        (error: unknown) => (error instanceof BudgetExceededError ? "budget exceeded" : "other error"),
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve("still pending after 150 ms"), 150)),
    ]);
    expect(outcome).toBe("budget exceeded");
  });

  // Budgets may be fractional (PGDRILL_BUDGET_*_S=0.4), but the message rounds to whole seconds.
  test("a sub-second budget is not reported as 'within 0 s'", () => {
    expect(new BudgetExceededError(budget("backup", 400), "backup DONE", "STARTED").message).not.toContain("within 0 s");
  });
});

describe("underTimeout", () => {
  test("runs the command under coreutils' timeout, killed 10 s after the budget, in whole seconds (at least 1)", () => {
    expect(underTimeout(["barman", "recover", "pg"], budget("recover", 600_000))).toEqual(["timeout", "--kill-after=10", "600", "barman", "recover", "pg"]);
    expect(underTimeout(["true"], budget("recover", 1_500))).toEqual(["timeout", "--kill-after=10", "2", "true"]);
    expect(underTimeout(["true"], budget("recover", 1))).toEqual(["timeout", "--kill-after=10", "1", "true"]);
  });

  test("timeout's own exit codes (TERM: 124, KILL: 137) are told apart from the command's", () => {
    expect([124, 137].map(stoppedByTimeout)).toEqual([true, true]);
    expect([0, 1, 2, 125, 126, 127, null, undefined].map(stoppedByTimeout)).toEqual([false, false, false, false, false, false, false, false]);
  });
});
