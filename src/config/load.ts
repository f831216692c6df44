import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../errors.js';
import { parseRecipient } from '../crypto/age.js';
import { checkTimeZone, localTimeZone, parseCron } from '../schedule/cron.js';
import type { Config, ObjectLockSetting } from './schema.js';

type Obj = Record<string, unknown>;

/** Reads and validates the config file; every error names the file and the key. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code})`;
    throw new ConfigError(`config file ${file} ${why} (choose another with --config FILE)`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw new ConfigError(`config file ${file} is not valid YAML${where}`);
  }
  return validateConfig(raw ?? {}, file);
}

/** Validates a parsed config object; exported for tests and for configs built in code. */
export function validateConfig(raw: unknown, source: string): Config {
  const v = new Validator(source);
  const top = v.object(raw, '');
  v.onlyKeys(top, '', ['node', 'mysql', 'repository', 'encryption', 'compression', 'restore', 'cdr', ...SERVICE_SECTIONS]);

  const node = v.object(top.node ?? {}, 'node');
  v.onlyKeys(node, 'node', ['root', 'name', 'extra_paths']);
  const mysql = v.object(top.mysql ?? {}, 'mysql');
  v.onlyKeys(mysql, 'mysql', ['socket', 'host', 'port', 'user', 'defaults_file', 'password_file', 'exclude', 'parallel', 'lock_wait_timeout', 'chunk_rows']);
  const repo = v.object(top.repository, 'repository');
  v.onlyKeys(repo, 'repository', ['url', 'endpoint', 'region', 'path_style', 'credentials_file', 'profile', 'part_size_mib', 'upload_queue', 'object_lock', 'attempts', 'retry_delay_ms']);
  const enc = v.object(top.encryption, 'encryption');
  v.onlyKeys(enc, 'encryption', ['recipients']);
  const comp = v.object(top.compression ?? {}, 'compression');
  v.onlyKeys(comp, 'compression', ['level', 'threads']);
  const restore = v.object(top.restore ?? {}, 'restore');
  v.onlyKeys(restore, 'restore', ['apply_command', 'work_dir', 'defer_keys_above_mib']);
  const cdr = v.object(top.cdr ?? {}, 'cdr');
  v.onlyKeys(cdr, 'cdr', ['enabled', 'path', 'state_dir', 'retention_years', 'remove_local_after_days']);

  const url = v.string(repo.url, 'repository.url');
  if (!/^(s3:\/\/[^/]{3,}|file:\/\/\/)/.test(url)) {
    v.fail('repository.url', `must be s3://bucket[/prefix] or file:///absolute/dir, got ${JSON.stringify(url)}`);
  }
  const endpoint = v.optionalString(repo.endpoint, 'repository.endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    v.fail('repository.endpoint', `must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }

  const recipientsRaw = v.array(enc.recipients, 'encryption.recipients');
  if (recipientsRaw.length === 0) v.fail('encryption.recipients', 'must list at least one age recipient (age1...)');
  const recipients = recipientsRaw.map((r, i) => {
    const where = `encryption.recipients[${i}]`;
    const text = v.string(r, where);
    try {
      parseRecipient(text, where);
    } catch (error) {
      throw new ConfigError(`${source}: ${(error as Error).message}`);
    }
    return text;
  });

  const socket = v.optionalString(mysql.socket, 'mysql.socket');
  const host = v.optionalString(mysql.host, 'mysql.host');
  const cdrEnabled = v.boolean(cdr.enabled ?? false, 'cdr.enabled');
  const workDir = v.absolutePath(restore.work_dir ?? '/var/tmp', 'restore.work_dir');
  return {
    source,
    node: {
      root: v.absolutePath(node.root ?? '/', 'node.root'),
      name: v.optionalName(node.name, 'node.name'),
      extraPaths: v.array(node.extra_paths ?? [], 'node.extra_paths').map((p, i) => v.absolutePath(p, `node.extra_paths[${i}]`)),
    },
    mysql: {
      socket: socket ?? (host === undefined ? '/run/mysqld/mysqld.sock' : undefined),
      host,
      port: v.integer(mysql.port ?? 3306, 'mysql.port', 1, 65535),
      user: v.optionalString(mysql.user, 'mysql.user'),
      defaultsFile: mysql.defaults_file === undefined ? undefined : v.absolutePath(mysql.defaults_file, 'mysql.defaults_file'),
      passwordFile: mysql.password_file === undefined ? undefined : v.absolutePath(mysql.password_file, 'mysql.password_file'),
      exclude: v.array(mysql.exclude ?? ['syslog', 'sipstats'], 'mysql.exclude').map((d, i) => v.string(d, `mysql.exclude[${i}]`)),
      parallel: v.integer(mysql.parallel ?? 2, 'mysql.parallel', 1, 64),
      lockWaitTimeout: v.integer(mysql.lock_wait_timeout ?? 60, 'mysql.lock_wait_timeout', 1, 86400),
      chunkRows: v.integer(mysql.chunk_rows ?? 500_000, 'mysql.chunk_rows', 1000, 1_000_000_000),
    },
    repository: {
      url,
      endpoint,
      region: v.optionalString(repo.region, 'repository.region') ?? 'us-east-1',
      pathStyle: v.boolean(repo.path_style ?? true, 'repository.path_style'),
      credentialsFile: repo.credentials_file === undefined ? undefined : v.absolutePath(repo.credentials_file, 'repository.credentials_file'),
      profile: v.optionalString(repo.profile, 'repository.profile'),
      partSizeMiB: v.integer(repo.part_size_mib ?? 5, 'repository.part_size_mib', 5, 512),
      uploadQueue: v.integer(repo.upload_queue ?? 2, 'repository.upload_queue', 1, 16),
      objectLock: objectLockSetting(v, repo.object_lock, url),
      attempts: v.integer(repo.attempts ?? 5, 'repository.attempts', 1, 20),
      retryDelayMs: v.integer(repo.retry_delay_ms ?? 500, 'repository.retry_delay_ms', 1, 60_000),
    },
    encryption: { recipients },
    compression: {
      level: v.integer(comp.level ?? 3, 'compression.level', 1, 19),
      threads: v.integer(comp.threads ?? 1, 'compression.threads', 0, 64),
    },
    restore: {
      applyCommand: v.array(restore.apply_command ?? ['ngcpcfg', 'apply'], 'restore.apply_command').map((a, i) => v.string(a, `restore.apply_command[${i}]`)),
      workDir,
      deferKeysAboveMiB: v.integer(restore.defer_keys_above_mib ?? 4, 'restore.defer_keys_above_mib', 0, 1_000_000),
    },
    cdr: {
      enabled: cdrEnabled,
      path: v.absolutePath(cdr.path ?? '/home/jail/home/cdrexport', 'cdr.path'),
      stateDir: v.absolutePath(cdr.state_dir ?? '/var/lib/ngcp-backup', 'cdr.state_dir'),
      retentionYears: cdr.retention_years === undefined ? undefined : v.integer(cdr.retention_years, 'cdr.retention_years', 1, 100),
      removeLocalAfterDays: cdr.remove_local_after_days === undefined ? undefined : v.integer(cdr.remove_local_after_days, 'cdr.remove_local_after_days', 0, 36500),
    },
    ...validateServiceSections(v, top, cdrEnabled, workDir),
  };
}

const SERVICE_SECTIONS = ['schedule', 'service', 'alerts', 'drill'];

/** The daemon's sections: schedule, service (state, lock, log, metrics), alerts, drill. */
function validateServiceSections(v: Validator, top: Obj, cdrEnabled: boolean, workDir: string): Pick<Config, 'schedule' | 'service' | 'alerts' | 'drill'> {
  const schedule = v.object(top.schedule ?? {}, 'schedule');
  v.onlyKeys(schedule, 'schedule', ['backup', 'cdr_ship', 'drill', 'time_zone', 'prune_after_backup']);
  const service = v.object(top.service ?? {}, 'service');
  v.onlyKeys(service, 'service', ['state_dir', 'lock_dir', 'log_file', 'metrics_file']);
  const alerts = v.object(top.alerts ?? {}, 'alerts');
  v.onlyKeys(alerts, 'alerts', ['webhook', 'mail']);
  const drill = v.object(top.drill ?? {}, 'drill');
  v.onlyKeys(drill, 'drill', ['identity_file', 'work_dir', 'buffer_pool_mib']);

  const identityFile = drill.identity_file === undefined ? undefined : v.absolutePath(drill.identity_file, 'drill.identity_file');
  /** A cron expression, `false` (not scheduled), or the default when the key is absent. */
  const cron = (value: unknown, key: string, fallback: string | undefined): string | undefined => {
    if (value === false) return undefined;
    const text = value === undefined ? fallback : v.string(value, key);
    if (text === undefined) return undefined;
    try {
      parseCron(text);
    } catch (error) {
      v.fail(key, `${(error as Error).message}: ${JSON.stringify(text)}`);
    }
    return text;
  };
  const timeZone = v.optionalString(schedule.time_zone, 'schedule.time_zone') ?? localTimeZone();
  try {
    checkTimeZone(timeZone);
  } catch {
    v.fail('schedule.time_zone', `is not a time zone this system knows, got ${JSON.stringify(timeZone)} (e.g. Europe/Vienna, UTC)`);
  }
  /** A host path, or false to turn the feature off. */
  const pathOrOff = (value: unknown, key: string, fallback: string | undefined) =>
    value === false ? undefined : value === undefined ? fallback : v.absolutePath(value, key);

  let webhook: Config['alerts']['webhook'];
  if (alerts.webhook !== undefined) {
    const w = v.object(alerts.webhook, 'alerts.webhook');
    v.onlyKeys(w, 'alerts.webhook', ['url', 'secret_file', 'header']);
    const url = v.string(w.url, 'alerts.webhook.url');
    if (!/^https?:\/\/[^/]+/.test(url)) v.fail('alerts.webhook.url', 'must be an http:// or https:// URL');
    const header = v.optionalString(w.header, 'alerts.webhook.header') ?? 'Authorization';
    if (!/^[A-Za-z0-9-]+$/.test(header)) v.fail('alerts.webhook.header', 'must be an HTTP header name');
    webhook = { url, header, secretFile: w.secret_file === undefined ? undefined : v.absolutePath(w.secret_file, 'alerts.webhook.secret_file') };
  }
  let mail: Config['alerts']['mail'];
  if (alerts.mail !== undefined) {
    const m = v.object(alerts.mail, 'alerts.mail');
    v.onlyKeys(m, 'alerts.mail', ['to', 'from', 'sendmail']);
    const list = Array.isArray(m.to) ? m.to : [m.to];
    const to = list.map((a, i) => v.string(a, Array.isArray(m.to) ? `alerts.mail.to[${i}]` : 'alerts.mail.to'));
    const from = v.optionalString(m.from, 'alerts.mail.from') ?? 'ngcp-backup@localhost';
    const address = /^[^\s@<>,]+@[^\s@<>,]+$/;
    to.forEach((a) => address.test(a) || v.fail('alerts.mail.to', `must be plain addresses (user@host), got ${JSON.stringify(a)}`));
    if (!address.test(from)) v.fail('alerts.mail.from', `must be a plain address (user@host), got ${JSON.stringify(from)}`);
    mail = { to, from, sendmail: v.absolutePath(m.sendmail ?? '/usr/sbin/sendmail', 'alerts.mail.sendmail') };
  }
  return {
    schedule: {
      backup: cron(schedule.backup, 'schedule.backup', '30 2 * * *'),
      cdrShip: cron(schedule.cdr_ship, 'schedule.cdr_ship', cdrEnabled ? '*/15 * * * *' : undefined),
      drill: cron(schedule.drill, 'schedule.drill', identityFile ? '0 4 * * 0' : undefined),
      timeZone,
      pruneAfterBackup: v.boolean(schedule.prune_after_backup ?? true, 'schedule.prune_after_backup'),
    },
    service: {
      stateDir: v.absolutePath(service.state_dir ?? '/var/lib/ngcp-backup', 'service.state_dir'),
      lockDir: v.absolutePath(service.lock_dir ?? '/run/ngcp-backup', 'service.lock_dir'),
      logFile: pathOrOff(service.log_file, 'service.log_file', '/var/log/ngcp/backup.log'),
      metricsFile: pathOrOff(service.metrics_file, 'service.metrics_file', undefined),
    },
    alerts: { webhook, mail },
    drill: {
      identityFile,
      workDir: drill.work_dir === undefined ? workDir : v.absolutePath(drill.work_dir, 'drill.work_dir'),
      bufferPoolMiB: v.integer(drill.buffer_pool_mib ?? 256, 'drill.buffer_pool_mib', 16, 1_048_576),
    },
  };
}

/** `repository.object_lock: {mode, days}`; only an S3 bucket can lock objects. */
function objectLockSetting(v: Validator, raw: unknown, url: string): ObjectLockSetting | undefined {
  if (raw === undefined || raw === null) return undefined;
  const key = 'repository.object_lock';
  if (!url.startsWith('s3://')) v.fail(key, 'is only for s3:// repositories (a file:// directory cannot lock objects); remove it');
  const lock = v.object(raw, key);
  v.onlyKeys(lock, key, ['mode', 'days']);
  const mode = v.string(lock.mode, `${key}.mode`);
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') v.fail(`${key}.mode`, `must be GOVERNANCE or COMPLIANCE, got ${JSON.stringify(mode)}`);
  return { mode, days: v.integer(lock.days, `${key}.days`, 1, 36500) };
}

class Validator {
  constructor(private readonly source: string) {}

  fail(key: string, problem: string): never {
    throw new ConfigError(`${this.source}: ${key || 'the top level'} ${problem}`);
  }

  object(value: unknown, key: string): Obj {
    if (value === undefined || value === null) this.fail(key, 'is required');
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'must be a mapping');
    return value as Obj;
  }

  onlyKeys(obj: Obj, key: string, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        this.fail(key ? `${key}.${k}` : k, `is not a known key (known: ${allowed.join(', ')})`);
      }
    }
  }

  string(value: unknown, key: string): string {
    if (value === undefined || value === null) this.fail(key, 'is required');
    if (typeof value !== 'string' || value.length === 0) this.fail(key, 'must be a non-empty string');
    return value;
  }

  optionalString(value: unknown, key: string): string | undefined {
    return value === undefined || value === null ? undefined : this.string(value, key);
  }

  optionalName(value: unknown, key: string): string | undefined {
    const s = this.optionalString(value, key);
    if (s !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) this.fail(key, 'must be letters, digits, ".", "_" or "-"');
    return s;
  }

  absolutePath(value: unknown, key: string): string {
    const s = this.string(value, key);
    if (!path.isAbsolute(s)) this.fail(key, `must be an absolute path, got ${JSON.stringify(s)}`);
    return path.normalize(s);
  }

  integer(value: unknown, key: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(key, `must be a whole number, got ${JSON.stringify(value)}`);
    if (value < min || value > max) this.fail(key, `must be between ${min} and ${max}, got ${value}`);
    return value;
  }

  boolean(value: unknown, key: string): boolean {
    if (typeof value !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  array(value: unknown, key: string): unknown[] {
    if (value === undefined || value === null) this.fail(key, 'is required');
    if (!Array.isArray(value)) this.fail(key, 'must be a list');
    return value;
  }
}

