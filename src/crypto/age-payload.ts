/**
 * The age v1 payload: STREAM with ChaCha20-Poly1305 over 64 KiB chunks, done with node:crypto
 * (OpenSSL) because it is several times faster than the JavaScript cipher age-encryption uses;
 * see docs/decisions/age-payload.md for the measurement.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_NONCE_SIZE = 16;
// The 11-byte counter never gets near 2^48 chunks (16 EiB); stay inside exact integers.
const MAX_COUNTER = 2 ** 48 - 1;

export function newPayloadNonce(): Buffer {
  return randomBytes(PAYLOAD_NONCE_SIZE);
}

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

function chunkNonce(counter: number, last: boolean): Buffer {
  if (counter > MAX_COUNTER) throw new RangeError('age payload is too long (chunk counter overflow)');
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Encrypts one chunk; returns ciphertext and tag, to be written in that order. */
export function sealChunk(key: Uint8Array, counter: number, last: boolean, plaintext: Uint8Array): [Buffer, Buffer] {
  const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return [ciphertext, cipher.getAuthTag()];
}

/** Decrypts one sealed chunk (ciphertext + tag); undefined when it does not authenticate. */
export function openChunk(key: Uint8Array, counter: number, last: boolean, sealed: Uint8Array): Buffer | undefined {
  const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}
