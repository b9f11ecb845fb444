// Paths in the recovery volume are built only from names that cannot leave it or reach a shell.
import { describe, expect, test } from "vitest";
import { RECOVERY_MOUNT } from "../../containers/barman/barman-container.ts";
import { recoveryPath } from "../../src/engine/recovery-volume.ts";

describe("recovery volume paths", () => {
  test("a directory and a file below it, under the mount", () => {
    expect(recoveryPath("t-time")).toBe(`${RECOVERY_MOUNT}/t-time`);
    expect(recoveryPath("second-pitr/recovery.signal")).toBe(`${RECOVERY_MOUNT}/second-pitr/recovery.signal`);
  });

  test.each(["", "../etc", "pitr/../../etc", "/abs", "a b", "x;rm -rf /", "x$(id)", "pitr/"])("refused: %j", (path) => {
    expect(() => recoveryPath(path)).toThrow(`not a path in the recovery volume: ${path}`);
  });
});
