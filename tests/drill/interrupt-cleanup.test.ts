// Ctrl-C in the middle of a drill must leave nothing behind. This runs the Scenario 12 drill as a
// child Vitest process, interrupts it with SIGINT once its containers are up, and waits until
// every container, network and volume labelled with that process is gone.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as allure from "allure-js-commons";
import { expect, test } from "vitest";
import { docker, LABEL_PID } from "../../containers/docker-resources.ts";
import { budgetOf, readSettings } from "../../src/drill/config.ts";
import { pollUntil } from "../../src/support/wait.ts";

const settings = readSettings();
const VITEST = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));

async function resourcesOf(pid: number): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = { label: [`${LABEL_PID}=${pid}`] };
  const [containers, networks, volumes] = await Promise.all([
    docker().listContainers({ all: true, filters }),
    docker().listNetworks({ filters }),
    docker().listVolumes({ filters }),
  ]);
  return { containers: containers.length, networks: networks.length, volumes: volumes.Volumes?.length ?? 0 };
}

test("Ctrl-C during the drill removes every container, network and volume of the run", async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nothing left behind");
  await allure.story("Interrupted with Ctrl-C");
  // --reporter=default: the child must not write into this run's JUnit and Allure results.
  const child = spawn(process.execPath, [VITEST, "run", "--project", "drill", "tests/drill/drill.test.ts", "--reporter=default"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid!;
  try {
    const running = await pollUntil({
      what: "the interrupted drill's primary and Barman containers running",
      budget: budgetOf(settings, "containerStart"),
      probe: () => resourcesOf(pid),
      done: (r) => r.containers >= 2 && r.networks >= 1 && r.volumes >= 1,
      intervalMs: 100,
    });
    await allure.parameter("resources before Ctrl-C", JSON.stringify(running));
    child.kill("SIGINT");
    const exit = await exited;
    await allure.attachment("interrupted drill output", output, "text/plain");
    expect(exit.code ?? exit.signal, "the interrupted drill does not report success").not.toBe(0);
    expect(output).toMatch(/SIGINT: removing run \S+'s containers in the background/);
    const left = await pollUntil({
      what: "every resource of the interrupted run removed",
      budget: budgetOf(settings, "containerStart"),
      probe: () => resourcesOf(pid),
      done: (r) => r.containers + r.networks + r.volumes === 0,
      intervalMs: 200,
    });
    expect(left).toEqual({ containers: 0, networks: 0, volumes: 0 });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});
