// samples/debian-15-main-postgresql.conf: /etc/postgresql/15/main/postgresql.conf exactly as `pg_createcluster 15 main` wrote it (nothing edited after), bookworm's postgresql-15 15.20-0+deb12u1 and postgresql-common / postgresql-client-common 248+deb12u2 (apt-get download, dpkg-deb -x, bind-mounted over the installed copies), run as root in `unshare -mn` with tmpfs over /etc/postgresql, /var/lib/postgresql, /var/run/postgresql, /var/log/postgresql and /etc/postgresql-common (the package's createcluster.conf, a placeholder root.crt), an openssl-made snakeoil pair in /etc/ssl/certs and /etc/ssl/private (key group ssl-cert), LANG=C.UTF-8 TZ=Etc/UTC.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { PostgresqlConfSyntaxError, parsePostgresqlConf } from "../../src/nightly/postgresql-conf.ts";
import { type ConfigChange, parsePgBool, throwawayConfiguration } from "../../src/nightly/throwaway-config.ts";

const sample = (name: string): string => readFileSync(new URL(`./samples/${name}`, import.meta.url), "utf8");
const DEBIAN = sample("debian-15-main-postgresql.conf");
/** What Barman 3.20's `restore --target-time` appended to postgresql.auto.conf (restore_command, recovery_end_command, targets). */
const BARMAN_AUTO_CONF = sample("barman-3.20-restore-auto.conf.txt");

const PGDATA = "/var/tmp/pgdrill-verify-1/pgdata";
const BASE = { pgdata: PGDATA, hbaFile: "/etc/pgdrill/verify_hba.conf", socketDirectory: "/var/run/postgresql", availableLibraries: ["pg_stat_statements"] };

/** The overrides every throwaway gets, whatever the backup says. */
const ALWAYS: Array<[string, string]> = [
  ["data_directory", PGDATA],
  ["hba_file", "/etc/pgdrill/verify_hba.conf"],
  ["ident_file", "/dev/null"],
  ["listen_addresses", ""],
  ["unix_socket_directories", "/var/run/postgresql"],
  ["port", "5432"],
  ["ssl", "off"],
  ["archive_mode", "off"],
  ["archive_command", ""],
  ["synchronous_standby_names", ""],
  ["logging_collector", "off"],
  ["log_destination", "stderr"],
];

const summary = (changes: ConfigChange[]): Array<[string, string, string | null]> => changes.map((c) => [c.setting, c.from, c.to]);
const activeNames = (file: string): string[] => parsePostgresqlConf(file).map((e) => e.name);
/** The lines of the generated file that stand for the backup's lines (the trailer after them). */
const backupPart = (file: string, original: string): string[] => file.split("\n").slice(0, original.replace(/\n$/, "").split("\n").length);

describe("parsePostgresqlConf", () => {
  test("the Debian sample: exactly the settings pg_createcluster and initdb set, with their line numbers", () => {
    expect(parsePostgresqlConf(DEBIAN).map((e) => [e.name, e.value, e.line])).toEqual([
      ["data_directory", "/var/lib/postgresql/15/main", 42],
      ["hba_file", "/etc/postgresql/15/main/pg_hba.conf", 44],
      ["ident_file", "/etc/postgresql/15/main/pg_ident.conf", 46],
      ["external_pid_file", "/var/run/postgresql/15-main.pid", 50],
      ["port", "5432", 64],
      ["max_connections", "100", 65],
      ["unix_socket_directories", "/var/run/postgresql", 67],
      ["ssl", "on", 105],
      ["ssl_cert_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem", 107],
      ["ssl_key_file", "/etc/ssl/private/ssl-cert-snakeoil.key", 110],
      ["shared_buffers", "128MB", 127],
      ["dynamic_shared_memory_type", "posix", 150],
      ["max_wal_size", "1GB", 241],
      ["min_wal_size", "80MB", 242],
      // createcluster.conf's %% became %, and the trailing blank is part of the value.
      ["log_line_prefix", "%m [%p] %q%u@%d ", 559],
      ["log_timezone", "Etc/UTC", 597],
      ["cluster_name", "15/main", 604],
      ["datestyle", "iso, mdy", 711],
      ["timezone", "Etc/UTC", 713],
      ["lc_messages", "C.UTF-8", 727],
      ["lc_monetary", "C.UTF-8", 729],
      ["lc_numeric", "C.UTF-8", 730],
      ["lc_time", "C.UTF-8", 731],
      ["default_text_search_config", "pg_catalog.english", 734],
      ["include_dir", "conf.d", 806],
    ]);
  });

  test("quotes: '' and \\' are a quote, backslash escapes, # inside quotes is no comment", () => {
    const conf = [
      "a = 'it''s'",
      "b = 'it\\'s'",
      "c = 'tab\\there\\nnewline, \\101 octal, \\\\ backslash, \\q plain'",
      "d = 'a # not a comment'   # a comment",
      "e = ''",
      "f = '%m [%p] '",
    ].join("\n");
    expect(Object.fromEntries(parsePostgresqlConf(conf).map((e) => [e.name, e.value]))).toEqual({
      a: "it's",
      b: "it's",
      c: "tab\there\nnewline, A octal, \\ backslash, q plain",
      d: "a # not a comment",
      e: "",
      f: "%m [%p] ",
    });
  });

  test("unquoted values, comments after values, no '=', mixed case, qualified names, blank and comment lines", () => {
    const conf = [
      "# a comment line",
      "",
      "   \t",
      "shared_buffers = 128MB\t# min 128kB",
      "Max_Connections 200",
      "WORK_MEM=4MB#no blank before the comment",
      "statement_timeout = -1",
      "checkpoint_completion_target = 0.9",
      "huge_pages=try",
      "pg_stat_statements.max = 10000",
      "lc_messages = en_US.UTF-8",
      "log_file_mode = 0x1A0",
      "log_directory = pg_log/sub:dir",
    ].join("\n");
    expect(parsePostgresqlConf(conf).map((e) => [e.name, e.value, e.line])).toEqual([
      ["shared_buffers", "128MB", 4],
      ["max_connections", "200", 5],
      ["work_mem", "4MB", 6],
      ["statement_timeout", "-1", 7],
      ["checkpoint_completion_target", "0.9", 8],
      ["huge_pages", "try", 9],
      ["pg_stat_statements.max", "10000", 10],
      ["lc_messages", "en_US.UTF-8", 11],
      ["log_file_mode", "0x1A0", 12],
      ["log_directory", "pg_log/sub:dir", 13],
    ]);
  });

  test("duplicates are all returned, in order; include directives are entries, not followed", () => {
    const conf = "port = 5433\ninclude 'extra.conf'\nPORT = 5434\ninclude_dir = 'conf.d'\ninclude_if_exists = '/etc/pg/local.conf'\n";
    expect(parsePostgresqlConf(conf).map((e) => [e.name, e.value])).toEqual([
      ["port", "5433"],
      ["include", "extra.conf"],
      ["port", "5434"],
      ["include_dir", "conf.d"],
      ["include_if_exists", "/etc/pg/local.conf"],
    ]);
  });

  test("CRLF line ends and a last line without a newline", () => {
    expect(parsePostgresqlConf("a = 1\r\nb = 'x'\r\nc = on").map((e) => [e.name, e.value, e.line])).toEqual([
      ["a", "1", 1],
      ["b", "x", 2],
      ["c", "on", 3],
    ]);
  });

  test.each([
    ["an unquoted path", "unix_socket_directories = /tmp", 'syntax error in file "postgresql.conf" line 1, near token "/"'],
    ["an unterminated quote", "a = 'abc", `syntax error in file "postgresql.conf" line 1, near token "'"`],
    ["no value", "\nport =", 'syntax error in file "postgresql.conf" line 2, near end of line'],
    ["two values", "search_path = a b", 'syntax error in file "postgresql.conf" line 1, near token "b"'],
    ["a name that is no identifier", "ssl-cert = on", 'syntax error in file "postgresql.conf" line 1, near token "ssl-cert"'],
    ["a value made of an equals sign", "a = =", 'syntax error in file "postgresql.conf" line 1, near token "="'],
  ])("%s: PostgreSQL's own message, with the line", (_, conf, message) => {
    expect(() => parsePostgresqlConf(conf)).toThrow(PostgresqlConfSyntaxError);
    expect(() => parsePostgresqlConf(conf)).toThrow(message);
  });

  test("parsePgBool reads booleans as PostgreSQL does (unique prefixes, on/off need two letters)", () => {
    expect(["on", "ON", "true", "t", "yes", "y", "1"].map(parsePgBool)).toEqual(Array(7).fill(true));
    expect(["off", "of", "false", "f", "no", "n", "0"].map(parsePgBool)).toEqual(Array(7).fill(false));
    expect(["o", "", "always", "try", "2"].map(parsePgBool)).toEqual(Array(5).fill(undefined));
  });
});

describe("throwawayConfiguration: the Debian sample as pg_createcluster wrote it", () => {
  const result = throwawayConfiguration({ ...BASE, postgresqlConf: DEBIAN, autoConf: BARMAN_AUTO_CONF });

  test("changes: the paths outside the data directory, SSL, the include; each once, with the backup's value", () => {
    expect(summary(result.changes)).toEqual([
      ["data_directory", "/var/lib/postgresql/15/main", PGDATA],
      ["hba_file", "/etc/postgresql/15/main/pg_hba.conf", "/etc/pgdrill/verify_hba.conf"],
      ["ident_file", "/etc/postgresql/15/main/pg_ident.conf", "/dev/null"],
      ["external_pid_file", "/var/run/postgresql/15-main.pid", "/var/run/postgresql/pgdrill-throwaway.pid"],
      ["ssl", "on", "off"],
      ["ssl_cert_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem", null],
      ["ssl_key_file", "/etc/ssl/private/ssl-cert-snakeoil.key", null],
      ["include_dir", "conf.d", null],
    ]);
    expect(result.changes.every((c) => c.source === "postgresql.conf")).toBe(true);
    const why = Object.fromEntries(result.changes.map((c) => [c.setting, c.why]));
    expect(why["data_directory"]).toBe(
      `production's data directory (Debian layout: the configuration is kept apart from the data); the copy's data directory is ${PGDATA}`,
    );
    expect(why["hba_file"]).toMatch(
      /^points outside the data directory \(Debian layout\); the throwaway uses the verifier's own .*: \/etc\/pgdrill\/verify_hba.conf$/,
    );
    expect(why["ssl_key_file"]).toBe("points outside the data directory (Debian layout); SSL is off in the throwaway");
    expect(why["include_dir"]).toBe("not in the backup: Barman copies postgresql.conf, pg_hba.conf and pg_ident.conf only; its settings are not applied");
  });

  test("the socket directory and port already are the throwaway's: no change, still on the command line", () => {
    expect(result.changes.map((c) => c.setting)).not.toContain("unix_socket_directories");
    expect(result.changes.map((c) => c.setting)).not.toContain("port");
    expect(result.overrides).toContainEqual(["unix_socket_directories", "/var/run/postgresql"]);
    expect(result.overrides).toContainEqual(["port", "5432"]);
  });

  test("overrides: the fixed set, plus the PID file and a default for each removed SSL file; Barman's recovery settings are left alone", () => {
    expect(result.overrides).toEqual([
      ...ALWAYS.slice(0, 3),
      ["external_pid_file", "/var/run/postgresql/pgdrill-throwaway.pid"],
      ...ALWAYS.slice(3, 7),
      ["ssl_cert_file", "server.crt"],
      ["ssl_key_file", "server.key"],
      ...ALWAYS.slice(7),
    ]);
    const names = result.overrides.map(([name]) => name);
    for (const barman of ["restore_command", "recovery_end_command", "recovery_target_time", "recovery_target_action"]) expect(names).not.toContain(barman);
  });

  test("the file parses, has no active path, SSL or include line, and keeps every other line where it was", () => {
    const active = activeNames(result.file);
    for (const gone of ["data_directory", "hba_file", "ident_file", "external_pid_file", "ssl", "ssl_cert_file", "ssl_key_file", "include_dir"]) {
      expect(active).not.toContain(gone);
    }
    const kept = parsePostgresqlConf(result.file);
    expect(kept.map((e) => e.name)).toEqual(
      parsePostgresqlConf(DEBIAN)
        .map((e) => e.name)
        .filter(
          (name) => !["data_directory", "hba_file", "ident_file", "external_pid_file", "ssl", "ssl_cert_file", "ssl_key_file", "include_dir"].includes(name),
        ),
    );
    // Line numbers are the backup's: PostgreSQL's messages about the file point at the same line.
    const original = DEBIAN.split("\n");
    backupPart(result.file, DEBIAN).forEach((line, index) => {
      expect(line === original[index] || line.startsWith(`#PGDRILL# ${original[index]}  # PGDRILL: `)).toBe(true);
    });
    expect(backupPart(result.file, DEBIAN)[41]).toBe(
      `#PGDRILL# data_directory = '/var/lib/postgresql/15/main'\t\t# use data in another directory  # PGDRILL: production's data directory (Debian layout: the configuration is kept apart from the data); the copy's data directory is ${PGDATA}`,
    );
    expect(kept.find((e) => e.name === "log_line_prefix")).toEqual({ name: "log_line_prefix", value: "%m [%p] %q%u@%d ", line: 559 });
  });

  test("the file ends with the command-line settings, as comments", () => {
    expect(result.file).toContain("#   -c data_directory=/var/tmp/pgdrill-verify-1/pgdata\n");
    expect(result.file).toContain("#   -c listen_addresses=\n");
    expect(result.file.endsWith("#   -c log_destination=stderr\n")).toBe(true);
  });
});

describe("throwawayConfiguration: the Debian sample with a production DBA's settings", () => {
  // What a production primary adds at the end of Debian's file (after "Add settings for extensions here").
  const customised = `${DEBIAN}
listen_addresses = '*'
port = 5433
unix_socket_directories = '/var/run/postgresql,/tmp'
unix_socket_group = 'dbaccess'
ssl_ca_file = '/etc/postgresql-common/root.crt'
ssl_crl_dir = '/etc/ssl/crl'
ssl_passphrase_command = '/usr/local/bin/vault-read pg-key'
wal_level = replica
archive_mode = on
archive_command = 'barman-wal-archive backup1 db1 %p'
synchronous_standby_names = 'FIRST 1 (db2)'
primary_conninfo = 'host=db2 user=replicator'
primary_slot_name = 'db1'
archive_cleanup_command = 'pg_archivecleanup /mnt/wal %r'
logging_collector = on
log_destination = 'csvlog'
log_directory = '/var/log/postgresql'
huge_pages = on
shared_preload_libraries = 'pg_stat_statements,timescaledb'
pg_stat_statements.max = 10000
timescaledb.max_background_workers = 8
krb_server_keyfile = 'FILE:/etc/postgresql/krb5.keytab'
include_if_exists = '/etc/postgresql/15/main/local.conf'
include 'tuning.conf'
`;
  const result = throwawayConfiguration({ ...BASE, postgresqlConf: customised, autoConf: BARMAN_AUTO_CONF });

  test("every rule's change appears once, with the backup's value", () => {
    const settings = result.changes.map((c) => c.setting);
    expect(new Set(settings).size).toBe(settings.length);
    expect(summary(result.changes)).toEqual([
      ["data_directory", "/var/lib/postgresql/15/main", PGDATA],
      ["hba_file", "/etc/postgresql/15/main/pg_hba.conf", "/etc/pgdrill/verify_hba.conf"],
      ["ident_file", "/etc/postgresql/15/main/pg_ident.conf", "/dev/null"],
      ["external_pid_file", "/var/run/postgresql/15-main.pid", "/var/run/postgresql/pgdrill-throwaway.pid"],
      ["ssl", "on", "off"],
      ["ssl_cert_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem", null],
      ["ssl_key_file", "/etc/ssl/private/ssl-cert-snakeoil.key", null],
      ["include_dir", "conf.d", null],
      ["listen_addresses", "*", ""],
      ["port", "5433", "5432"],
      ["unix_socket_directories", "/var/run/postgresql,/tmp", "/var/run/postgresql"],
      ["unix_socket_group", "dbaccess", null],
      ["ssl_ca_file", "/etc/postgresql-common/root.crt", null],
      ["ssl_crl_dir", "/etc/ssl/crl", null],
      ["ssl_passphrase_command", "/usr/local/bin/vault-read pg-key", null],
      ["archive_mode", "on", "off"],
      ["archive_command", "barman-wal-archive backup1 db1 %p", null],
      ["synchronous_standby_names", "FIRST 1 (db2)", ""],
      ["primary_conninfo", "host=db2 user=replicator", null],
      ["primary_slot_name", "db1", null],
      ["archive_cleanup_command", "pg_archivecleanup /mnt/wal %r", null],
      ["logging_collector", "on", "off"],
      ["log_destination", "csvlog", "stderr"],
      ["huge_pages", "on", "try"],
      ["shared_preload_libraries", "pg_stat_statements,timescaledb", "pg_stat_statements"],
      ["include_if_exists", "/etc/postgresql/15/main/local.conf", null],
      ["include", "tuning.conf", null],
    ]);
    const why = Object.fromEntries(result.changes.map((c) => [c.setting, c.why]));
    expect(why["shared_preload_libraries"]).toBe("timescaledb: the recovery image lacks it; give an image that has it with PGDRILL_RECOVERY_IMAGE");
    expect(why["synchronous_standby_names"]).toBe("a commit in the copy would otherwise wait forever for a standby that is not there");
    expect(why["listen_addresses"]).toBe("the throwaway has no network: local socket connections only");
    expect(why["archive_command"]).toBe("never archive from a copy: its WAL would land in production's archive");
  });

  test("overrides: the fixed set with the neutralised settings' values in it; each setting once", () => {
    expect(result.overrides).toEqual([
      ["data_directory", PGDATA],
      ["hba_file", "/etc/pgdrill/verify_hba.conf"],
      ["ident_file", "/dev/null"],
      ["external_pid_file", "/var/run/postgresql/pgdrill-throwaway.pid"],
      ["listen_addresses", ""],
      ["unix_socket_directories", "/var/run/postgresql"],
      ["port", "5432"],
      ["unix_socket_group", ""],
      ["ssl", "off"],
      ["ssl_cert_file", "server.crt"],
      ["ssl_key_file", "server.key"],
      ["ssl_ca_file", ""],
      ["ssl_crl_dir", ""],
      ["ssl_passphrase_command", ""],
      ["archive_mode", "off"],
      ["archive_command", ""],
      ["primary_conninfo", ""],
      ["primary_slot_name", ""],
      ["synchronous_standby_names", ""],
      ["archive_cleanup_command", ""],
      ["logging_collector", "off"],
      ["log_destination", "stderr"],
      ["huge_pages", "try"],
      ["shared_preload_libraries", "pg_stat_statements"],
    ]);
    const names = result.overrides.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
  });

  test("every -c is a name=value PostgreSQL's command line takes: a plain name, one line, no config-file quoting", () => {
    for (const [name, value] of result.overrides) {
      expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(value).not.toMatch(/[\n\r']/);
    }
  });

  test("the file: no neutralised line left active; the rest verbatim (extension settings stay as placeholders, krb_server_keyfile is never read)", () => {
    const active = parsePostgresqlConf(result.file);
    const neutralised = new Set(result.changes.map((c) => c.setting));
    // Debian's own port and socket lines already hold the throwaway's values: kept (the DBA's later ones are not).
    expect(active.filter((e) => neutralised.has(e.name)).map((e) => [e.name, e.value, e.line])).toEqual([
      ["port", "5432", 64],
      ["unix_socket_directories", "/var/run/postgresql", 67],
    ]);
    expect(active.filter((e) => e.name.startsWith("include"))).toEqual([]);
    expect(active.filter((e) => /^ssl_.*_(file|dir)$/.test(e.name))).toEqual([]);
    // Of the DBA's lines (after Debian's 816), these stay active.
    expect(active.filter((e) => e.line > 816).map((e) => [e.name, e.value])).toEqual([
      ["wal_level", "replica"],
      ["log_directory", "/var/log/postgresql"],
      ["pg_stat_statements.max", "10000"],
      ["timescaledb.max_background_workers", "8"],
      ["krb_server_keyfile", "FILE:/etc/postgresql/krb5.keytab"],
    ]);
  });

  test("production's restore_command in postgresql.conf: Barman's in postgresql.auto.conf wins, so the line stays and nothing is overridden", () => {
    const withRestore = throwawayConfiguration({
      ...BASE,
      postgresqlConf: `${DEBIAN}restore_command = 'barman-wal-restore backup1 db1 %f %p'\n`,
      autoConf: BARMAN_AUTO_CONF,
    });
    expect(withRestore.changes.map((c) => c.setting)).not.toContain("restore_command");
    expect(withRestore.overrides.map(([name]) => name)).not.toContain("restore_command");
    expect(activeNames(withRestore.file)).toContain("restore_command");
  });
});

describe("throwawayConfiguration: the official image's layout (everything inside PGDATA)", () => {
  // What docker-library/postgres's entrypoint leaves after initdb: the sample with initdb's values and
  // its sed of listen_addresses (the line's comment goes with it).
  const OFFICIAL = [
    "# -----------------------------",
    "# PostgreSQL configuration file",
    "# -----------------------------",
    "listen_addresses = '*'",
    "max_connections = 100\t\t\t# (change requires restart)",
    "shared_buffers = 128MB\t\t\t# min 128kB",
    "dynamic_shared_memory_type = posix\t# the default is usually the first option",
    "max_wal_size = 1GB",
    "min_wal_size = 80MB",
    "log_timezone = 'Etc/UTC'",
    "datestyle = 'iso, mdy'",
    "timezone = 'Etc/UTC'",
    "lc_messages = 'en_US.utf8'\t\t\t# locale for system error message",
    "lc_monetary = 'en_US.utf8'\t\t\t# locale for monetary formatting",
    "lc_numeric = 'en_US.utf8'\t\t\t# locale for number formatting",
    "lc_time = 'en_US.utf8'\t\t\t\t# locale for time formatting",
    "default_text_search_config = 'pg_catalog.english'",
    "",
  ].join("\n");
  const result = throwawayConfiguration({ ...BASE, postgresqlConf: OFFICIAL, autoConf: BARMAN_AUTO_CONF });

  test("one change: listen_addresses; the fixed overrides only", () => {
    expect(result.changes).toEqual([
      { setting: "listen_addresses", from: "*", to: "", why: "the throwaway has no network: local socket connections only", source: "postgresql.conf" },
    ]);
    expect(result.overrides).toEqual(ALWAYS);
  });

  test("the file: the same lines, listen_addresses commented out where it was", () => {
    const lines = result.file.split("\n");
    expect(lines[3]).toBe("#PGDRILL# listen_addresses = '*'  # PGDRILL: the throwaway has no network: local socket connections only");
    expect(lines.slice(4, 17)).toEqual(OFFICIAL.split("\n").slice(4, 17));
    expect(activeNames(result.file)).toEqual(activeNames(OFFICIAL).filter((name) => name !== "listen_addresses"));
  });
});

describe("throwawayConfiguration: a backup without postgresql.conf (Barman's postgres method of a Debian cluster)", () => {
  test("a minimal file saying so; the overrides still apply; postgresql.auto.conf still looked at", () => {
    const result = throwawayConfiguration({
      ...BASE,
      postgresqlConf: undefined,
      autoConf: `# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\nshared_preload_libraries = 'timescaledb'\n${BARMAN_AUTO_CONF.split("\n").slice(3).join("\n")}`,
    });
    expect(result.file).toMatch(/^# pgdrill nightly verification: the backup carried no postgresql.conf/);
    expect(parsePostgresqlConf(result.file)).toEqual([]);
    expect(result.overrides).toEqual([...ALWAYS, ["shared_preload_libraries", ""]]);
    expect(summary(result.changes)).toEqual([["shared_preload_libraries", "timescaledb", ""]]);
    expect(result.changes[0]!.source).toBe("postgresql.auto.conf");
  });

  test("neither file: the fixed overrides, no change", () => {
    const result = throwawayConfiguration({ ...BASE, postgresqlConf: undefined, autoConf: undefined });
    expect(result.overrides).toEqual(ALWAYS);
    expect(result.changes).toEqual([]);
  });
});

describe("throwawayConfiguration: postgresql.auto.conf wins over postgresql.conf", () => {
  const autoConf = (...lines: string[]): string =>
    ["# Do not edit this file manually!", "# It will be overwritten by the ALTER SYSTEM command.", ...lines, ...BARMAN_AUTO_CONF.split("\n").slice(3)].join(
      "\n",
    );

  test("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements,timescaledb': timescaledb named, the main file's line kept", () => {
    const result = throwawayConfiguration({
      ...BASE,
      postgresqlConf: "shared_preload_libraries = 'pg_stat_statements'\n",
      autoConf: autoConf("shared_preload_libraries = 'pg_stat_statements,timescaledb'"),
    });
    expect(result.changes).toEqual([
      {
        setting: "shared_preload_libraries",
        from: "pg_stat_statements,timescaledb",
        to: "pg_stat_statements",
        why: "timescaledb: the recovery image lacks it; give an image that has it with PGDRILL_RECOVERY_IMAGE",
        source: "postgresql.auto.conf",
      },
    ]);
    expect(result.overrides).toContainEqual(["shared_preload_libraries", "pg_stat_statements"]);
    expect(activeNames(result.file)).toEqual(["shared_preload_libraries"]);
  });

  test("several missing libraries, $libdir paths and quoted names; an unknown image keeps them all", () => {
    const conf = `shared_preload_libraries = '"$libdir/plugins/auto_explain", pg_cron , timescaledb, pg_stat_statements'\nsession_preload_libraries = 'auto_explain'\n`;
    const result = throwawayConfiguration({ ...BASE, postgresqlConf: conf, autoConf: undefined, availableLibraries: ["pg_stat_statements", "auto_explain"] });
    expect(summary(result.changes)).toEqual([
      [
        "shared_preload_libraries",
        '"$libdir/plugins/auto_explain", pg_cron , timescaledb, pg_stat_statements',
        '"$libdir/plugins/auto_explain",pg_stat_statements',
      ],
    ]);
    expect(result.changes[0]!.why).toBe(
      "pg_cron: the recovery image lacks it; timescaledb: the recovery image lacks it; give an image that has them with PGDRILL_RECOVERY_IMAGE",
    );
    const unknown = throwawayConfiguration({ ...BASE, postgresqlConf: conf, autoConf: undefined, availableLibraries: undefined });
    expect(unknown.changes).toEqual([]);
    expect(unknown.overrides).toEqual(ALWAYS);
  });

  test("a setting only postgresql.auto.conf neutralises: recorded from there, and on the command line", () => {
    const result = throwawayConfiguration({
      ...BASE,
      postgresqlConf: "archive_mode = off\nssl = off\n",
      autoConf: autoConf("archive_mode = 'always'", "ssl = 'on'", "primary_conninfo = 'host=db1 user=replicator'"),
    });
    expect(result.changes.map((c) => [c.setting, c.from, c.source])).toEqual([
      ["archive_mode", "always", "postgresql.auto.conf"],
      ["ssl", "on", "postgresql.auto.conf"],
      ["primary_conninfo", "host=db1 user=replicator", "postgresql.auto.conf"],
    ]);
    expect(result.overrides).toContainEqual(["primary_conninfo", ""]);
    // The main file's own lines were already harmless: kept.
    expect(activeNames(result.file)).toEqual(["archive_mode", "ssl"]);
  });

  test("a harmless value in postgresql.auto.conf hides the main file's: no change, but the main file's line goes", () => {
    const result = throwawayConfiguration({ ...BASE, postgresqlConf: "listen_addresses = '*'\n", autoConf: autoConf("listen_addresses = ''") });
    expect(result.changes).toEqual([]);
    expect(activeNames(result.file)).toEqual([]);
  });

  test("Barman 3.4's archive_command = false (the primary's commented out as #BARMAN#) is no change", () => {
    const barman34 = [
      "# Do not edit this file manually!",
      "#BARMAN#archive_command = 'barman-wal-archive barman pg-primary %p'",
      "archive_command = false",
      "restore_command = 'cp barman_wal/%f %p'",
      "recovery_end_command = 'rm -fr barman_wal'",
      "",
    ].join("\n");
    const result = throwawayConfiguration({ ...BASE, postgresqlConf: undefined, autoConf: barman34 });
    expect(result.changes).toEqual([]);
    expect(result.overrides).toEqual(ALWAYS);
  });

  test("recovery settings in postgresql.conf that Barman's restore did not set are production's: removed", () => {
    // Barman 3.4 without a target: WAL copied into pg_wal, no recovery settings written.
    const result = throwawayConfiguration({
      ...BASE,
      postgresqlConf:
        "restore_command = 'barman-wal-restore backup1 db1 %f %p'\nrecovery_target_time = '2026-01-01 00:00:00+00'\nrecovery_target_timeline = 'latest'\n",
      autoConf: "archive_command = false\n",
    });
    expect(summary(result.changes)).toEqual([
      ["restore_command", "barman-wal-restore backup1 db1 %f %p", null],
      ["recovery_target_time", "2026-01-01 00:00:00+00", null],
    ]);
    expect(result.overrides).toContainEqual(["restore_command", ""]);
    expect(result.overrides).toContainEqual(["recovery_target_time", ""]);
    expect(activeNames(result.file)).toEqual(["recovery_target_timeline"]);
  });

  test("duplicates: the last one wins, and every neutralised line goes", () => {
    const result = throwawayConfiguration({ ...BASE, postgresqlConf: "PORT = 5433\nport 5432\nSSL = on\nssl = off\nHuge_Pages on\n", autoConf: undefined });
    expect(summary(result.changes)).toEqual([["huge_pages", "on", "try"]]);
    expect(result.file.split("\n").slice(0, 5)).toEqual([
      "#PGDRILL# PORT = 5433  # PGDRILL: the verifier connects on the default port (the socket's name follows it)",
      "port 5432",
      "#PGDRILL# SSL = on  # PGDRILL: local socket connections never use SSL; production's certificate and key are not in the backup",
      "ssl = off",
      "#PGDRILL# Huge_Pages on  # PGDRILL: the throwaway's host may have no huge pages reserved; try uses them where it has",
    ]);
  });
});

describe("throwawayConfiguration: other settings", () => {
  test("PostgreSQL 14 on Debian: stats_temp_directory on a tmpfs outside the data directory is removed; one inside is kept", () => {
    const outside = throwawayConfiguration({
      ...BASE,
      postgresqlConf: "data_directory = '/var/lib/postgresql/14/main'\nstats_temp_directory = '/var/run/postgresql/14-main.pg_stat_tmp'\n",
      autoConf: undefined,
    });
    expect(summary(outside.changes)).toContainEqual(["stats_temp_directory", "/var/run/postgresql/14-main.pg_stat_tmp", null]);
    expect(outside.changes.find((c) => c.setting === "stats_temp_directory")!.why).toBe(
      "points outside the data directory (Debian layout); PostgreSQL's default pg_stat_tmp is inside the copy's data directory",
    );
    expect(outside.overrides).toContainEqual(["stats_temp_directory", "pg_stat_tmp"]);
    for (const value of ["pg_stat_tmp", `${PGDATA}/pg_stat_tmp`]) {
      const inside = throwawayConfiguration({ ...BASE, postgresqlConf: `stats_temp_directory = '${value}'\n`, autoConf: undefined });
      expect(inside.changes).toEqual([]);
    }
  });

  test("lc_messages: an English or C locale stays; another becomes C, for the verifier reads the log", () => {
    for (const kept of ["C", "C.UTF-8", "en_US.UTF-8", "en_GB.utf8", "POSIX", ""]) {
      expect(throwawayConfiguration({ ...BASE, postgresqlConf: `lc_messages = '${kept}'\n`, autoConf: undefined }).changes).toEqual([]);
    }
    const german = throwawayConfiguration({ ...BASE, postgresqlConf: "lc_messages = 'de_DE.UTF-8'\nlc_monetary = 'de_DE.UTF-8'\n", autoConf: undefined });
    expect(summary(german.changes)).toEqual([["lc_messages", "de_DE.UTF-8", "C"]]);
    expect(german.overrides).toContainEqual(["lc_messages", "C"]);
  });

  test("a socket directory with a blank is double-quoted for the list PostgreSQL parses", () => {
    const result = throwawayConfiguration({ ...BASE, socketDirectory: "/run/pg sockets", postgresqlConf: undefined, autoConf: undefined });
    expect(result.overrides).toContainEqual(["unix_socket_directories", '"/run/pg sockets"']);
  });

  test("a syntax error names the file and line", () => {
    expect(() => throwawayConfiguration({ ...BASE, postgresqlConf: undefined, autoConf: "ssl = 'on\n" })).toThrow(
      `syntax error in file "postgresql.auto.conf" line 1, near token "'"`,
    );
  });
});
