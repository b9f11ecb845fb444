// A fleet report around some servers' results, as the CLI writes one for a run that is not sharded:
// what the Prometheus tests render and push.
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import type { NightlyResult } from "../../src/nightly/nightly-result.ts";

export function fleetReportOf(servers: NightlyResult[], barman: string): FleetReport {
  return {
    schemaVersion: 2,
    runId: "nightly",
    startedAt: servers[0]!.startedAt,
    finishedAt: servers[0]!.finishedAt,
    barman,
    verdict: servers.every((s) => s.verdict === "pass") ? "pass" : "fail",
    shard: "1/1",
    servers,
  };
}
