// Checks (src/asserts) as the report shows them: each one a named Allure step that reads as what
// was checked with its values ("orders rows on the recovered instance: 60,104, equal to the good
// state"), failing the test with the same words and, for an equality, Vitest's diff.
import * as allure from "allure-js-commons";
import { expect } from "vitest";
import { type Check, describeCheck } from "../asserts/check.ts";

export async function verify(checks: Check[]): Promise<void> {
  for (const check of checks) {
    await allure.step(describeCheck(check), () => {
      if (check.kind === "equal") expect(check.actual, describeCheck(check)).toEqual(check.expected);
      else expect(check.ok, describeCheck(check)).toBe(true);
    });
  }
}
