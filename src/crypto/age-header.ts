/**
 * The age v1 header (https://age-encryption.org/v1): its text encoding, the X25519 stanza,
 * and the header MAC. Pure functions over bytes; the streams live in age.ts.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { ephemeralKeyPair, x25519, type X25519Identity } from './age-keys.js';

export const INTRO = 'age-encryption.org/v1';
export const FILE_KEY_SIZE = 16;
const BODY_COLUMNS = 64;
const MAC_SIZE = 32;
const X25519_LABEL = 'age-encryption.org/v1/X25519';

export interface Stanza {
  readonly type: string;
  readonly args: readonly string[];
  readonly body: Uint8Array;
}

export interface ParsedHeader {
  readonly stanzas: readonly Stanza[];
  /** The header up to and including '---', the MAC's input. */
  readonly macInput: Uint8Array;
  readonly mac: Uint8Array;
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

// A zero nonce is safe here: every wrapping key is single-use (fresh ephemeral share).
const ZERO_NONCE = Buffer.alloc(12);

function sealFileKey(key: Uint8Array, fileKey: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  return Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
}

function openFileKey(key: Uint8Array, body: Uint8Array): Uint8Array | undefined {
  const decipher = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  decipher.setAuthTag(body.subarray(FILE_KEY_SIZE));
  const fileKey = decipher.update(body.subarray(0, FILE_KEY_SIZE));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return fileKey;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** Strict unpadded standard base64, as age requires (no malleable encodings). */
function decodeBase64(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) {
    throw new IntegrityError(`the age header is damaged: ${what} is not valid base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (base64(bytes) !== text) throw new IntegrityError(`the age header is damaged: ${what} is not canonical base64`);
  return bytes;
}

export function wrapFileKeyX25519(fileKey: Uint8Array, recipient: Uint8Array): Stanza {
  const ephemeral = ephemeralKeyPair();
  const shared = x25519(ephemeral.privateKey, recipient);
  if (shared === undefined) throw new IntegrityError('X25519 produced an all-zero shared secret (low-order recipient key)');
  const salt = Buffer.concat([ephemeral.publicKey, recipient]);
  const body = sealFileKey(hkdf(shared, salt, X25519_LABEL), fileKey);
  return { type: 'X25519', args: [base64(ephemeral.publicKey)], body };
}

/**
 * The file key, if one of the identities opens one of the X25519 stanzas. Malformed X25519
 * stanzas are damage (age itself refuses them); stanzas of other types are skipped.
 */
export function unwrapFileKeyX25519(stanzas: readonly Stanza[], identities: readonly X25519Identity[]): Uint8Array | undefined {
  for (const stanza of stanzas) {
    if (stanza.type !== 'X25519') continue;
    const share = stanza.args.length === 1 ? decodeBase64(stanza.args[0]!, 'an X25519 share') : undefined;
    if (share?.length !== 32 || stanza.body.length !== FILE_KEY_SIZE + 16) {
      throw new IntegrityError('the age header is damaged: an X25519 stanza is malformed');
    }
    for (const identity of identities) {
      const shared = x25519(identity.privateKey, share);
      if (shared === undefined) throw new IntegrityError('the age header is damaged: an X25519 share is a low-order point');
      const salt = Buffer.concat([share, identity.publicKey]);
      const fileKey = openFileKey(hkdf(shared, salt, X25519_LABEL), stanza.body);
      if (fileKey !== undefined) return fileKey;
    }
  }
  return undefined;
}

export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return createHmac('sha256', hkdf(fileKey, new Uint8Array(0), 'header')).update(macInput).digest();
}

export function verifyHeaderMac(fileKey: Uint8Array, header: ParsedHeader): boolean {
  const expected = headerMac(fileKey, header.macInput);
  return header.mac.length === MAC_SIZE && timingSafeEqual(expected, header.mac);
}

/** Encodes a complete header (with MAC) for a new file key. */
export function encodeHeader(fileKey: Uint8Array, stanzas: readonly Stanza[]): Buffer {
  let text = `${INTRO}\n`;
  for (const stanza of stanzas) {
    text += `-> ${[stanza.type, ...stanza.args].join(' ')}\n`;
    const body = base64(stanza.body);
    for (let i = 0; i < body.length; i += BODY_COLUMNS) text += `${body.slice(i, i + BODY_COLUMNS)}\n`;
    // The last body line must be short: a body that fills its last line gets an empty one.
    if (body.length % BODY_COLUMNS === 0) text += '\n';
  }
  text += '---';
  const macInput = Buffer.from(text, 'latin1');
  return Buffer.concat([macInput, Buffer.from(` ${base64(headerMac(fileKey, macInput))}\n`, 'latin1')]);
}

export function newFileKey(): Buffer {
  return randomBytes(FILE_KEY_SIZE);
}

function isArgument(text: string): boolean {
  return text.length > 0 && /^[\x21-\x7e]+$/.test(text);
}

/**
 * Where the header ends in `bytes` (the index just past the MAC line's newline), or -1 when
 * more bytes are needed. Only finds the end; parseHeader checks everything.
 */
export function findHeaderEnd(bytes: Uint8Array): number {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Only the MAC line starts with '---' (stanza lines start with '->', bodies are base64).
  const footer = buffer.indexOf('\n---', 0, 'latin1');
  if (footer < 0) return -1;
  const end = buffer.indexOf(0x0a, footer + 1);
  return end < 0 ? -1 : end + 1;
}

/** Parses a header as findHeaderEnd delimited it. Every defect is an IntegrityError. */
export function parseHeader(bytes: Uint8Array): ParsedHeader {
  const damaged = (what: string): IntegrityError => new IntegrityError(`the age header is damaged: ${what}`);
  for (const byte of bytes) {
    if (byte !== 0x0a && (byte < 0x20 || byte > 0x7e)) throw damaged('it contains a byte that is not printable ASCII');
  }
  const text = Buffer.from(bytes).toString('latin1');
  const lines = text.split('\n');
  if (lines.pop() !== '') throw damaged('it does not end with a newline');
  if (lines[0] !== INTRO) throw damaged(`the first line is not "${INTRO}"`);
  const stanzas: Stanza[] = [];
  let index = 1;
  for (;;) {
    const line = lines[index];
    if (line === undefined) throw damaged('it ends before its MAC line');
    if (line.startsWith('---')) {
      const parts = line.split(' ');
      if (parts.length !== 2 || parts[0] !== '---' || index !== lines.length - 1) throw damaged('the MAC line is malformed');
      const macInputLength = text.length - 1 - line.length + 3;
      return {
        stanzas,
        macInput: bytes.subarray(0, macInputLength),
        mac: decodeBase64(parts[1]!, 'the MAC'),
      };
    }
    if (!line.startsWith('->')) throw damaged(`line ${index + 1} is neither a stanza nor the MAC line`);
    const [prefix, type, ...args] = line.split(' ');
    if (prefix !== '->' || type === undefined || !isArgument(type) || !args.every(isArgument)) {
      throw damaged(`the stanza on line ${index + 1} is malformed`);
    }
    index += 1;
    const body: Uint8Array[] = [];
    for (;;) {
      const bodyLine = lines[index];
      if (bodyLine === undefined) throw damaged('it ends inside a stanza');
      // Some encoders end a body that fills its last line without the empty line.
      if (body.length > 0 && (bodyLine.startsWith('->') || bodyLine.startsWith('---'))) break;
      if (bodyLine.length > BODY_COLUMNS) throw damaged(`the stanza body on line ${index + 1} is too long`);
      body.push(decodeBase64(bodyLine, `the stanza body on line ${index + 1}`));
      index += 1;
      if (bodyLine.length < BODY_COLUMNS) break;
    }
    stanzas.push({ type, args, body: Buffer.concat(body) });
  }
}
