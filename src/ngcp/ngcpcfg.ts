import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ApplyError } from '../errors.js';
import { info, type Reporter } from '../report/reporter.js';

/**
 * `ngcpcfg apply 'restored the system from backup <id>'`: builds the configuration from the
 * restored files, syncs database grants and credentials, restarts services. Its output is
 * streamed; a non-zero exit fails the restore (exit 17).
 */
export async function runNgcpcfgApply(command: string[], message: string, reporter: Reporter, signal?: AbortSignal): Promise<void> {
  const [file, ...args] = command;
  const child = spawn(file!, [...args, message], { stdio: ['ignore', 'pipe', 'pipe'], signal });
  const tail: string[] = [];
  const relay = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 5) tail.shift();
      info(reporter, `${file}: ${line}`);
    });
  relay(child.stdout!);
  relay(child.stderr!);
  const code = await new Promise<number | string>((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ENOENT' ? 'not found' : error.message));
    child.on('close', (c, sig) => resolve(c ?? `killed by ${sig}`));
  });
  if (code !== 0) {
    throw new ApplyError(`${command.join(' ')} failed (${typeof code === 'number' ? `exit code ${code}` : code})${tail.length ? `: ${tail.join(' | ')}` : ''}`);
  }
}
