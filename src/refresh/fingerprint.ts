/**
 * The fingerprint of a list file without parsing it: sha256 of its raw bytes, the same digest
 * list-read computes while parsing. A sidecar uses it to recognise that the generation current in
 * Redis was loaded from this very file, and takes it over instead of reading 15 million lines.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CallgateError, ErrorCode } from '../core/errors.js';

export async function fingerprintFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (err) {
    throw new CallgateError(ErrorCode.LIST_READ, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return hash.digest('hex');
}
