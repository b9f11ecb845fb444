// The fleet verification's fixture, proven: one Barman host reached only over SSH, holding a
// PostgreSQL 15 and a PostgreSQL 17 server, each with a DONE backup; one backup damaged on disk is
// caught by barman verify-backup, the other passes; and nothing is left in Docker afterwards.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject } from "vitest";
import { BarmanClient } from "../../containers/barman/barman-client.ts";
import { SshTransport } from "../../containers/barman/ssh-transport.ts";
import { docker, LABEL_RUN } from "../../containers/docker-resources.ts";
import { readSettings } from "../../src/config.ts";
import { type FleetServerName, startTwoServerBarmanHost, type TwoServerBarmanHost } from "../support/fleet-host.ts";
import { orderedScenario } from "../support/ordered-steps.ts";

const run = inject("drillRun");
const settings = readSettings();
const say = (line: string): void => console.log(`[fleet-host ${run.runId}] ${line}`);

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nightly verification of an existing Barman server");
  await allure.story("A Barman host with two servers (fixture)");
  await allure.parameter("run id", run.runId);
});

describe("A Barman host with a PostgreSQL 15 and a PostgreSQL 17 server, reached only over SSH", () => {
  let host: TwoServerBarmanHost;
  let stopped = false;
  const overSsh = (server: FleetServerName): BarmanClient => new BarmanClient(new SshTransport(host.ssh), server);

  beforeAll(async () => {
    host = await startTwoServerBarmanHost(run, settings, say);
    say(`started in ${(host.timingsMs.total / 1000).toFixed(1)} s: ${JSON.stringify(host.timingsMs)}`);
  });

  afterAll(async () => {
    if (host && !stopped && !settings.keepResources) await host.stop();
  });

  const steps = orderedScenario({ stepTimeoutMs: 10 * 60_000 });

  steps.step("barman list-server over SSH names both servers", async () => {
    await allure.attachment("fixture start timings (ms)", JSON.stringify(host.timingsMs, null, 2), "application/json");
    expect(host.ssh.destination).toBe("barman@127.0.0.1");
    expect((await overSsh("sales-pg15").listServers()).sort()).toEqual(["billing-pg17", "sales-pg15"]);
  });

  steps.step("each server has a DONE backup of its own PostgreSQL major, more rows archived after it, commit timestamps on PostgreSQL 17 only", async () => {
    for (const server of Object.values(host.servers)) {
      const backup = await overSsh(server.serverName).showBackup(server.backupId);
      await allure.parameter(`${server.serverName} backup`, `${backup.backupId} (PostgreSQL ${backup.postgresVersion})`);
      expect(backup.status, server.serverName).toBe("DONE");
      expect(Math.floor(backup.postgresVersion / 10000), server.serverName).toBe(server.major);
      expect(server.rows.atEndOfArchive, server.serverName).toBeGreaterThan(server.rows.atBackup);
      const { setting } = await server.hosted.primary.one<{ setting: string }>("SELECT current_setting('track_commit_timestamp') AS setting");
      expect(setting, `${server.serverName} track_commit_timestamp`).toBe(server.commitTimestamps ? "on" : "off");
    }
  });

  steps.step("barman verify-backup passes for the healthy server and fails, in Barman's words, for the damaged one", async () => {
    const damaged = await host.damageBackup("billing-pg17");
    await allure.parameter("damaged file", damaged.file);
    const healthy = host.servers["sales-pg15"];
    await expect(overSsh("sales-pg15").verifyBackup(healthy.backupId)).resolves.toMatch(/backup successfully verified/);
    const error = await overSsh("billing-pg17")
      .verifyBackup(damaged.backupId)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    say(`verify-backup of the damaged backup: ${error?.message}`);
    await allure.attachment("verify-backup of the damaged backup", error?.message ?? "(passed)", "text/plain");
    expect(error?.message).toMatch(/barman verify-backup found backup \S+ of billing-pg17 damaged/);
    expect(error?.message, "names the cut file").toContain(damaged.file.split("/data/")[1]);
  });

  steps.step("stopping the environment leaves none of its containers, volumes or networks in Docker", async () => {
    stopped = true;
    await host.stop();
    const mine = { label: [`${LABEL_RUN}=${run.runId}`], name: [host.env.prefix] };
    const [containers, volumes, networks] = await Promise.all([
      docker().listContainers({ all: true, filters: mine }),
      docker().listVolumes({ filters: mine }),
      docker().listNetworks({ filters: mine }),
    ]);
    expect(containers.map((c) => c.Names[0])).toEqual([]);
    expect((volumes.Volumes ?? []).map((v) => v.Name)).toEqual([]);
    expect(networks.map((n) => n.Name)).toEqual([]);
  });
});
