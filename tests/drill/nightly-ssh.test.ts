// Nightly verification of an existing Barman server reached over SSH, as production has it. The
// test sets up "the existing backup host" (Scenario 12's primary and Barman, a backup taken), with
// the Barman server's sshd published on 127.0.0.1, a key made for the test and the host key pinned
// in a known_hosts file; the verification gets only the SSH destination, port, key and known_hosts.
// Docker's own event log shows that it never used `docker exec` on the Barman container. The
// faults each end in one clear line, and nothing is left on the Barman host or in Docker.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from "vitest";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import { runLabels } from "../../containers/docker-resources.ts";
import { execIn } from "../../containers/exec.ts";
import { sshAccess } from "../../fixtures/ssh-access.ts";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import { prepareDisaster } from "../../src/engine/gate.ts";
import { prepareTopology, resolvePlan } from "../../src/engine/phases.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import type { NightlyResult } from "../../src/nightly/nightly-result.ts";
import { recoveryImageResolver } from "../../src/nightly/recovery-image.ts";
import { verifyExistingBackup } from "../../src/nightly/verify-existing.ts";
import { execsDuring } from "../support/docker-events.ts";
import { leftoverThrowaways, workDirectoriesOnBarman } from "../support/nightly-evidence.ts";

const run = inject("drillRun");
const loaded = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);
const plan = await resolvePlan(loaded);
const say = (line: string): void => console.log(`[nightly-ssh ${run.runId}] ${line}`);
const sh = promisify(execFile);

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nightly verification of an existing Barman server");
  await allure.story("Over SSH");
  await allure.parameter("run id", run.runId);
});

describe("Nightly verification over SSH (a Barman host reached only with the OpenSSH client)", () => {
  let env: DrillEnvironment;
  let keys: string;
  let ssh: SshTarget;
  const verify = (target: SshTarget, server = plan.serverName): Promise<NightlyResult> =>
    verifyExistingBackup({
      barman: { ssh: target },
      server,
      backup: "latest",
      // The checks expect the backup's own state (the disaster follows it in the archive): backup only.
      target: { kind: "immediate" },
      checks: [{ name: "orders at the backup", sql: "SELECT count(*) FROM orders", expected: [[loaded.config.expect!.baseline!["orders"]]] }],
      database: plan.database,
      recoveryImage: async () => run.images.postgres,
      runId: run.runId,
      labels: runLabels(run.runId, run.ownerPid),
      budgetsMs: settings.budgetsMs,
      progress: say,
    });

  beforeAll(async () => {
    env = await prepareTopology(plan, { name: "nightly-ssh", run, settings, progress: say, publishBarmanSsh: true });
    await prepareDisaster(env, plan, say);
    keys = await mkdtemp(join(tmpdir(), "pgdrill-ssh-"));
    ssh = await sshAccess(env, keys);
    const endpoint = await env.barmanServer.sshEndpoint();
    // A known_hosts that records another key for the same host: a changed host key.
    const { stdout: otherKey } = await sh("cat", [join(keys, "id_other.pub")]);
    await writeFile(join(keys, "known_hosts_changed"), `[${endpoint.host}]:${endpoint.port} ${otherKey.split(" ").slice(0, 2).join(" ")}\n`);
    await writeFile(join(keys, "known_hosts_empty"), "");
    say(`Barman host's sshd at ${endpoint.host}:${endpoint.port}`);
  });

  afterAll(async () => {
    await env?.stop();
    if (keys) await rm(keys, { recursive: true, force: true });
  });

  test("the backup verifies over SSH, without any docker exec on the Barman container, and nothing is left", async () => {
    const { result, execs } = await execsDuring(env.barmanServer.getId(), () => verify(ssh));
    await allure.attachment("nightly result", JSON.stringify(result, null, 2), "application/json");
    expect(result.problems).toEqual([]);
    expect(result.verdict).toBe("pass");
    expect(result.barman).toBe(`SSH ${ssh.destination} port ${ssh.port}`);
    expect(result.phasesMs.transferMs).toBeGreaterThan(0);
    expect(execs, "docker exec on the Barman container during the verification").toEqual([]);
    expect(await workDirectoriesOnBarman(env)).toEqual([]);
    expect(await leftoverThrowaways()).toEqual([]);
  });

  test.each([
    ["an unknown host key", "known_hosts_empty", /its host key is not in known_hosts \(strict host key checking\)/],
    ["a changed host key", "known_hosts_changed", /the host key has CHANGED since it was recorded in known_hosts/],
  ])("%s is refused in one clear line", async (_what, file, message) => {
    const error = await verify({ ...ssh, knownHostsFile: join(keys, file) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(message);
    expect(error?.message.split("\n")).toHaveLength(1);
    say(`refused as expected: ${error?.message}`);
  });

  test.each<[string, { identityFile?: string; destination?: string }]>([
    ["a key the Barman host does not know", { identityFile: "id_other" }],
    ["a user without that key", { destination: "postgres" }],
  ])("%s: permission denied, in one clear line", async (_what, change) => {
    const target: SshTarget = {
      ...ssh,
      ...(change.identityFile ? { identityFile: join(keys, change.identityFile) } : {}),
      ...(change.destination ? { destination: `${change.destination}@${ssh.destination.split("@")[1]}` } : {}),
    };
    const error = await verify(target).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^SSH to .+: permission denied \(wrong user or key\)/);
    say(`refused as expected: ${error?.message}`);
  });

  test("a Barman host without the named server says which servers it has", async () => {
    const error = await verify(ssh, "no-such-server").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe(`Barman in SSH ${ssh.destination} port ${ssh.port} has no server named 'no-such-server'; its servers: ${plan.serverName}`);
  });

  test("the SSH connection dropped in the middle of the transfer: red in the transfer phase, the directory on the Barman host removed", async () => {
    // The fault, set up from outside (the test's own docker exec): the next tar on the Barman host
    // sends its first MiB, then the barman user's sshd sessions are killed, as when the link drops.
    await execIn(
      env.barmanServer.getId(),
      [
        "bash",
        "-c",
        [
          "cat > /usr/local/bin/tar <<'EOF'",
          "#!/bin/sh",
          "if [ -e /var/tmp/pgdrill-cut-transfer ]; then",
          "  rm -f /var/tmp/pgdrill-cut-transfer",
          '  /usr/bin/tar "$@" | head -c 1048576',
          "  pkill -KILL -f 'sshd(-session)?: barman' 2>/dev/null",
          "  exit 1",
          "fi",
          'exec /usr/bin/tar "$@"',
          "EOF",
          "chmod 0755 /usr/local/bin/tar",
          "touch /var/tmp/pgdrill-cut-transfer && chown barman:barman /var/tmp/pgdrill-cut-transfer",
        ].join("\n"),
      ],
      { user: "root", where: "the Barman server" },
    );
    try {
      const result = await verify(ssh);
      await allure.attachment("nightly result", JSON.stringify(result, null, 2), "application/json");
      say(`red as expected: ${result.problems.join("; ")}`);
      expect(result.verdict).toBe("fail");
      expect(result.failedPhase).toBe("transfer");
      expect(result.problems[0]).toMatch(/could not be copied into the throwaway instance: SSH to barman@.+ failed: .*closed by remote host/);
      expect(await workDirectoriesOnBarman(env)).toEqual([]);
      expect(await leftoverThrowaways()).toEqual([]);
    } finally {
      await execIn(env.barmanServer.getId(), ["rm", "-f", "/usr/local/bin/tar", "/var/tmp/pgdrill-cut-transfer"], { user: "root", where: "the Barman server" });
    }
  });
});

describe("Over SSH, a PostgreSQL 17 backup is verified in a PostgreSQL 17 throwaway instance (the version from Barman's metadata)", () => {
  let env: DrillEnvironment;
  let keys: string;

  beforeAll(async () => {
    const plan17 = await resolvePlan(loaded, { platform: { postgres: "17", barman: "3.13" } });
    env = await prepareTopology(plan17, { name: "nightly-ssh-17", run, settings, progress: say, publishBarmanSsh: true });
    await prepareDisaster(env, plan17, say);
    keys = await mkdtemp(join(tmpdir(), "pgdrill-ssh17-"));
  });

  afterAll(async () => {
    await env?.stop();
    if (keys) await rm(keys, { recursive: true, force: true });
  });

  test("the throwaway runs PostgreSQL 17, chosen from the backup, and the checks pass", async () => {
    const images: string[] = [];
    const resolve = recoveryImageResolver({ override: settings.recoveryImage, baseOverride: settings.baseImage, progress: say });
    const result = await verifyExistingBackup({
      barman: { ssh: await sshAccess(env, keys) },
      server: plan.serverName,
      backup: "latest",
      // The checks expect the backup's own state (the disaster follows it in the archive): backup only.
      target: { kind: "immediate" },
      checks: [
        { name: "orders at the backup", sql: "SELECT count(*) FROM orders", expected: [[loaded.config.expect!.baseline!["orders"]]] },
        { name: "server major version", sql: "SELECT current_setting('server_version_num')::int / 10000", expected: [[17]] },
      ],
      database: plan.database,
      recoveryImage: async (major) => {
        const image = await resolve(major);
        images.push(`${major}: ${image}`);
        return image;
      },
      runId: run.runId,
      labels: runLabels(run.runId, run.ownerPid),
      budgetsMs: settings.budgetsMs,
      progress: say,
    });
    await allure.attachment("nightly result", JSON.stringify(result, null, 2), "application/json");
    expect(result.problems).toEqual([]);
    expect(images).toEqual([expect.stringMatching(/^17: pgdrill\/postgres:17-/)]);
    expect(await leftoverThrowaways()).toEqual([]);
  });
});
