// Time and size as the whole suite measures and shows them: the monotonic clock (immune to
// wall-clock jumps), a phase timed on it, seconds and MiB as the summaries print them.

/** Monotonic time in milliseconds. */
export const monotonicNow = (): number => performance.now();

/** A phase's result with its duration on the monotonic clock. */
export async function timed<T extends object>(work: () => Promise<T>): Promise<T & { durationMs: number }> {
  const started = monotonicNow();
  const result = await work();
  return { ...result, durationMs: monotonicNow() - started };
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Bytes in a mebibyte: sizes are shown in MiB, as Barman and du -h show them. */
export const MIB = 1_048_576;

/** `bytes` in MiB with `digits` decimals, without the unit (callers say MiB or MiB/s). */
export const mebibytes = (bytes: number, digits = 1): string => (bytes / MIB).toFixed(digits);
