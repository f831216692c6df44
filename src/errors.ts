/**
 * Every error an operator can meet is one of these classes; src/cli/main.ts alone turns them
 * into exit codes (docs/exit-codes.md). Messages name the problem and never carry a secret.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  nodeData: 4,
  database: 5,
  toolMissing: 6,
  diskFull: 7,
  permission: 8,
  coverageGap: 9,
  repositoryUnreachable: 10,
  locked: 11,
  key: 12,
  repositoryAccess: 13,
  integrity: 14,
  restoreVerification: 15,
  refused: 16,
  applyFailed: 17,
  internal: 70,
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class NgcpBackupError extends Error {
  readonly exitCode: ExitCodeValue = ExitCode.failure;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flag or argument the command does not accept. */
export class UsageError extends NgcpBackupError {
  override readonly exitCode = ExitCode.usage;
}

/** The configuration file is missing, unreadable or invalid; the message names the key. */
export class ConfigError extends NgcpBackupError {
  override readonly exitCode = ExitCode.config;
}

/** A file the node must have (e.g. constants.yml) is missing or unreadable. */
export class NodeDataError extends NgcpBackupError {
  override readonly exitCode = ExitCode.nodeData;
}

/** MariaDB is unreachable, refused the credentials, or failed during a dump or load. */
export class DatabaseError extends NgcpBackupError {
  override readonly exitCode = ExitCode.database;
}

/** The repository (bucket, directory, endpoint) does not exist or cannot be reached. */
export class RepositoryUnreachableError extends NgcpBackupError {
  override readonly exitCode = ExitCode.repositoryUnreachable;
}

/** The repository refused our credentials or permissions. */
export class RepositoryAccessError extends NgcpBackupError {
  override readonly exitCode = ExitCode.repositoryAccess;
}

/** An object that should be in the repository is not. */
export class ObjectNotFoundError extends NgcpBackupError {
  override readonly exitCode = ExitCode.integrity;
  constructor(readonly key: string, options?: { cause?: unknown }) {
    super(`object ${key} is missing from the repository`, options);
  }
}

/** Another run holds the lock. */
export class LockedError extends NgcpBackupError {
  override readonly exitCode = ExitCode.locked;
}

/** An age identity or recipient is missing, malformed, or does not match. */
export class KeyError extends NgcpBackupError {
  override readonly exitCode = ExitCode.key;
}

/** Stored bytes do not match the manifest (size, sha256), or an object does not decrypt. */
export class IntegrityError extends NgcpBackupError {
  override readonly exitCode = ExitCode.integrity;
}

/** Restored tables do not match the figures taken inside the snapshot. */
export class RestoreVerificationError extends NgcpBackupError {
  override readonly exitCode = ExitCode.restoreVerification;
}

/** A guarded operation the operator did not confirm, or a precondition that does not hold. */
export class RefusedError extends NgcpBackupError {
  override readonly exitCode = ExitCode.refused;
}

/**
 * The node is half-restored (a restore changed it and did not complete): backups refuse until
 * it is rolled back or restored. Alerted on once, when the state is found, not per refused run.
 */
export class HalfRestoredError extends RefusedError {}

/** `ngcpcfg apply` (or the configured command) failed. */
export class ApplyError extends NgcpBackupError {
  override readonly exitCode = ExitCode.applyFailed;
}

/** A program ngcp-backup runs (zstd, mariadbd, ...) is not installed. */
export class ToolMissingError extends NgcpBackupError {
  override readonly exitCode = ExitCode.toolMissing;
}

/** A local disk (work directory, state directory, a file:// repository) is full. */
export class DiskFullError extends NgcpBackupError {
  override readonly exitCode = ExitCode.diskFull;
}

/** The operating system refused access to a local path. */
export class PermissionError extends NgcpBackupError {
  override readonly exitCode = ExitCode.permission;
}

/** What the backup must hold is not in the repository (e.g. CDR export files changed after shipping). */
export class CoverageGapError extends NgcpBackupError {
  override readonly exitCode = ExitCode.coverageGap;
}

/** Stopped by a signal. */
export class InterruptedError extends NgcpBackupError {
  override readonly exitCode: ExitCodeValue;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', message?: string) {
    super(message ?? `stopped by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
  }
}

/** Debian packages that carry the programs ngcp-backup runs. */
const PACKAGE_OF: Record<string, string> = {
  zstd: 'zstd',
  age: 'age',
  mariadbd: 'mariadb-server',
  'mariadb-install-db': 'mariadb-server',
  mariadb: 'mariadb-client',
  'mariadb-binlog': 'mariadb-client',
  'mariadb-dump': 'mariadb-client',
};

export function packageOf(program: string): string {
  return PACKAGE_OF[program.split('/').at(-1)!] ?? program;
}

/**
 * The error an operator is shown: ours as they are; an operating system's error on a local path
 * (a full disk, a refused permission, a program that is not installed) as advice naming the path;
 * anything else is a bug (exit 70). The one place, with exitCodeOf, that decides exit codes.
 */
export function classifyError(error: unknown): unknown {
  if (error instanceof NgcpBackupError || !(error instanceof Error)) return error;
  const e = error as NodeJS.ErrnoException;
  const where = e.path ? ` ${e.path}` : '';
  const doing = e.syscall ? ` (${e.syscall}${where})` : where;
  if (e.syscall?.startsWith('spawn') && e.code === 'ENOENT') {
    const program = e.path ?? e.syscall.slice('spawn '.length);
    return new ToolMissingError(`${program} is not installed (or not on PATH): install the Debian package ${packageOf(program)}`, { cause: error });
  }
  switch (e.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new DiskFullError(`no space left on the device of${where || ' a local path'}${e.syscall ? ` (${e.syscall})` : ''}: free some space or point the setting at another disk`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(`permission denied${doing}: run as a user that may use it (root on a node), or fix its owner and mode`, { cause: error });
    case 'EROFS':
      return new PermissionError(`read-only file system${doing}`, { cause: error });
    case 'EMFILE':
    case 'ENFILE':
      return new NgcpBackupError(`too many open files${doing}: raise the limit (LimitNOFILE in the systemd unit, ulimit -n)`, { cause: error });
    default:
      return error;
  }
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  const e = classifyError(error);
  return e instanceof NgcpBackupError ? e.exitCode : ExitCode.internal;
}
