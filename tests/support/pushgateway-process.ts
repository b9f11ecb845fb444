// A REAL Pushgateway (Debian's prometheus-pushgateway, installed by scripts/setup-prometheus.sh) for
// the tests: started on 127.0.0.1 with a free port and no persistence, waited for on /-/ready with
// a named budget, and stopped (SIGTERM, then SIGKILL past its budget) so that nothing is left running.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/** Named time budgets of the Pushgateway process (ms), overridable like the drill's own. */
export const PUSHGATEWAY_BUDGETS_MS = {
  /** The Pushgateway process answering 200 on /-/ready. */
  pushgatewayReady: Number(process.env["PGDRILL_BUDGET_PUSHGATEWAY_READY_S"] ?? 15) * 1000,
  /** The Pushgateway process gone after SIGTERM. */
  pushgatewayStop: 10_000,
};

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
    const { pushgatewayStop } = PUSHGATEWAY_BUDGETS_MS;
    const stopped = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), pushgatewayStop))]);
    if (!stopped) {
      gateway.kill("SIGKILL");
      await exited;
      throw new Error(`the Pushgateway (pid ${gateway.pid}) did not stop within ${pushgatewayStop / 1000} s of SIGTERM; killed`);
    }
  };

  // Polls /-/ready until it answers 200; a process that exits fails at once, with its log.
  const deadline = performance.now() + PUSHGATEWAY_BUDGETS_MS.pushgatewayReady;
  let lastState = "not probed yet";
  for (;;) {
    if (gateway.exitCode !== null) throw new Error(`the Pushgateway exited with ${gateway.exitCode} before it was ready: ${log.trim()}`);
    try {
      const answer = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (answer.ok) return { url, log: () => log, stop };
      lastState = `HTTP ${answer.status}`;
    } catch (error) {
      lastState = `${(error as Error).message} (${String((error as Error).cause ?? "")})`;
    }
    if (performance.now() >= deadline) {
      await stop().catch(() => undefined);
      throw new Error(
        `Pushgateway at ${url} not ready within ${PUSHGATEWAY_BUDGETS_MS.pushgatewayReady / 1000} s (pushgatewayReady); last state: ${lastState}; log: ${log.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // the probe interval, bounded by the budget above
  }
}
