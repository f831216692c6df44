/** The validated configuration. Paths under `node` are inside node.root unless noted. */
export interface Config {
  /** Where the config came from, for messages. */
  source: string;
  node: {
    root: string;
    /** From the config, else <root>/etc/ngcp_nodename, else 'spce'. */
    name: string | undefined;
    /** Extra files or directories (node paths) to include in the files artifact. */
    extraPaths: string[];
  };
  mysql: {
    socket: string | undefined;
    host: string | undefined;
    port: number;
    /** undefined: take it from defaults_file, else 'root'. */
    user: string | undefined;
    /** A node path (inside node.root), e.g. /etc/mysql/debian.cnf: [client] user/password/socket. */
    defaultsFile: string | undefined;
    /** A host path to a file holding only the password. */
    passwordFile: string | undefined;
    exclude: string[];
    /** Connections that dump (and later load) in parallel. */
    parallel: number;
    /** Seconds to wait for the global read lock before giving up. */
    lockWaitTimeout: number;
    /** Tables with more rows than this are dumped in chunks of about this many rows. */
    chunkRows: number;
  };
  repository: {
    url: string;
    endpoint: string | undefined;
    region: string;
    pathStyle: boolean;
    /** A host path to an AWS shared credentials file (else the standard AWS environment). */
    credentialsFile: string | undefined;
    profile: string | undefined;
    partSizeMiB: number;
    uploadQueue: number;
    /** S3 Object Lock retention given to every object a snapshot stores (s3:// only). */
    objectLock: ObjectLockSetting | undefined;
    /** Attempts of every repository operation, the first included (transient failures only). */
    attempts: number;
    /** Delay before the first retry (ms); each next one doubles, up to 20 s. */
    retryDelayMs: number;
  };
  encryption: {
    recipients: string[];
  };
  compression: {
    level: number;
    threads: number;
  };
  restore: {
    /** The command run last, with the message as its final argument. */
    applyCommand: string[];
    /** Where downloaded (still encrypted) objects wait until they are loaded. */
    workDir: string;
    /** Tables with more data than this (MiB) are loaded without their secondary keys, which are built after. */
    deferKeysAboveMiB: number;
  };
  cdr: {
    enabled: boolean;
    /** Node path of the CDR export tree. */
    path: string;
    /** Host directory for the local shipping record and lock. */
    stateDir: string;
    /** Years shipped files stay in the repository; undefined keeps them forever. */
    retentionYears: number | undefined;
    /** Days after which shipped and verified local files are removed; undefined never removes. */
    removeLocalAfterDays: number | undefined;
  };
  /** When the daemon runs each job (cron expressions; undefined: not scheduled). */
  schedule: {
    backup: string | undefined;
    cdrShip: string | undefined;
    drill: string | undefined;
    /** IANA zone the expressions are read in; default the host's. */
    timeZone: string;
    pruneAfterBackup: boolean;
  };
  service: {
    /** Host directory of the job records (one JSON file per job). */
    stateDir: string;
    /** Host directory of the lock file every writing command holds. */
    lockDir: string;
    /** JSON-lines log file; undefined: no log file. */
    logFile: string | undefined;
    /** Prometheus node_exporter textfile; undefined: no metrics. */
    metricsFile: string | undefined;
  };
  alerts: {
    webhook: { url: string; secretFile: string | undefined; header: string } | undefined;
    mail: { to: string[]; from: string; sendmail: string } | undefined;
  };
  drill: {
    /** The age identity the daemon's scheduled drill uses (a verification host's). */
    identityFile: string | undefined;
    /** Where the drill's scratch MariaDB keeps its datadir (and its template). */
    workDir: string;
    /** innodb_buffer_pool_size of the drill's scratch MariaDB, MiB. */
    bufferPoolMiB: number;
  };
}

/** `repository.object_lock`: every stored object is locked in this mode for this many days. */
export interface ObjectLockSetting {
  mode: 'GOVERNANCE' | 'COMPLIANCE';
  days: number;
}

export const SYSTEM_SCHEMAS = ['information_schema', 'performance_schema', 'sys', 'mysql'];
export const DEFAULT_CONFIG_PATH = '/etc/ngcp-backup/config.yml';
