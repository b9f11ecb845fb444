// The nightly verification of a whole Barman host: one NightlyResult per server, in one report.
// reports/nightly-verification.json holds a FleetReport (its fields are documented in README.md,
// "Nightly verification: the JSON report"); JUnit, Allure and Prometheus are written from it.
import type { NightlyResult } from "./nightly-result.ts";

export interface FleetReport {
  schemaVersion: 2;
  runId: string;
  /** Wall-clock start and end of the whole run, ISO 8601. */
  startedAt: string;
  finishedAt: string;
  /** The Barman server as reached: "container NAME" or "SSH user@host[ port N]". */
  barman: string;
  /** pass when every server passed; a run with no server to verify fails. */
  verdict: "pass" | "fail";
  /** This run's shard of the fleet ("1/1" when not sharded). */
  shard: string;
  servers: NightlyResult[];
}
