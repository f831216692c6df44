/**
 * The command that rolls a failed or interrupted restore back, as the operator runs it: it must
 * work exactly as printed (it is shown in the error, `status`, the alert and the next restore's
 * plan). Pure.
 */
export interface RollbackFacts {
  /** The safety snapshot taken before the node was changed. */
  safetyId: string;
  /** The node the safety snapshot is stored under (this node's name when the restore began). */
  safetyNode: string;
  /** The nodes of the snapshots restored: their files may rename this node (/etc/ngcp_nodename). */
  restoredNodes: string[];
  /** The config file, when it is not the default one. */
  configFile?: string;
  /** The identity file the restore was given (a path; the key itself is never printed). */
  identityFile: string;
  /** The restore was of another NGCP release: the restored version files make the rollback one too. */
  forceVersion: boolean;
}

export function rollbackCommand(f: RollbackFacts): string {
  const args = [
    'ngcp-backup',
    'restore',
    f.safetyId,
    '--identity',
    f.identityFile,
    '--yes',
    '--no-safety-snapshot',
    ...(f.restoredNodes.some((n) => n !== f.safetyNode) ? ['--node', f.safetyNode] : []),
    ...(f.configFile ? ['--config', f.configFile] : []),
    ...(f.forceVersion ? ['--force-version'] : []),
  ];
  return args.map(shellQuote).join(' ');
}

/** A word as a POSIX shell reads it back. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
