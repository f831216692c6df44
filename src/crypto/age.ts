/**
 * age encryption for repository objects: X25519 recipients only, so the node needs nothing
 * but public keys, and any standard `age` binary decrypts what we write (invariants 2 and 8).
 *
 * Both directions are Transforms with bounded memory: one 64 KiB chunk (plus its tag) is held
 * back, because whether a chunk is the last one is only known when more data (or the end)
 * arrives.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError, KeyError } from '../errors.js';
import {
  encodeHeader,
  findHeaderEnd,
  INTRO,
  newFileKey,
  parseHeader,
  unwrapFileKeyX25519,
  verifyHeaderMac,
  wrapFileKeyX25519,
} from './age-header.js';
import { parseIdentities, parseRecipient, type X25519Identity } from './age-keys.js';
import {
  CHUNK_SIZE,
  newPayloadNonce,
  openChunk,
  PAYLOAD_NONCE_SIZE,
  payloadKey,
  SEALED_CHUNK_SIZE,
  sealChunk,
  TAG_SIZE,
} from './age-payload.js';

export {
  checkIdentityFileMode,
  formatRecipient,
  generateIdentity,
  parseRecipient,
  readIdentities,
  type IdentityFileModeCheck,
} from './age-keys.js';

/** Far above any real header (one X25519 stanza is ~110 bytes); bounds memory on garbage input. */
const MAX_HEADER_SIZE = 256 * 1024;
const ARMOR_BEGIN = Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----', 'latin1');

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

class AgeEncryptStream extends Transform {
  readonly #key: Buffer;
  #prefix: Buffer | undefined;
  readonly #pending = Buffer.allocUnsafe(CHUNK_SIZE);
  #used = 0;
  #counter = 0;

  constructor(recipients: readonly Uint8Array[]) {
    super();
    const fileKey = newFileKey();
    const header = encodeHeader(fileKey, recipients.map((recipient) => wrapFileKeyX25519(fileKey, recipient)));
    const nonce = newPayloadNonce();
    this.#key = payloadKey(fileKey, nonce);
    this.#prefix = Buffer.concat([header, nonce]);
  }

  #pushPrefix(): void {
    if (this.#prefix === undefined) return;
    this.push(this.#prefix);
    this.#prefix = undefined;
  }

  #seal(plaintext: Uint8Array, last: boolean): void {
    const [ciphertext, tag] = sealChunk(this.#key, this.#counter, last, plaintext);
    this.#counter += 1;
    this.push(ciphertext);
    this.push(tag);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#pushPrefix();
      let offset = 0;
      while (offset < data.length) {
        if (this.#used === CHUNK_SIZE) {
          this.#seal(this.#pending, false); // more data follows, so it is not the last chunk
          this.#used = 0;
        }
        // Whole chunks with data after them go straight from the input, without a copy.
        while (this.#used === 0 && data.length - offset > CHUNK_SIZE) {
          this.#seal(data.subarray(offset, offset + CHUNK_SIZE), false);
          offset += CHUNK_SIZE;
        }
        const n = Math.min(CHUNK_SIZE - this.#used, data.length - offset);
        data.copy(this.#pending, this.#used, offset, offset + n);
        this.#used += n;
        offset += n;
      }
      callback();
    } catch (error) {
      callback(errorOf(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#pushPrefix();
      // The last chunk may be full, and is empty only when the whole payload is.
      this.#seal(this.#pending.subarray(0, this.#used), true);
      callback();
    } catch (error) {
      callback(errorOf(error));
    }
  }
}

/** Plaintext in, an age v1 file out, readable by any of the recipients (`age1...`). */
export function createEncryptStream(recipients: readonly string[]): Transform {
  if (recipients.length === 0) throw new KeyError('no age recipient given: there is nobody to encrypt to');
  const keys = recipients.map((text, index) => parseRecipient(text, `recipients[${index}]`));
  return new AgeEncryptStream(keys);
}

type DecryptState = 'header' | 'nonce' | 'payload';

class AgeDecryptStream extends Transform {
  readonly #identities: readonly X25519Identity[];
  #state: DecryptState = 'header';
  #head: Buffer = Buffer.alloc(0); // header and nonce bytes, while they arrive
  #fileKey: Uint8Array | undefined;
  #key: Buffer | undefined;
  readonly #pending = Buffer.allocUnsafe(SEALED_CHUNK_SIZE);
  #used = 0;
  #counter = 0;

  constructor(identities: readonly X25519Identity[]) {
    super();
    this.#identities = identities;
  }

  #open(sealed: Uint8Array, last: boolean): void {
    const plaintext = openChunk(this.#key!, this.#counter, last, sealed);
    if (plaintext === undefined) {
      throw new IntegrityError(
        `the age payload is damaged or truncated: chunk ${this.#counter + 1} does not authenticate`,
      );
    }
    if (last && plaintext.length === 0 && this.#counter > 0) {
      throw new IntegrityError('the age payload is damaged: an empty last chunk after other chunks');
    }
    this.#counter += 1;
    if (plaintext.length > 0) this.push(plaintext);
  }

  /** Consumes header/nonce bytes; returns the payload bytes that came with them. */
  #readHead(data: Buffer): Buffer {
    this.#head = this.#head.length === 0 ? data : Buffer.concat([this.#head, data]);
    if (this.#state === 'header') {
      const head = this.#head;
      const intro = Buffer.from(`${INTRO}\n`, 'latin1');
      const seen = Math.min(head.length, intro.length);
      if (!head.subarray(0, seen).equals(intro.subarray(0, seen))) {
        const armor = ARMOR_BEGIN.subarray(0, Math.min(head.length, ARMOR_BEGIN.length));
        if (head.subarray(0, armor.length).equals(armor)) {
          if (armor.length < ARMOR_BEGIN.length) return Buffer.alloc(0); // wait to be sure
          throw new IntegrityError('this is an ASCII-armored age file (age -a), which repository objects never are; decrypt it with age -d');
        }
        throw new IntegrityError(`this is not an age file: it does not start with "${INTRO}"`);
      }
      const end = findHeaderEnd(head);
      if (end < 0) {
        // Binary bytes before any MAC line mean damage (or not age at all): say so now.
        if (data.some((byte) => byte !== 0x0a && (byte < 0x20 || byte > 0x7e))) {
          throw new IntegrityError('the age header is damaged: it contains a byte that is not printable ASCII');
        }
        if (head.length > MAX_HEADER_SIZE) throw new IntegrityError('the age header is damaged: no MAC line in its first 256 KiB');
        return Buffer.alloc(0);
      }
      const header = parseHeader(head.subarray(0, end));
      const fileKey = unwrapFileKeyX25519(header.stanzas, this.#identities);
      if (fileKey === undefined) {
        const types = [...new Set(header.stanzas.map((stanza) => stanza.type))];
        throw new KeyError(types.includes('X25519')
          ? 'no identity matches any of the recipients of this age file: it was encrypted to other keys (or its header is damaged)'
          : `no identity matches: this age file has no X25519 recipient, only ${types.join(', ') || 'none'} (or its header is damaged)`);
      }
      if (!verifyHeaderMac(fileKey, header)) throw new IntegrityError('the age header is damaged: its MAC does not match');
      this.#fileKey = fileKey;
      this.#head = head.subarray(end);
      this.#state = 'nonce';
    }
    if (this.#head.length < PAYLOAD_NONCE_SIZE) return Buffer.alloc(0);
    this.#key = payloadKey(this.#fileKey!, this.#head.subarray(0, PAYLOAD_NONCE_SIZE));
    const rest = this.#head.subarray(PAYLOAD_NONCE_SIZE);
    this.#head = Buffer.alloc(0);
    this.#fileKey = undefined;
    this.#state = 'payload';
    return rest;
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const data = this.#state === 'payload' ? input : this.#readHead(input);
      let offset = 0;
      while (offset < data.length) {
        if (this.#used === SEALED_CHUNK_SIZE) {
          this.#open(this.#pending, false);
          this.#used = 0;
        }
        while (this.#used === 0 && data.length - offset > SEALED_CHUNK_SIZE) {
          this.#open(data.subarray(offset, offset + SEALED_CHUNK_SIZE), false);
          offset += SEALED_CHUNK_SIZE;
        }
        const n = Math.min(SEALED_CHUNK_SIZE - this.#used, data.length - offset);
        data.copy(this.#pending, this.#used, offset, offset + n);
        this.#used += n;
        offset += n;
      }
      callback();
    } catch (error) {
      callback(errorOf(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#state === 'header') {
        throw new IntegrityError(this.#head.length === 0
          ? 'this is not an age file: it is empty'
          : 'the age file is truncated or damaged: it ends inside its header');
      }
      if (this.#state === 'nonce') throw new IntegrityError('the age file is truncated: it ends before its payload');
      if (this.#used < TAG_SIZE) throw new IntegrityError('the age payload is truncated: its last chunk is incomplete');
      this.#open(this.#pending.subarray(0, this.#used), true);
      callback();
    } catch (error) {
      callback(errorOf(error));
    }
  }
}

/** An age v1 file in, plaintext out. Identities are `AGE-SECRET-KEY-1...` strings. */
export function createDecryptStream(identities: readonly string[]): Transform {
  if (identities.length === 0) throw new KeyError('no age identity given: nothing can decrypt this object');
  return new AgeDecryptStream(parseIdentities(identities, (index) => `identity ${index + 1}`));
}
