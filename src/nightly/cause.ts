// What a DBA reads first when a verification fails: the one line that says why, out of hundreds.
// Barman's restore prints rsync's whole file list before "No space left on device"; a failed
// PostgreSQL start says FATAL after the LOG line that names the cause. Pure functions: the
// verifier keeps every tool's full output in the JSON report, these only choose what to show.

/** A failure's class, which chooses the Action line (src/nightly/verify-existing.ts nextAction). */
export type CauseClass = "disk full" | "ssh" | "permission" | "missing library" | "encryption" | "other";

/** Lines that say why, most telling first; the first pattern that matches anywhere wins. */
const CAUSES: Array<{ cause: CauseClass; line: RegExp }> = [
  { cause: "disk full", line: /No space left on device|Disk quota exceeded|could not extend file|could not write.*: No space/i },
  { cause: "missing library", line: /could not access file "[^"]+": No such file or directory|could not load library/ },
  { cause: "encryption", line: /gpg: decryption failed|[Bb]ad passphrase|passphrase|gpg: .*(no secret key|failed)|[Ee]ncrypt(ed|ion).*(fail|error|not)/ },
  {
    cause: "ssh",
    line: /Connection (closed|reset|refused|timed out)|closed by remote host|Broken pipe|kex_exchange_identification|ssh: connect to host|Host key verification failed|Permission denied \(publickey|client_loop: send disconnect|rsync error: (unexplained error|error in rsync protocol data stream)|connection unexpectedly closed/,
  },
  { cause: "permission", line: /Permission denied|Operation not permitted/ },
];

/** Lines that carry meaning in a tool's output (errors), tried when no known cause matches. */
const ERROR_LINE = /\b(ERROR|FATAL|PANIC|error|failed|cannot|could not)\b/;

/** The cause class of a failure's text. */
export function causeOf(text: string): CauseClass {
  return CAUSES.find((c) => c.line.test(text))?.cause ?? "other";
}

/**
 * The line that says why: the first line matching a known cause, else the last error-looking line,
 * else the last line. Trimmed; never empty for non-empty text.
 */
export function causeLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  for (const { line } of CAUSES) {
    const found = lines.find((l) => line.test(l));
    if (found) return found;
  }
  return lines.filter((l) => ERROR_LINE.test(l)).at(-1) ?? lines.at(-1) ?? "";
}

/**
 * A failure's text for a person: the cause line first, then at most `maxLines` of the rest (its
 * head and tail, where tools put what matters), with how many lines were left out and where the
 * whole text is kept.
 */
export function causeFirst(text: string, options: { maxLines?: number; wholeTextIn?: string } = {}): string {
  const maxLines = options.maxLines ?? 20;
  const lines = text.split("\n").filter((l) => l.trim());
  if (lines.length === 0) return "";
  const cause = causeLine(text);
  const rest = lines.filter((l) => l.trim() !== cause);
  if (rest.length + 1 <= maxLines) return [cause, ...rest].join("\n");
  // The head line usually says which command failed: keep it, then the tail.
  const tailCount = Math.max(1, maxLines - 3);
  const head = rest[0]!;
  const tail = rest.slice(-tailCount);
  const left = rest.length - 1 - tail.length;
  return [cause, head, `[... ${left} more line(s)${options.wholeTextIn ? `, all of them in ${options.wholeTextIn}` : ""} ...]`, ...tail].join("\n");
}

/**
 * PostgreSQL's FATAL or PANIC lines with the LOG, DETAIL and HINT lines around them that say why
 * (a FATAL "configuration file contains errors" follows the LOG line naming the file and the error).
 */
export function fatalWithContext(log: string, options: { before?: number } = {}): string[] {
  const before = options.before ?? 3;
  const lines = log.split("\n").filter((l) => l.trim());
  const telling = /\b(LOG|DETAIL|HINT|WARNING|ERROR|CONTEXT):/;
  // Start-up chatter that never explains a failure.
  const chatter =
    /starting PostgreSQL|listening on|database system was (interrupted|shut down)|redo starts|starting (archive|point-in-time) recovery|restored log file/;
  const picked = new Set<number>();
  lines.forEach((line, i) => {
    if (!/\b(FATAL|PANIC):/.test(line) || /the database system is (starting up|not yet accepting|not accepting)/.test(line)) return;
    for (let j = Math.max(0, i - before); j < i; j++) if (telling.test(lines[j]!) && !chatter.test(lines[j]!)) picked.add(j);
    picked.add(i);
    for (let j = i + 1; j < lines.length && /\b(DETAIL|HINT|CONTEXT):/.test(lines[j]!); j++) picked.add(j);
  });
  return [...picked].sort((a, b) => a - b).map((i) => lines[i]!);
}
