// PostgreSQL's configuration file syntax (postgresql.conf, postgresql.auto.conf), read as the
// server reads it: guc-file.l, token for token. Pure; used by throwaway-config.ts to see what a
// backup's configuration says before the throwaway copy starts with it.

/** One `name = value` line of a PostgreSQL configuration file. */
export interface ConfEntry {
  /** Lowercased (PostgreSQL matches names case-insensitively); include directives are entries named include, include_dir, include_if_exists. */
  name: string;
  /** Quotes and escapes removed. */
  value: string;
  /** 1-based. */
  line: number;
}

export class PostgresqlConfSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    near: string | undefined,
  ) {
    // PostgreSQL's own wording, so that a DBA recognises it.
    super(`syntax error in file "${file}" line ${line}, ${near === undefined ? "near end of line" : `near token "${near}"`}`);
    this.name = "PostgresqlConfSyntaxError";
  }
}

// The parser: PostgreSQL's guc-file.l, token for token. A quoted string cannot span lines, so each
// line is lexed on its own; the longest match wins, ties go to the rule listed first (flex).

type TokenKind = "id" | "qualified_id" | "string" | "unquoted_string" | "integer" | "real" | "equals";
interface Token {
  kind: TokenKind | "error";
  text: string;
}

// LETTER is [A-Za-z_\200-\377] on bytes: every byte of a non-ASCII UTF-8 character is a letter there.
const LETTER = "A-Za-z_\\u0080-\\uffff";
const ID = `[${LETTER}][${LETTER}0-9]*`;
const TOKEN_RULES: ReadonlyArray<[TokenKind, RegExp]> = [
  ["id", new RegExp(ID, "y")],
  ["qualified_id", new RegExp(`${ID}\\.${ID}`, "y")],
  ["string", /'(?:[^'\\\n]|\\[^\n]|'')*'/y],
  ["unquoted_string", new RegExp(`[${LETTER}][${LETTER}0-9\\-._:/]*`, "y")],
  // {SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*, as two expressions: a JavaScript alternation
  // takes the first branch that matches ("0" of "0x1F"), flex the longest.
  ["integer", /[-+]?[0-9]+[a-zA-Z]*/y],
  ["integer", /[-+]?0x[0-9a-fA-F]+[a-zA-Z]*/y],
  ["real", /[-+]?[0-9]*\.[0-9]*(?:[Ee][-+]?[0-9]+)?/y],
  ["equals", /=/y],
];

function lexLine(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < text.length) {
    const ch = text[pos]!;
    if (ch === " " || ch === "\t" || ch === "\r") {
      pos++;
      continue;
    }
    if (ch === "#") break;
    let best: Token | undefined;
    for (const [kind, rule] of TOKEN_RULES) {
      rule.lastIndex = pos;
      const match = rule.exec(text);
      if (match && match[0].length > (best?.text.length ?? 0)) best = { kind, text: match[0] };
    }
    best ??= { kind: "error", text: ch };
    tokens.push(best);
    pos += best.text.length;
  }
  return tokens;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** A quoted value's content: '' is a quote; backslash escapes as PostgreSQL's DeescapeQuotedString. */
function unquote(token: string): string {
  const s = token.slice(1, -1);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\") {
      const next = s[++i] ?? "";
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) out += simple;
      else if (/[0-7]/.test(next)) {
        let octal = next;
        while (octal.length < 3 && /[0-7]/.test(s[i + 1] ?? "")) octal += s[++i];
        out += String.fromCharCode(Number.parseInt(octal, 8) & 0xff);
      } else out += next;
    } else if (ch === "'" && s[i + 1] === "'") {
      out += "'";
      i++;
    } else out += ch;
  }
  return out;
}

/** PostgreSQL folds ASCII letters only (guc_name_compare). */
const lowerAscii = (name: string): string => name.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * The entries of a postgresql.conf (or postgresql.auto.conf) in file order, duplicates included
 * (the last one wins in PostgreSQL). `name = value` or `name value`, # comments, single-quoted
 * values with '' and backslash escapes, names case-insensitive. Include directives are returned
 * as entries, not followed. Throws PostgresqlConfSyntaxError where PostgreSQL would refuse the
 * file, except that a value spelled like a qualified name (a.b) is accepted here: PostgreSQL's
 * grammar refuses it unquoted, and the server will say so itself, at the same line number.
 */
export function parsePostgresqlConf(text: string, fileName = "postgresql.conf"): ConfEntry[] {
  const entries: ConfEntry[] = [];
  text.split("\n").forEach((lineText, index) => {
    const line = index + 1;
    const tokens = lexLine(lineText);
    if (tokens.length === 0) return;
    const [name, ...rest] = tokens;
    if (name!.kind !== "id" && name!.kind !== "qualified_id") throw new PostgresqlConfSyntaxError(fileName, line, name!.text);
    if (rest[0]?.kind === "equals") rest.shift();
    const value = rest.shift();
    if (value === undefined) throw new PostgresqlConfSyntaxError(fileName, line, undefined);
    if (value.kind === "error" || value.kind === "equals") throw new PostgresqlConfSyntaxError(fileName, line, value.text);
    if (rest.length > 0) throw new PostgresqlConfSyntaxError(fileName, line, rest[0]!.text);
    entries.push({ name: lowerAscii(name!.text), value: value.kind === "string" ? unquote(value.text) : value.text, line });
  });
  return entries;
}
