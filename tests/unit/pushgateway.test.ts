// Pushing the nightly metrics to a REAL Pushgateway (Debian's prometheus-pushgateway, installed by
// scripts/setup-prometheus.sh), started here on 127.0.0.1 with a free port and no persistence, and
// stopped in afterAll. A passing night is PUT, a failing night is POSTed without the last success:
// read back from the Pushgateway, the last success must survive the failed night.
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { type NightlyResult, noEvidence } from "../../src/nightly/nightly-result.ts";
import { PUSHGATEWAY_JOB, PushgatewayError, pushToPushgateway, readSamples } from "../../src/nightly/prometheus.ts";
import { fleetReportOf } from "../support/fleet-report-of.ts";
import { freePort, PUSHGATEWAY_BUDGET, type RunningPushgateway, startPushgateway } from "../support/pushgateway-process.ts";

/** A push to an endpoint that accepts the connection and never answers: short, the point is that it ends. */
const SILENT_ENDPOINT_BUDGET_MS = 500;

const BARMAN = "SSH barman@backup-1";
const NIGHT_1_END = "2026-11-24T02:03:00.000Z";
const NIGHT_2_END = "2026-11-25T02:04:00.000Z";
const unix = (iso: string): number => Date.parse(iso) / 1000;

function night(server: string, verdict: "pass" | "fail", finishedAt: string, barman = BARMAN): NightlyResult {
  const failed = verdict === "fail";
  return {
    verdict,
    startedAt: finishedAt,
    finishedAt,
    mode: "full WAL replay",
    postgresMajor: 17,
    freshness: {
      measuredAt: finishedAt,
      backupEndTime: "2026-11-23T22:00:00.000Z",
      backupAgeS: 14_400,
      newestWalTime: null,
      newestWalAgeS: 30,
      recoveryPointTime: null,
      recoveryPointAgeS: failed ? null : 31.5,
      recoveryPointSource: failed ? null : "pg_last_committed_xact",
    },
    transferredBytes: failed ? null : 46_137_344,
    barman,
    server,
    backupId: "20261123T220000",
    backupSizeBytes: 44_040_192,
    target: { kind: "latest" },
    workDirectory: undefined,
    phasesMs: failed
      ? { verifyBackupMs: 1100, barmanRecoverMs: null, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null }
      : { verifyBackupMs: 1200, barmanRecoverMs: 2500, transferMs: 1800, instanceStartUntilPromotedMs: 900, verificationMs: 350 },
    totalMs: failed ? 1500 : 7000,
    checks: [],
    problems: failed ? ["barman recover: failed"] : [],
    failedPhase: failed ? "barman recover" : undefined,
    interrupted: false,
    barmanCommands: [],
    ...noEvidence(),
  };
}

const fleet = (servers: NightlyResult[]): FleetReport => fleetReportOf(servers, BARMAN);

let gateway: RunningPushgateway | undefined;
let gatewayUrl = "";

beforeAll(async () => {
  gateway = await startPushgateway();
  gatewayUrl = gateway.url;
}, PUSHGATEWAY_BUDGET.ms + 5_000);

afterAll(async () => {
  await gateway?.stop();
}, PUSHGATEWAY_BUDGET.ms + 5_000);

/** What the Pushgateway serves for one metric of one server: its labels (as Prometheus would scrape them) and value. */
async function served(metric: string, server: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  return readSamples(text, metric).filter((s) => s.labels["server"] === server);
}

async function value(metric: string, server: string): Promise<number | undefined> {
  const samples = await served(metric, server);
  expect(samples.length, `${metric} for ${server}: ${JSON.stringify(samples)}`).toBeLessThanOrEqual(1);
  return samples[0]?.value;
}

describe("a passing night, then a failing night, of the same server", () => {
  const server = "main-db";

  test("the passing night replaces the group (PUT): last success = last run, success 1", async () => {
    const pushed = await pushToPushgateway(gatewayUrl, fleet([night(server, "pass", NIGHT_1_END)]));
    expect(pushed).toEqual([
      { server, barman: BARMAN, method: "PUT", url: `${gatewayUrl}/metrics/job/${PUSHGATEWAY_JOB}/server/main-db/barman/SSH%20barman%40backup-1` },
    ]);
    expect(await value("pgdrill_nightly_success", server)).toBe(1);
    expect(await value("pgdrill_nightly_last_run_timestamp_seconds", server)).toBe(unix(NIGHT_1_END));
    expect(await value("pgdrill_nightly_last_success_timestamp_seconds", server)).toBe(unix(NIGHT_1_END));
  });

  test("server and barman appear once, from the grouping key, next to job and instance", async () => {
    const [success] = await served("pgdrill_nightly_success", server);
    expect(success?.labels).toEqual({ server, barman: BARMAN, job: PUSHGATEWAY_JOB, instance: "" });
    const [info] = await served("pgdrill_nightly_backup_info", server);
    expect(info?.labels).toEqual({
      server,
      barman: BARMAN,
      job: PUSHGATEWAY_JOB,
      instance: "",
      backup_id: "20261123T220000",
      postgres_major: "17",
      mode: "full WAL replay",
    });
  });

  test("the failing night (POST, no last success) keeps the last success; success 0, last run moved", async () => {
    const pushed = await pushToPushgateway(gatewayUrl, fleet([night(server, "fail", NIGHT_2_END)]));
    expect(pushed.map((p) => p.method)).toEqual(["POST"]);
    expect(await value("pgdrill_nightly_success", server)).toBe(0);
    expect(await value("pgdrill_nightly_last_run_timestamp_seconds", server)).toBe(unix(NIGHT_2_END));
    expect(await value("pgdrill_nightly_last_success_timestamp_seconds", server)).toBe(unix(NIGHT_1_END));
    expect(await value("pgdrill_nightly_duration_seconds", server)).toBe(1.5);
  });

  test("POST replaces whole metric families: tonight's phases only; a family not sent tonight keeps the passing night's value", async () => {
    const phases = (await served("pgdrill_nightly_phase_duration_seconds", server)).map((s) => [s.labels["phase"], s.value]);
    expect(phases).toEqual([["verify", 1.1]]);
    // Documented in pushToPushgateway: no transfer tonight, so nothing replaced the last transfer's size.
    expect(await value("pgdrill_nightly_transferred_bytes", server)).toBe(46_137_344);
  });

  test("the next passing night replaces the whole group again", async () => {
    await pushToPushgateway(gatewayUrl, fleet([night(server, "pass", "2026-11-26T02:04:00.000Z")]));
    expect(await value("pgdrill_nightly_last_success_timestamp_seconds", server)).toBe(unix("2026-11-26T02:04:00.000Z"));
    expect((await served("pgdrill_nightly_phase_duration_seconds", server)).length).toBe(5);
  });
});

describe("grouping keys and several servers", () => {
  test("one group per server; a '/' in a label value travels base64-encoded and arrives intact", async () => {
    const pushed = await pushToPushgateway(
      gatewayUrl,
      fleet([night("reporting", "pass", NIGHT_1_END), night("billing", "fail", NIGHT_1_END, "container barman/eu")]),
    );
    expect(pushed.map((p) => [p.server, p.method])).toEqual([
      ["reporting", "PUT"],
      ["billing", "POST"],
    ]);
    expect(pushed[1]?.url).toBe(`${gatewayUrl}/metrics/job/${PUSHGATEWAY_JOB}/server/billing/barman%40base64/Y29udGFpbmVyIGJhcm1hbi9ldQ`);
    const [billing] = await served("pgdrill_nightly_success", "billing");
    expect(billing).toEqual({ labels: { server: "billing", barman: "container barman/eu", job: PUSHGATEWAY_JOB, instance: "" }, value: 0 });
    expect(await value("pgdrill_nightly_success", "reporting")).toBe(1);
  });
});

describe("a Pushgateway that refuses, cannot be reached or does not answer: one line, no credentials", () => {
  /** The error a push must fail with. */
  async function pushError(url: string, options: { budgetMs?: number } = {}): Promise<PushgatewayError> {
    const error = await pushToPushgateway(url, fleet([night("main-db", "pass", NIGHT_1_END)]), options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PushgatewayError);
    expect((error as Error).message).not.toContain("\n");
    return error as PushgatewayError;
  }

  test("refused: the group's URL, the HTTP status and the Pushgateway's words", async () => {
    // Another job's pgdrill_nightly_success as a counter: the Pushgateway's consistency check refuses ours, a gauge.
    // The counter is only accepted while no gauge of that name is there: start from an empty Pushgateway.
    expect((await fetch(`${gatewayUrl}/api/v1/admin/wipe`, { method: "PUT" })).status).toBe(202);
    const other = await fetch(`${gatewayUrl}/metrics/job/other/server/x`, {
      method: "PUT",
      body: "# TYPE pgdrill_nightly_success counter\npgdrill_nightly_success 1\n",
    });
    expect(other.status).toBe(200);
    try {
      const error = await pushError(gatewayUrl.replace("http://", "http://nightly:s3cr3t-pw@"));
      expect(error.status).toBe(400);
      expect(error.message).toMatch(
        /^Pushgateway refused PUT http:\/\/\*\*\*@127\.0\.0\.1:\d+\/metrics\/job\/pgdrill_nightly\/server\/main-db\/barman\/SSH%20barman%40backup-1 \(server "main-db"\): HTTP 400: .*pgdrill_nightly_success/,
      );
      expect(error.message).not.toContain("s3cr3t");
    } finally {
      await fetch(`${gatewayUrl}/metrics/job/other/server/x`, { method: "DELETE" });
    }
  });

  test("unreachable: the URL without its password and the connection error", async () => {
    const closedPort = await freePort();
    const error = await pushError(`http://nightly:s3cr3t-pw@127.0.0.1:${closedPort}/`);
    expect(error.message).toBe(
      `Pushgateway cannot be reached for PUT http://***@127.0.0.1:${closedPort}/metrics/job/pgdrill_nightly/server/main-db/barman/SSH%20barman%40backup-1 (server "main-db"): connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    );
    expect(error.status).toBeUndefined();
  });

  test("silent: an endpoint that accepts and never answers ends within the push budget", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket)).listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as { port: number };
    try {
      const started = performance.now();
      const error = await pushError(`http://127.0.0.1:${port}`, { budgetMs: SILENT_ENDPOINT_BUDGET_MS });
      expect(error.message).toMatch(
        /^Pushgateway did not answer PUT http:\/\/127\.0\.0\.1:\d+\/metrics\/job\/pgdrill_nightly\/.* within 0\.5 s \(push budget\)$/,
      );
      expect(performance.now() - started).toBeLessThan(SILENT_ENDPOINT_BUDGET_MS + 2_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test("not an http(s) URL", async () => {
    expect((await pushError("pushgateway:9091")).message).toBe(
      'Pushgateway URL "pushgateway:9091" is not an http(s) URL; expected e.g. http://pushgateway:9091',
    );
  });
});
