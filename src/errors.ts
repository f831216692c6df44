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

/** `ngcpcfg apply` (or the configured command) failed. */
export class ApplyError extends NgcpBackupError {
  override readonly exitCode = ExitCode.applyFailed;
}

/** Stopped by a signal. */
export class InterruptedError extends NgcpBackupError {
  override readonly exitCode: ExitCodeValue;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', message?: string) {
    super(message ?? `stopped by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
  }
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof NgcpBackupError ? error.exitCode : ExitCode.internal;
}
