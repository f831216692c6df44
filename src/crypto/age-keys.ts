/**
 * age X25519 keys: the text forms (bech32 `age1...` recipients, `AGE-SECRET-KEY-1...`
 * identities, identity files) and the X25519 key agreement done with node:crypto.
 *
 * Messages never echo what was given: a pasted secret key must not end up in a log.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { bech32 } from '@scure/base';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { KeyError } from '../errors.js';

export const X25519_KEY_SIZE = 32;

// Fixed DER prefixes turn raw 32-byte X25519 keys into what node:crypto imports (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A parsed identity: the private key object and its own public key (needed for the HKDF salt). */
export interface X25519Identity {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

function describeKeyText(text: string): string | undefined {
  const upper = text.toUpperCase();
  if (upper.startsWith('AGE-SECRET-KEY-')) return 'is an identity (secret key), not a recipient';
  if (upper.startsWith('AGE-PLUGIN-')) return 'is a plugin identity (secret), not a recipient';
  const lower = text.toLowerCase();
  if (lower.startsWith('age1pq1')) {
    return 'is a post-quantum hybrid recipient (age1pq1...), not an age X25519 recipient; Debian\'s age 1.1 cannot decrypt it';
  }
  if (lower.startsWith('age1tag')) return 'is a tag recipient (age1tag...), not an age X25519 recipient';
  if (lower.startsWith('ssh-') || lower.startsWith('ecdsa-sha2-') || lower.startsWith('sk-')) {
    return 'is an SSH public key, not an age X25519 recipient';
  }
  if (lower.startsWith('-----begin')) return 'is a PEM key, not an age X25519 recipient';
  return undefined;
}

/**
 * `age1...` -> the 32-byte X25519 public key. `where` names the setting in errors, e.g.
 * 'encryption.recipients[1]'.
 */
export function parseRecipient(text: string, where: string): Uint8Array {
  const value = text.trim();
  if (value === '') {
    throw new KeyError(`${where} is empty; expected an age X25519 recipient (age1...)`);
  }
  const known = describeKeyText(value);
  if (known !== undefined) throw new KeyError(`${where} ${known}`);
  const expected = 'expected an age X25519 recipient: "age1" followed by 58 characters, as printed by age-keygen';
  let decoded: { prefix: string; bytes: Uint8Array };
  try {
    decoded = bech32.decodeToBytes(value);
  } catch {
    throw new KeyError(`${where} is not an age X25519 recipient; ${expected}`);
  }
  if (decoded.prefix !== 'age') {
    // age1<plugin>1... recipients carry a longer prefix, e.g. age1yubikey.
    const what = decoded.prefix.startsWith('age1') ? ' (plugin recipients are not supported)' : '';
    throw new KeyError(`${where} is not an age X25519 recipient${what}; ${expected}`);
  }
  if (decoded.bytes.length !== X25519_KEY_SIZE) {
    throw new KeyError(`${where} is not an age X25519 recipient (wrong key length); ${expected}`);
  }
  return decoded.bytes;
}

/** Formats a 32-byte X25519 public key as `age1...`. */
export function formatRecipient(publicKey: Uint8Array): string {
  return bech32.encodeFromBytes('age', publicKey);
}

/**
 * `AGE-SECRET-KEY-1...` -> the 32-byte scalar, or a reason (that never contains the text).
 */
function decodeIdentity(text: string): Uint8Array | string {
  const upper = text.toUpperCase();
  if (upper.startsWith('AGE-SECRET-KEY-PQ-1')) {
    return 'is a post-quantum hybrid identity (AGE-SECRET-KEY-PQ-1...), which is not supported; use an X25519 identity';
  }
  if (upper.startsWith('AGE-PLUGIN-')) return 'is a plugin identity, which is not supported';
  if (text.toLowerCase().startsWith('age1')) return 'is a recipient (public key), not an identity';
  if (!upper.startsWith('AGE-SECRET-KEY-1')) return 'is not an age X25519 identity (AGE-SECRET-KEY-1...)';
  try {
    const decoded = bech32.decodeToBytes(text);
    if (decoded.prefix.toUpperCase() === 'AGE-SECRET-KEY-' && decoded.bytes.length === X25519_KEY_SIZE) {
      return decoded.bytes;
    }
  } catch {
    // fall through: the reason below is the same for every damage
  }
  return 'is not a valid age X25519 identity (damaged or incomplete AGE-SECRET-KEY-1...)';
}

/** Parses identity strings for decryption; `where(i)` names each in errors. */
export function parseIdentities(texts: readonly string[], where: (index: number) => string): X25519Identity[] {
  return texts.map((text, index) => {
    const scalar = decodeIdentity(text.trim());
    if (typeof scalar === 'string') throw new KeyError(`${where(index)} ${scalar}`);
    return identityFromScalar(scalar);
  });
}

export function identityFromScalar(scalar: Uint8Array): X25519Identity {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, scalar]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - X25519_KEY_SIZE));
}

/** A fresh ephemeral key pair, for one stanza. */
export function ephemeralKeyPair(): X25519Identity {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublicKey(publicKey) };
}

/**
 * X25519(private, public). Returns undefined for a low-order point (an all-zero shared secret),
 * which age requires rejecting.
 */
export function x25519(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: publicKeyObject(publicKey) });
  } catch {
    return undefined; // OpenSSL itself refuses some low-order points
  }
  return shared.every((byte) => byte === 0) ? undefined : new Uint8Array(shared);
}

/**
 * Reads an age identity file: '#' comments, blank lines, and `AGE-SECRET-KEY-1...` lines (the
 * format age-keygen writes). Errors name the file and line, never the key.
 */
export async function readIdentities(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code ?? String(error)})`;
    throw new KeyError(`age identity file ${path} ${why}`, { cause: error });
  }
  const identities: string[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const decoded = decodeIdentity(line);
    if (typeof decoded === 'string') {
      throw new KeyError(`age identity file ${path}, line ${index + 1}, ${decoded}`);
    }
    identities.push(line);
  }
  if (identities.length === 0) {
    throw new KeyError(`age identity file ${path} holds no identity (expected a line AGE-SECRET-KEY-1..., as written by age-keygen)`);
  }
  return identities;
}

export interface IdentityFileModeCheck {
  /** The permission bits, e.g. 0o600. */
  readonly mode: number;
  /** Set when group or others may read the file: say it, loudly, but it is the operator's call. */
  readonly warning: string | undefined;
}

/** Whether the identity file is readable by anyone but its owner. */
export async function checkIdentityFileMode(path: string): Promise<IdentityFileModeCheck> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch (error) {
    throw new KeyError(`age identity file ${path} cannot be examined (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  const warning = (mode & 0o044) !== 0
    ? `age identity file ${path} is readable by ${(mode & 0o004) !== 0 ? 'every user' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path}`
    : undefined;
  return { mode, warning };
}

/** A new X25519 identity and its recipient (never the post-quantum kind: age 1.1 cannot read it). */
export async function generateIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return { identity, recipient };
}
