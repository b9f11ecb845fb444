// Docker's own record of what was done to a container: the evidence that a verification over SSH
// never used `docker exec` on the Barman host.
import { docker } from "../../containers/docker-resources.ts";

/** Docker's exec events on a container between two instants: what `docker exec` did there. */
export async function execEvents(containerId: string, since: number, until: number): Promise<string[]> {
  const stream = (await docker().getEvents({
    since: Math.floor(since / 1000),
    until: Math.ceil(until / 1000) + 1,
    filters: { container: [containerId], event: ["exec_create", "exec_start"] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  // Docker's since/until are whole seconds: keep only the events inside the window, to the nanosecond.
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { Action: string; timeNano: number })
    .filter((e) => e.timeNano / 1e6 >= since && e.timeNano / 1e6 <= until)
    .map((e) => e.Action);
}
