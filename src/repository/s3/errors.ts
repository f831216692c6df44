/**
 * S3 errors as the operator's errors: a missing bucket, refused credentials, an unreachable
 * endpoint, a missing object. What is kept as `cause` never carries the SDK's raw response.
 */
import {
  ConfigError,
  NgcpBackupError,
  ObjectNotFoundError,
  RepositoryAccessError,
  RepositoryUnreachableError,
} from '../../errors.js';

export interface S3ErrorContext {
  bucket: string;
  /** Where requests go, for messages. */
  endpointLabel: string;
  op: string;
  key?: string;
  accessKeyId: () => Promise<string | undefined>;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH',
  'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'EPROTO',
]);
const ACCESS_CODES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken',
  'ExpiredToken', 'TokenRefreshRequired', 'AllAccessDisabled', 'AccountProblem',
  'InvalidSecurity', 'RequestTimeTooSkewed',
]);

/**
 * What we keep of an SDK error as `cause`: the SDK's exceptions carry the raw response and
 * every unmodelled field of the error body (AWS puts SignatureProvided, StringToSign and
 * CanonicalRequest there), so they are never passed on.
 */
export class S3ErrorSummary extends Error {
  constructor(
    readonly code: string,
    readonly httpStatusCode: number | undefined,
    readonly requestId: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'S3ErrorSummary';
  }
}

export function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; Code?: unknown; name?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (typeof e.Code === 'string') return e.Code;
  return typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
}

export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { $metadata?: { httpStatusCode?: unknown }; httpStatusCode?: unknown };
  const s = e.$metadata?.httpStatusCode ?? e.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

function summarize(err: unknown): S3ErrorSummary {
  const code = codeOf(err) ?? 'Error';
  const status = statusOf(err);
  const requestId = (err as { $metadata?: { requestId?: string } } | null)?.$metadata?.requestId;
  const raw = err instanceof Error ? err.message : String(err);
  // Server messages are plain prose, but scrub anything signature-shaped all the same.
  const message = raw
    .replace(/(Signature|X-Amz-Signature|SignatureProvided)[=:]\s*[0-9a-fA-F]+/g, '$1=<redacted>')
    .slice(0, 300);
  // The SDK says "UnknownError" when the server sent no message (RGW never does; HEAD can't).
  const informative = message !== '' && message !== 'UnknownError' && message !== code;
  const parts = [code, status === undefined ? undefined : `HTTP ${status}`, informative ? message : undefined];
  return new S3ErrorSummary(code, status, requestId, parts.filter((p) => p !== undefined).join(': '));
}

export async function mapS3Error(err: unknown, where_: S3ErrorContext): Promise<Error> {
const { op, key } = where_;
  if (err instanceof NgcpBackupError) return err;
  const code = codeOf(err);
  const status = statusOf(err);
  const cause = summarize(err);
  const where = `bucket ${where_.bucket} at ${where_.endpointLabel}`;

  if (code === 'NoSuchBucket') {
    return new RepositoryUnreachableError(`bucket ${where_.bucket} does not exist at ${where_.endpointLabel}`, { cause });
  }
  if (code === 'NoSuchKey' || (status === 404 && key !== undefined && (op === 'get' || op === 'stat' || op === 'remove'))) {
    return new ObjectNotFoundError(key ?? '', { cause });
  }
  if (status === 404 && op === 'check') {
    return new RepositoryUnreachableError(`bucket ${where_.bucket} does not exist at ${where_.endpointLabel}`, { cause });
  }
  if ((code !== undefined && ACCESS_CODES.has(code)) || status === 403 || status === 401) {
    const keyId = await where_.accessKeyId();
    const who = keyId === undefined ? '' : ` for access key ${keyId}`;
    const named = code !== undefined && code !== 'Unknown' && code !== 'Forbidden' ? code : `HTTP ${status}`;
    const what =
      /object lock/i.test(cause.message)
        ? `the object is protected by S3 Object Lock`
        : code === 'InvalidAccessKeyId'
        ? `the access key is unknown`
        : code === 'SignatureDoesNotMatch'
          ? `the request signature does not match (wrong secret key for this access key?)`
          : code === 'RequestTimeTooSkewed'
            ? `the clock of this machine is too far off`
            : `access denied (${named})`;
    return new RepositoryAccessError(`${where} refused ${op}${who}: ${what}`, { cause });
  }
  if (code === 'CredentialsProviderError' || (err instanceof Error && /could not load credentials/i.test(err.message))) {
    return new RepositoryAccessError(
      `no S3 credentials for ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE/AWS_PROFILE`,
      { cause },
    );
  }
  if (err instanceof Error && /region is missing/i.test(err.message)) {
    return new ConfigError(`repository.region is not set and no AWS region is configured (AWS_REGION)`, { cause });
  }
  if ((code !== undefined && (NETWORK_CODES.has(code) || code === 'TimeoutError')) || isDnsOrSocketError(err)) {
    return new RepositoryUnreachableError(`cannot reach ${where_.endpointLabel} for bucket ${where_.bucket} (${code ?? 'network error'})`, {
      cause,
    });
  }
  if (status !== undefined && status >= 500) {
    return new RepositoryUnreachableError(`${where} failed ${op}: ${cause.message}`, { cause });
  }
  const what = key === undefined ? '' : ` of ${key}`;
  return new NgcpBackupError(`S3 ${op}${what} failed (${where}): ${cause.message}`, { cause });
}

function isDnsOrSocketError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
