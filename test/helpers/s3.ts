import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';

/**
 * The test gateway that scripts/ceph-s3-ensure.sh starts (Ceph RGW on 127.0.0.1). The test
 * runner calls that script before ava; tests never start Ceph themselves.
 */
export const RGW_PORT = Number(process.env.RGW_PORT ?? 7480);
export const RGW_ENDPOINT = `http://127.0.0.1:${RGW_PORT}`;
export const TEST_ACCESS_KEY = process.env.ACCESS_KEY ?? 'testaccesskey';
export const TEST_SECRET_KEY = process.env.SECRET_KEY ?? 'testsecretkey';
export const TEST_REGION = 'us-east-1';

export interface S3TestRepository {
  /** `s3://<bucket>/<prefix>`, for openStorage and the CLI. */
  url: string;
  endpoint: string;
  bucket: string;
  prefix: string;
  /** What a child process (the CLI) needs in its environment to use the repository. */
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; AWS_REGION: string };
  /** A client for looking behind the Storage (raw objects, multipart uploads). */
  client: S3Client;
  /** Empties and deletes the bucket. */
  cleanup(): Promise<void>;
}

/** A plain client for the test gateway, configured as S3Storage configures non-AWS stores. */
export function s3TestClient(maxAttempts = 3): S3Client {
  return new S3Client({
    endpoint: RGW_ENDPOINT,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts,
  });
}

let reachable: Promise<void> | undefined;

async function assertGateway(): Promise<void> {
  const client = s3TestClient(1);
  try {
    await client.send(new ListBucketsCommand({}));
  } catch (err) {
    const code = (err as { code?: string; name?: string }).code ?? (err as { name?: string }).name;
    throw new Error(
      `no usable S3 test gateway at ${RGW_ENDPOINT} (${code}): run scripts/ceph-s3-ensure.sh first`,
    );
  } finally {
    client.destroy();
  }
}

/** A fresh, uniquely named, empty bucket on the test gateway. */
export async function s3TestRepository(): Promise<S3TestRepository> {
  reachable ??= assertGateway();
  await reachable;
  const bucket = `ngcp-test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const prefix = 'repo';
  const client = s3TestClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    url: `s3://${bucket}/${prefix}`,
    endpoint: RGW_ENDPOINT,
    bucket,
    prefix,
    env: { AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY, AWS_REGION: TEST_REGION },
    client,
    async cleanup() {
      try {
        await emptyBucket(client, bucket);
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        client.destroy();
      }
    },
  };
}

async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const u of page.Uploads ?? []) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined);

  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    // One DeleteObject per key: DeleteObjects needs a body checksum some stores reject.
    await Promise.all(
      (page.Contents ?? []).map((o) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }))),
    );
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}
