// `npm run clean:docker`: removes what drill runs left in Docker. By default only resources of
// runs whose process is gone; with --all, every drill resource (also of a run still going);
// with --run ID [--after-pid PID], one run's, once PID has exited (used on Ctrl-C).
import { assertEngineAnswers, reap } from "../containers/docker-resources.ts";

await assertEngineAnswers();
const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runId = argument("--run");
const afterPid = Number(argument("--after-pid"));
if (Number.isInteger(afterPid) && afterPid > 0) await processGone(afterPid, 30_000);
const all = process.argv.includes("--all");
const summary = await reap(runId ? { runId } : { all });
const names = [...summary.containers, ...summary.networks, ...summary.volumes];
console.log(names.length ? `removed: ${names.join(", ")}` : "nothing to remove");

/** An interrupted Vitest exits within milliseconds; wait for that before removing its containers. */
async function processGone(pid: number, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (performance.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
