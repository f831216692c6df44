import { IntegrityError } from '../errors.js';

/** A stored JSON document; what is not JSON is damage (an IntegrityError naming where it came from). */
export function parseStoredJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new IntegrityError(`${where} is not valid JSON`);
  }
}
