/**
 * Where a list's generations come from and where their exact members live: in this process
 * (embedded) or in Redis shared by a fleet. The service only knows this interface.
 */
import type { RemoteConfirmer } from './check.js';

export interface ListBackend {
  readonly mode: 'embedded' | 'redis';
  /** Confirms Bloom hits outside the process; null when members are in memory. */
  readonly remote: RemoteConfirmer | null;
  /** Loads (or takes over) every configured list and installs each in the registry as it is ready. */
  start(): Promise<void>;
  /** The last load error of a list, for /readyz; null when none. */
  lastError(list: string): string | null;
  /** Backend health for /readyz (e.g. whether Redis is reachable). */
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}
