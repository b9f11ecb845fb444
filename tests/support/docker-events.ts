// Docker's own record of what was done to a container: the evidence that a verification over SSH
// never used `docker exec` on the Barman host.
import { randomBytes } from "node:crypto";
import { docker } from "../../containers/docker-resources.ts";
import { execIn } from "../../containers/exec.ts";

interface ExecEvent {
  Action: string;
  timeNano: number;
}

/** The engine's own clock, in seconds (a remote engine's may differ from this host's). */
async function engineNowS(): Promise<number> {
  const info = (await docker().info()) as { SystemTime: string };
  return Date.parse(info.SystemTime) / 1000;
}

/**
 * What `docker exec` did on a container while `action` ran, as Docker's event log tells it. Two
 * control execs of our own bracket the action: they prove the log records execs on this container
 * (a witness that sees nothing proves nothing), and the window between them is measured on the
 * engine's clock alone, so a host clock that differs from a remote engine's cannot shift it.
 */
export async function execsDuring<T>(containerId: string, action: () => Promise<T>): Promise<{ result: T; execs: string[] }> {
  const nonce = randomBytes(6).toString("hex");
  const control = (which: string): Promise<unknown> =>
    execIn(containerId, ["true", `pgdrill-witness-${nonce}-${which}`], { where: "the witnessed container (control exec)" });
  const readFrom = await engineNowS();
  await control("before");
  const result = await action();
  await control("after");
  const stream = (await docker().getEvents({
    // Both ends on the engine's clock; an until in the future would make Docker wait for it.
    since: Math.floor(readFrom) - 1,
    until: Math.ceil(await engineNowS()) + 1,
    filters: { container: [containerId], event: ["exec_create", "exec_start"] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  const events = text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExecEvent)
    .sort((a, b) => a.timeNano - b.timeNano);
  const before = events.filter((e) => e.Action.startsWith("exec_start") && e.Action.includes(`pgdrill-witness-${nonce}-before`)).at(-1);
  const after = events.find((e) => e.Action.startsWith("exec_create") && e.Action.includes(`pgdrill-witness-${nonce}-after`));
  if (!before || !after)
    throw new Error(`Docker's event log does not show the control execs on container ${containerId.slice(0, 12)}: it cannot witness what ran there`);
  const execs = events.filter((e) => e.timeNano > before.timeNano && e.timeNano < after.timeNano).map((e) => e.Action);
  return { result, execs };
}
