// An ordered scenario in Vitest: one test per step, run in file order; after a failed step the
// later ones are skipped with a note naming it, instead of failing in a cascade of confusing errors.
import * as allure from "allure-js-commons";
import { type TestContext, test } from "vitest";

export interface OrderedScenario {
  step(name: string, body: (context: TestContext) => Promise<void>): void;
}

export function orderedScenario(options: {
  stepTimeoutMs: number;
  /** Collects evidence (logs, transcripts) while the failed step is still the current test. */
  onFailure?: () => Promise<void>;
}): OrderedScenario {
  let failedStep: string | undefined;
  return {
    step(name, body) {
      test(name, { timeout: options.stepTimeoutMs, retry: 0 }, async (context) => {
        if (failedStep) {
          const reason = `skipped because an earlier step failed: "${failedStep}"`;
          // Allure keeps no skip note: the reason goes into the step's description, where the report shows it.
          await allure.description(reason);
          context.skip(reason);
        }
        context.onTestFailed(() => {
          failedStep ??= name;
        });
        try {
          await body(context);
        } catch (error) {
          await options.onFailure?.().catch(() => undefined);
          throw error;
        }
      });
    },
  };
}
