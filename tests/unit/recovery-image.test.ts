// The nightly verification's throwaway image follows the backup's PostgreSQL major version.
import { describe, expect, test } from "vitest";
import { postgresMajor, RecoveryImageError, recoveryImagePlan } from "../../src/nightly/recovery-image.ts";

describe("postgresMajor", () => {
  test.each([
    [150020, 15],
    [170006, 17],
    [180001, 18],
    [160004, 16],
    [90624, 9.06],
  ])("%i -> %d", (version, major) => {
    expect(postgresMajor(version)).toBe(major);
  });
  test("not a version number", () => {
    expect(() => postgresMajor(15)).toThrow(RecoveryImageError);
  });
});

describe("recoveryImagePlan", () => {
  test("15, 17 and 18: this suite's image (the default pair's for 15, else with the Barman of the version's own suite)", () => {
    expect(recoveryImagePlan(15, undefined)).toEqual({ kind: "platform", postgres: "15", barman: "3.13" });
    expect(recoveryImagePlan(17, undefined)).toEqual({ kind: "platform", postgres: "17", barman: "3.13" });
    expect(recoveryImagePlan(18, undefined)).toEqual({ kind: "platform", postgres: "18", barman: "3.20" });
  });

  test("a version this suite cannot start: one line naming it and PGDRILL_RECOVERY_IMAGE", () => {
    expect(() => recoveryImagePlan(16, undefined)).toThrow(
      "the backup is of PostgreSQL 16, which this suite has no image for (it builds 15, 17, 18); set PGDRILL_RECOVERY_IMAGE to an image that honours the official postgres image's contract, e.g. PGDRILL_RECOVERY_IMAGE=postgres:16",
    );
  });

  test("PGDRILL_RECOVERY_IMAGE wins for any version", () => {
    expect(recoveryImagePlan(16, "postgres:16")).toEqual({ kind: "override", image: "postgres:16" });
    expect(recoveryImagePlan(17, "registry.example.com/pg:17")).toEqual({ kind: "override", image: "registry.example.com/pg:17" });
  });
});
