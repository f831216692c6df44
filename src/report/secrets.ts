/**
 * Every secret the process reads (MySQL passwords, S3 secret keys) is registered here the
 * moment it is read, so that the reporter and the top-level error printer can make sure none
 * of them ever reaches a log line or an error message, whatever a library put in its text.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}
