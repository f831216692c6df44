import test from 'ava';
import { classifyError, DiskFullError, ExitCode, exitCodeOf, KeyError, PermissionError, ToolMissingError } from '../../src/errors.js';

const os = (code: string, extra: Record<string, string> = {}) => Object.assign(new Error(`${code}: something`), { code, ...extra });

test('operating system errors become advice naming the path, with their own exit codes', (t) => {
  const full = classifyError(os('ENOSPC', { syscall: 'write', path: '/var/tmp/x' }));
  t.true(full instanceof DiskFullError);
  t.regex((full as Error).message, /no space left on the device of \/var\/tmp\/x/);
  t.is(exitCodeOf(os('ENOSPC')), ExitCode.diskFull);
  const denied = classifyError(os('EACCES', { syscall: 'open', path: '/run/ngcp-backup' }));
  t.true(denied instanceof PermissionError);
  t.regex((denied as Error).message, /permission denied \(open \/run\/ngcp-backup\)/);
  t.is(exitCodeOf(os('EROFS', { path: '/' })), ExitCode.permission);
});

test('a program that is not installed is named with its Debian package', (t) => {
  const missing = classifyError(os('ENOENT', { syscall: 'spawn zstd', path: 'zstd' }));
  t.true(missing instanceof ToolMissingError);
  t.regex((missing as Error).message, /zstd is not installed .*Debian package zstd/);
  t.regex((classifyError(os('ENOENT', { syscall: 'spawn mariadbd', path: 'mariadbd' })) as Error).message, /mariadb-server/);
  t.is(exitCodeOf(os('ENOENT', { syscall: 'spawn age', path: 'age' })), ExitCode.toolMissing);
});

test('our errors keep their codes; anything else is internal', (t) => {
  t.is(exitCodeOf(new KeyError('x')), ExitCode.key);
  t.is(exitCodeOf(new TypeError('bug')), ExitCode.internal);
  t.is(exitCodeOf(os('ENOENT', { syscall: 'open', path: '/x' })), ExitCode.internal, 'a missing file is the caller’s to explain');
});
