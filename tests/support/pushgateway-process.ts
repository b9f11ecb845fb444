// A REAL Pushgateway (Debian's prometheus-pushgateway, installed by scripts/setup-prometheus.sh) for
// the tests: started on 127.0.0.1 with a free port and no persistence, waited for on /-/ready with
// a named budget, and stopped (SIGTERM, then SIGKILL past its budget) so that nothing is left running.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { budgetOf, readSettings } from "../../src/drill/config.ts";
import { pollUntil, withinBudget } from "../../src/support/wait.ts";

/** The Pushgateway's budget for its start and for its stop: the suite's serviceReady (PGDRILL_BUDGET_SERVICE_READY_S). */
export const PUSHGATEWAY_BUDGET = budgetOf(readSettings(), "serviceReady");

/** A TCP port free right now on 127.0.0.1 (the Pushgateway binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error(`no TCP port from ${String(address)}`);
  return address.port;
}

function pushgatewayBinary(): string {
  for (const name of ["prometheus-pushgateway", "pushgateway"]) {
    if (spawnSync(name, ["--version"]).error === undefined) return name;
  }
  throw new Error("no Pushgateway on PATH (prometheus-pushgateway or pushgateway); install it with 'bash scripts/setup-prometheus.sh'");
}

export interface RunningPushgateway {
  url: string;
  /** Everything it logged so far. */
  log(): string;
  /** SIGTERM, SIGKILL after pushgatewayStop; throws when it had to be killed. */
  stop(): Promise<void>;
}

export async function startPushgateway(): Promise<RunningPushgateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  // --persistence.file= : metrics in memory only (Debian's default file is /var/lib/prometheus/pushgateway.data);
  // the admin API lets a test start from an empty Pushgateway (PUT /api/v1/admin/wipe).
  const gateway: ChildProcess = spawn(
    pushgatewayBinary(),
    [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", "--web.enable-admin-api", "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  for (const stream of [gateway.stdout, gateway.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
  }
  const stop = async (): Promise<void> => {
    if (gateway.exitCode !== null || gateway.signalCode !== null) return;
    const exited = once(gateway, "exit");
    gateway.kill("SIGTERM");
    try {
      await withinBudget(`the Pushgateway (pid ${gateway.pid}) gone after SIGTERM`, PUSHGATEWAY_BUDGET, () => exited);
    } catch (error) {
      gateway.kill("SIGKILL");
      await exited;
      throw new Error(`${(error as Error).message}; killed`);
    }
  };

  // /-/ready answering 200; a process that exits fails at once, with its log.
  try {
    await pollUntil({
      what: `the Pushgateway at ${url} ready`,
      budget: PUSHGATEWAY_BUDGET,
      probe: async () => {
        if (gateway.exitCode !== null) throw new Error(`it exited with ${gateway.exitCode}: ${log.trim()}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status;
      },
      done: (status) => status === 200,
      describe: (status) => `HTTP ${status}`,
      intervalMs: 50,
    });
  } catch (error) {
    await stop().catch(() => undefined);
    throw new Error(`${(error as Error).message}; log: ${log.trim()}`);
  }
  return { url, log: () => log, stop };
}
