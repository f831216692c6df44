/**
 * The benchmark's S3 side: a fresh bucket on the local Ceph RGW (scripts/ceph-s3-ensure.sh), and
 * an AWS config directory (0700, files 0600) that both awscli and ngcp-backup (the SDK's shared
 * files chain) read, so that no credential ever appears in a command line.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const RGW_ENDPOINT = `http://127.0.0.1:${process.env.RGW_PORT ?? 7480}`;
const ACCESS_KEY = process.env.ACCESS_KEY ?? 'testaccesskey';
const SECRET_KEY = process.env.SECRET_KEY ?? 'testsecretkey';
const REGION = 'us-east-1';

export interface BenchBucket {
  bucket: string;
  /** Environment for awscli and ngcp-backup: shared config files, no AWS_* secrets. */
  env: NodeJS.ProcessEnv;
  size(key: string): Promise<number>;
  /** Total size of the objects under a prefix. */
  sizeUnder(prefix: string): Promise<number>;
  /** Empties and deletes the bucket. */
  cleanup(): Promise<void>;
}

export async function createBenchBucket(awsDir: string): Promise<BenchBucket> {
  await mkdir(awsDir, { recursive: true, mode: 0o700 });
  const credentials = path.join(awsDir, 'credentials');
  const config = path.join(awsDir, 'config');
  await writeFile(credentials, `[default]\naws_access_key_id = ${ACCESS_KEY}\naws_secret_access_key = ${SECRET_KEY}\n`, { mode: 0o600 });
  await writeFile(config, `[default]\nregion = ${REGION}\noutput = json\ns3 =\n  addressing_style = path\n`, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  Object.assign(env, {
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_CONFIG_FILE: config,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  });

  const client = new S3Client({
    endpoint: RGW_ENDPOINT,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = `ngcp-bench-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    client.destroy();
    throw new Error(`cannot create a bucket on ${RGW_ENDPOINT} (run scripts/ceph-s3-ensure.sh): ${(error as Error).message}`, { cause: error });
  }

  const list = async function* (prefix?: string): AsyncGenerator<{ Key?: string; Size?: number }> {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      yield* page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  };

  return {
    bucket,
    env,
    async size(key) {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ContentLength ?? 0;
    },
    async sizeUnder(prefix) {
      let total = 0;
      for await (const o of list(prefix)) total += o.Size ?? 0;
      return total;
    },
    async cleanup() {
      try {
        let keyMarker: string | undefined;
        let uploadIdMarker: string | undefined;
        do {
          const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
          for (const u of page.Uploads ?? []) {
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
          }
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        } while (keyMarker !== undefined);
        // Collect first, then delete: deleting while paging can skip keys.
        const keys: string[] = [];
        for await (const o of list()) if (o.Key) keys.push(o.Key);
        for (let i = 0; i < keys.length; i += 16) {
          await Promise.all(keys.slice(i, i + 16).map((Key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
        }
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        client.destroy();
      }
    },
  };
}
