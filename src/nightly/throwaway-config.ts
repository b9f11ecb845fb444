// The configuration a nightly verification starts its throwaway copy with: the backup's own
// postgresql.conf, with what cannot hold in a copy that has no network and must never touch
// production neutralised, plus `-c` settings for the postmaster's command line. PostgreSQL reads
// config_file, then postgresql.auto.conf (which wins over it), and command-line settings win over
// both: so whatever the copy's postgresql.auto.conf says (ALTER SYSTEM on production, Barman's
// restore), the neutralised settings stay neutral. Everything else (max_connections,
// shared_buffers, timezone, ...) is kept verbatim: the copy is meant to behave like production.
//
// A Debian/Ubuntu cluster (pg_createcluster) keeps its configuration in /etc/postgresql/<major>/<name>
// and points outside the data directory (data_directory, hba_file, ident_file, external_pid_file,
// ssl_cert_file, ...). Barman's rsync method copies postgresql.conf, pg_hba.conf and pg_ident.conf
// into the backup, its postgres method (pg_basebackup) the data directory only: then there is no
// postgresql.conf at all. Pure logic: the caller reads the files and starts PostgreSQL.
import { posix } from "node:path";
import { type ConfEntry, parsePostgresqlConf } from "./postgresql-conf.ts";

export type ConfSource = "postgresql.conf" | "postgresql.auto.conf";

export interface ConfigChange {
  setting: string;
  /** The backup's effective value (postgresql.auto.conf wins over postgresql.conf); an include directive's target. */
  from: string;
  /** What the throwaway runs with; null: removed (PostgreSQL's default, or an include not followed). */
  to: string | null;
  why: string;
  /** The file the backup's value came from. */
  source: ConfSource;
}

export interface ThrowawayConfiguration {
  /** The file PostgreSQL reads as config_file: the backup's own lines, neutralised ones commented out with the reason (line numbers kept). */
  file: string;
  /** -c overrides, in order (they also beat postgresql.auto.conf); values as the command line takes them, unquoted, possibly empty. */
  overrides: Array<[string, string]>;
  /** Every setting changed and why, for the report: one entry per setting (and per include directive), in the order the backup's files give them. */
  changes: ConfigChange[];
}

export interface ThrowawayConfigurationInput {
  /** The backup's postgresql.conf (undefined: the backup has none). */
  postgresqlConf: string | undefined;
  /** The restored postgresql.auto.conf (undefined: none). */
  autoConf: string | undefined;
  /** The copy's data directory in the throwaway container. */
  pgdata: string;
  /** The verifier's own hba file (local all all trust). */
  hbaFile: string;
  /** Where the throwaway's socket goes, e.g. /var/run/postgresql. */
  socketDirectory: string;
  /** Shared libraries the recovery image has, named as in shared_preload_libraries (e.g. "pg_stat_statements"); undefined: unknown, keep all. */
  availableLibraries: readonly string[] | undefined;
}

// ---------------------------------------------------------------------------------------------
// What is neutralised, and how.

const INCLUDE_DIRECTIVES = new Set(["include", "include_dir", "include_if_exists"]);

interface Context {
  pgdata: string;
  hbaFile: string;
  socketDirectory: string;
  availableLibraries: ReadonlySet<string> | undefined;
  /** The backup sets data_directory: a configuration kept apart from the data (Debian's layout). */
  debianLayout: boolean;
  /** Settings the copy's postgresql.auto.conf sets: they win over postgresql.conf. */
  inAutoConf: ReadonlySet<string>;
}

interface Replacement {
  /** What the copy runs with; null: removed. */
  to: string | null;
  /** The -c value: `to`, or PostgreSQL's default for a removed setting. */
  value: string;
  why: string;
}

interface Rule {
  names: readonly string[];
  /** Further names the rule covers, e.g. an ssl_*_file a later PostgreSQL adds. */
  pattern?: RegExp;
  /**
   * The -c value given whether or not the backup sets the setting: the copy's safety must not hang on
   * reading the backup right. Only for settings every PostgreSQL the suite can start knows (10 and
   * later): an unknown -c stops the server. Other settings get a -c only when the backup sets them,
   * which proves its server knows them.
   */
  always?: (ctx: Context) => string;
  /** The throwaway's value for the backup's, or undefined when the backup's can stay. */
  replace: (value: string, ctx: Context, name: string, source: ConfSource) => Replacement | undefined;
}

const isAbsolute = (path: string): boolean => path.startsWith("/");
const inside = (path: string, directory: string): boolean => {
  const [p, d] = [posix.normalize(path), posix.normalize(directory).replace(/\/$/, "")];
  return p === d || p.startsWith(`${d}/`);
};

/** "points outside the data directory (Debian layout)" for an absolute path the copy does not have. */
function outside(value: string, ctx: Context): string | undefined {
  if (!isAbsolute(value) || inside(value, ctx.pgdata)) return undefined;
  return `points outside the data directory${ctx.debianLayout ? " (Debian layout)" : ""}`;
}
const withOutside = (reason: string, value: string, ctx: Context): string => {
  const where = outside(value, ctx);
  return where ? `${where}; ${reason}` : reason;
};

/** PostgreSQL's parse_bool: true, yes, on, 1 and their unique prefixes; undefined for anything else. */
export function parsePgBool(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (v.length === 0) return undefined;
  const prefixOf = (word: string, min = 1): boolean => v.length >= min && word.startsWith(v);
  if (prefixOf("true") || prefixOf("yes") || prefixOf("on", 2) || v === "1") return true;
  if (prefixOf("false") || prefixOf("no") || prefixOf("off", 2) || v === "0") return false;
  return undefined;
}

/** A boolean (or boolean-like enum) that must be off: anything PostgreSQL would not read as off is replaced. */
const mustBeOff =
  (why: string): Rule["replace"] =>
  (value) =>
    parsePgBool(value) === false ? undefined : { to: "off", value: "off", why };

/** A setting the copy runs without: removed, given on the command line as PostgreSQL's default. */
const removed =
  (defaultValue: string | ((name: string) => string), why: (value: string, ctx: Context) => string): Rule["replace"] =>
  (value, ctx, name) => {
    const byDefault = typeof defaultValue === "string" ? defaultValue : defaultValue(name);
    return value === byDefault ? undefined : { to: null, value: byDefault, why: why(value, ctx) };
  };

/**
 * A library list (shared_preload_libraries and friends) as PostgreSQL splits it: commas, optional
 * double quotes, surrounding blanks trimmed. Elements keep their spelling.
 */
function splitLibraryList(value: string): string[] {
  const out: string[] = [];
  let current = "";
  let inQuotes = false;
  for (const ch of value) {
    if (ch === '"') inQuotes = !inQuotes;
    if (ch === "," && !inQuotes) {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  out.push(current.trim());
  return out.filter((element) => element.length > 0);
}

/** "$libdir/plugins/auto_explain.so" is auto_explain: the name a recovery image's library list uses. */
const libraryName = (element: string): string =>
  posix
    .basename(element.replace(/^"(.*)"$/, "$1").replace(/""/g, '"'))
    .replace(/\.so$/, "")
    .trim();

const filterLibraries: Rule["replace"] = (value, ctx) => {
  if (ctx.availableLibraries === undefined) return undefined;
  const available = ctx.availableLibraries;
  const elements = splitLibraryList(value);
  const missing = elements.filter((element) => !available.has(element) && !available.has(libraryName(element)));
  if (missing.length === 0) return undefined;
  const kept = elements.filter((element) => !missing.includes(element)).join(",");
  const names = missing.map((element) => `${libraryName(element)}: the recovery image lacks it`).join("; ");
  // Without the library the copy would not start at all (shared_preload_libraries) or would refuse
  // every connection (session_/local_preload_libraries); its own settings (name.setting) stay as
  // placeholders, which PostgreSQL accepts without the library.
  return { to: kept, value: kept, why: `${names}; give an image that has ${missing.length === 1 ? "it" : "them"} with PGDRILL_RECOVERY_IMAGE` };
};

/**
 * Recovery settings in postgresql.conf are production's own (a standby's restore_command, a target
 * someone left there). The copy recovers with what Barman's restore wrote into postgresql.auto.conf
 * only: where that sets the same setting it wins anyway and the line is kept; where it does not,
 * production's is removed (a second recovery target would even stop the server: "multiple recovery
 * targets specified"). Values from postgresql.auto.conf are Barman's and stay untouched.
 */
const productionRecoverySetting =
  (defaultValue: string, why: string): Rule["replace"] =>
  (value, ctx, name, source) =>
    source === "postgresql.auto.conf" || ctx.inAutoConf.has(name) || value === defaultValue ? undefined : { to: null, value: defaultValue, why };
const RECOVERY_WHY = "production's own recovery setting; the copy recovers only with what Barman's restore wrote into postgresql.auto.conf";

const EXTERNAL_PID_FILE = "pgdrill-throwaway.pid";
const ARCHIVE_WHY = "never archive from a copy: its WAL would land in production's archive";
const SSL_OFF = "SSL is off in the throwaway";
const SSL_DEFAULTS: Readonly<Record<string, string>> = { ssl_cert_file: "server.crt", ssl_key_file: "server.key" };

// In this order in `overrides`.
const RULES: readonly Rule[] = [
  {
    names: ["data_directory"],
    always: (ctx) => ctx.pgdata,
    replace: (value, ctx) =>
      value === ctx.pgdata
        ? undefined
        : {
            to: ctx.pgdata,
            value: ctx.pgdata,
            why: `production's data directory${ctx.debianLayout ? " (Debian layout: the configuration is kept apart from the data)" : ""}; the copy's data directory is ${ctx.pgdata}`,
          },
  },
  {
    names: ["hba_file"],
    always: (ctx) => ctx.hbaFile,
    replace: (value, ctx) =>
      value === ctx.hbaFile
        ? undefined
        : {
            to: ctx.hbaFile,
            value: ctx.hbaFile,
            why: withOutside(`the throwaway uses the verifier's own (local socket connections only, trusted): ${ctx.hbaFile}`, value, ctx),
          },
  },
  {
    // Not merely removed: without ident_file PostgreSQL looks for pg_ident.conf in PGDATA or the
    // -D directory, and refuses to start where neither is set. /dev/null is an empty map file in
    // every container.
    names: ["ident_file"],
    always: () => "/dev/null",
    replace: (value, ctx) =>
      value === "/dev/null"
        ? undefined
        : { to: "/dev/null", value: "/dev/null", why: withOutside("no user name maps in the throwaway (its hba file uses none): an empty file", value, ctx) },
  },
  {
    // Not removed: its default is "no file" (NULL), which no -c can say; `-c external_pid_file=`
    // makes PostgreSQL 15 print `could not write external PID file ""` on every start. Next to the
    // socket is where Debian puts it too, and the throwaway can write there. Only when the backup
    // sets it: otherwise the copy writes none, as production did.
    names: ["external_pid_file"],
    replace: (value, ctx) => {
      const path = posix.join(ctx.socketDirectory, EXTERNAL_PID_FILE);
      return value === "" || value === path
        ? undefined
        : { to: path, value: path, why: withOutside("the throwaway writes its own next to its socket", value, ctx) };
    },
  },
  {
    names: ["listen_addresses"],
    always: () => "",
    replace: (value) => (value.trim() === "" ? undefined : { to: "", value: "", why: "the throwaway has no network: local socket connections only" }),
  },
  {
    names: ["unix_socket_directories"],
    always: (ctx) => socketDirectoryValue(ctx.socketDirectory),
    replace: (value, ctx) =>
      value.trim() === ctx.socketDirectory
        ? undefined
        : { to: ctx.socketDirectory, value: socketDirectoryValue(ctx.socketDirectory), why: `the throwaway's socket is in ${ctx.socketDirectory}` },
  },
  {
    // The socket's name follows the port (.s.PGSQL.5432): the verifier's psql looks for 5432.
    names: ["port"],
    always: () => "5432",
    replace: (value) =>
      Number(value) === 5432 ? undefined : { to: "5432", value: "5432", why: "the verifier connects on the default port (the socket's name follows it)" },
  },
  {
    // A group production's machine has and the recovery image may not: the socket could not be created.
    names: ["unix_socket_group"],
    replace: removed("", () => "a group of production's machine, which the recovery image may not have (the socket could not be created)"),
  },
  {
    names: ["ssl"],
    always: () => "off",
    replace: mustBeOff("local socket connections never use SSL; production's certificate and key are not in the backup"),
  },
  {
    // With ssl off none of these is read; removed all the same, so that no production path or
    // secret-fetching command is left active in the copy's configuration.
    names: ["ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file", "ssl_crl_dir", "ssl_dh_params_file", "ssl_passphrase_command"],
    pattern: /^ssl_\w+_(?:file|dir)$/,
    replace: removed(
      (name) => SSL_DEFAULTS[name] ?? "",
      (value, ctx) => withOutside(SSL_OFF, value, ctx),
    ),
  },
  { names: ["archive_mode"], always: () => "off", replace: mustBeOff(ARCHIVE_WHY) },
  {
    // `false` (what Barman's restore writes into postgresql.auto.conf) or nothing cannot archive.
    names: ["archive_command"],
    always: () => "",
    replace: (value) => (["", "false", "/bin/false"].includes(value.trim()) ? undefined : { to: null, value: "", why: ARCHIVE_WHY }),
  },
  // PostgreSQL 15 and later only: a -c only when the backup sets it.
  { names: ["archive_library"], replace: removed("", () => ARCHIVE_WHY) },
  {
    names: ["primary_conninfo", "primary_slot_name"],
    replace: removed("", () => "the throwaway is no standby of production and has no network"),
  },
  {
    names: ["synchronous_standby_names"],
    always: () => "",
    replace: (value) =>
      value.trim() === "" ? undefined : { to: "", value: "", why: "a commit in the copy would otherwise wait forever for a standby that is not there" },
  },
  { names: ["restore_command"], replace: productionRecoverySetting("", `${RECOVERY_WHY} (production's would fetch WAL from production's archive)`) },
  { names: ["archive_cleanup_command"], replace: removed("", () => "would remove WAL from an archive; the copy must never touch one") },
  {
    names: ["recovery_end_command", "recovery_target", "recovery_target_name", "recovery_target_time", "recovery_target_xid", "recovery_target_lsn"],
    replace: productionRecoverySetting("", RECOVERY_WHY),
  },
  { names: ["recovery_target_inclusive"], replace: productionRecoverySetting("on", RECOVERY_WHY) },
  { names: ["recovery_target_timeline"], replace: productionRecoverySetting("latest", RECOVERY_WHY) },
  { names: ["recovery_target_action"], replace: productionRecoverySetting("pause", RECOVERY_WHY) },
  { names: ["promote_trigger_file"], replace: productionRecoverySetting("", RECOVERY_WHY) },
  {
    names: ["logging_collector"],
    always: () => "off",
    replace: mustBeOff("the verifier reads the log from the container's standard error"),
  },
  {
    names: ["log_destination"],
    always: () => "stderr",
    replace: (value) =>
      value.trim().toLowerCase() === "stderr"
        ? undefined
        : { to: "stderr", value: "stderr", why: "the verifier reads the log from the container's standard error" },
  },
  {
    // The verifier recognises PostgreSQL's log lines in English ("database system is ready to accept
    // connections"); a locale the recovery image lacks would even stop the server. C, POSIX and
    // English locales stay as they are.
    names: ["lc_messages"],
    replace: (value) =>
      value === "" || /^(?:C|POSIX|en(?:_[A-Za-z]+)?)(?:[.@].*)?$/i.test(value)
        ? undefined
        : { to: "C", value: "C", why: "the verifier reads PostgreSQL's log messages in English" },
  },
  {
    names: ["huge_pages"],
    replace: (value) =>
      parsePgBool(value) === true
        ? { to: "try", value: "try", why: "the throwaway's host may have no huge pages reserved; try uses them where it has" }
        : undefined,
  },
  {
    // PostgreSQL 14 and earlier; Debian points it at a tmpfs directory that pg_ctlcluster creates.
    names: ["stats_temp_directory"],
    replace: (value, ctx) =>
      outside(value, ctx) === undefined
        ? undefined
        : { to: null, value: "pg_stat_tmp", why: `${outside(value, ctx)}; PostgreSQL's default pg_stat_tmp is inside the copy's data directory` },
  },
  { names: ["shared_preload_libraries", "session_preload_libraries", "local_preload_libraries"], replace: filterLibraries },
];
// Deliberately kept (paths or commands, but harmless in the copy): krb_server_keyfile (read only
// for GSSAPI logins; the throwaway's hba trusts the socket), dynamic_library_path (directories that
// do not exist are skipped), log_directory and log_filename (unused with logging_collector off),
// ssl_ciphers and friends (no files; SSL is off), cluster_name.

/** A list setting's value: a directory with a comma, a blank or a quote must be double-quoted. */
function socketDirectoryValue(directory: string): string {
  return /[\s,"]/.test(directory) ? `"${directory.replace(/"/g, '""')}"` : directory;
}

function ruleFor(name: string): Rule | undefined {
  return RULES.find((rule) => rule.names.includes(name)) ?? RULES.find((rule) => rule.pattern?.test(name));
}

const includeWhy = "not in the backup: Barman copies postgresql.conf, pg_hba.conf and pg_ident.conf only; its settings are not applied";

/** A comment stays one line whatever a value holds. */
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, " ");

/** The throwaway's configuration for a backup (see the top of this file). */
export function throwawayConfiguration(input: ThrowawayConfigurationInput): ThrowawayConfiguration {
  const main = input.postgresqlConf === undefined ? [] : parsePostgresqlConf(input.postgresqlConf, "postgresql.conf");
  // Include directives in postgresql.auto.conf (only a hand edit puts them there) cannot be undone
  // from the command line; ALTER SYSTEM never writes them, so they are ignored here.
  const auto = input.autoConf === undefined ? [] : parsePostgresqlConf(input.autoConf, "postgresql.auto.conf").filter((e) => !INCLUDE_DIRECTIVES.has(e.name));
  const mainSettings = main.filter((e) => !INCLUDE_DIRECTIVES.has(e.name));

  // The backup's effective values: last wins, postgresql.auto.conf after postgresql.conf.
  const effective = new Map<string, { entry: ConfEntry; source: ConfSource }>();
  for (const entry of mainSettings) effective.set(entry.name, { entry, source: "postgresql.conf" });
  for (const entry of auto) effective.set(entry.name, { entry, source: "postgresql.auto.conf" });

  const ctx: Context = {
    pgdata: input.pgdata,
    hbaFile: input.hbaFile,
    socketDirectory: input.socketDirectory,
    availableLibraries: input.availableLibraries === undefined ? undefined : new Set(input.availableLibraries),
    // data_directory cannot come from postgresql.auto.conf (ALTER SYSTEM refuses it).
    debianLayout: mainSettings.some((e) => e.name === "data_directory"),
    inAutoConf: new Set(auto.map((e) => e.name)),
  };

  // Changes, one per setting from its effective value; the include directives one per line.
  const located: Array<{ change: ConfigChange; order: [number, number] }> = [];
  const neutralised = new Map<string, Replacement>();
  for (const [name, { entry, source }] of effective) {
    const replacement = ruleFor(name)?.replace(entry.value, ctx, name, source);
    if (!replacement) continue;
    neutralised.set(name, replacement);
    located.push({
      change: { setting: name, from: entry.value, to: replacement.to, why: replacement.why, source },
      order: [source === "postgresql.conf" ? 0 : 1, entry.line],
    });
  }
  for (const entry of main.filter((e) => INCLUDE_DIRECTIVES.has(e.name))) {
    located.push({ change: { setting: entry.name, from: entry.value, to: null, why: includeWhy, source: "postgresql.conf" }, order: [0, entry.line] });
  }
  const changes = located.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]).map((l) => l.change);

  const overrides: Array<[string, string]> = [];
  for (const rule of RULES) {
    for (const name of rule.names) {
      const replacement = neutralised.get(name);
      if (replacement) overrides.push([name, replacement.value]);
      else if (rule.always) overrides.push([name, rule.always(ctx)]);
    }
    // Names only the pattern knows (a later PostgreSQL's ssl_*_file), as the backup gives them.
    for (const [name, replacement] of neutralised) if (!rule.names.includes(name) && ruleFor(name) === rule) overrides.push([name, replacement.value]);
  }

  const trailer = [
    "# The verifier starts PostgreSQL with these settings on its command line, where they also win",
    "# over the copy's postgresql.auto.conf:",
    ...overrides.map(([name, value]) => oneLine(`#   -c ${name}=${value}`)),
  ];
  if (input.postgresqlConf === undefined) {
    const file = [
      "# pgdrill nightly verification: the backup carried no postgresql.conf (a backup by Barman's",
      "# postgres method holds the data directory only, and this cluster kept its configuration outside",
      "# it). PostgreSQL runs with its defaults, the copy's postgresql.auto.conf and the settings below.",
      ...trailer,
      "",
    ].join("\n");
    return { file, overrides, changes };
  }

  // The backup's own lines; a neutralised one is commented out where it stands, so that PostgreSQL's
  // line numbers in its messages are the backup's. Every line the rules replace goes, not only the
  // effective one: an earlier duplicate would be inert, but must not read as active.
  const byLine = new Map(main.map((entry) => [entry.line, entry]));
  const lines = input.postgresqlConf.split("\n").map((raw, index) => {
    const text = raw.replace(/\r$/, "");
    const entry = byLine.get(index + 1);
    if (!entry) return text;
    const why = INCLUDE_DIRECTIVES.has(entry.name) ? includeWhy : ruleFor(entry.name)?.replace(entry.value, ctx, entry.name, "postgresql.conf")?.why;
    return why === undefined ? text : oneLine(`#PGDRILL# ${text}  # PGDRILL: ${why}`);
  });
  if (lines.at(-1) === "") lines.pop();
  const file = [
    ...lines,
    "",
    "# ------------------------------------------------------------------------------",
    "# pgdrill nightly verification: the backup's postgresql.conf for a throwaway copy. Lines",
    "# starting #PGDRILL# are the backup's, neutralised (the reason follows each); include",
    "# directives are not followed.",
    ...trailer,
    "",
  ].join("\n");
  return { file, overrides, changes };
}
