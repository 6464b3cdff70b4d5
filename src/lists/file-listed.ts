/**
 * Which numbers a deny-list's current generation (its file) lists. `list remove` / `unblock` only
 * withdraw intraday additions: a number the file lists stays listed until a file without it is
 * loaded, and the admin reply must say so instead of reporting a removal.
 */
import type { RemoteConfirmer } from '../check/deny-lists.js';
import type { ListSlot } from './registry.js';
import type { NumberKey } from '../numbers/number-key.js';

export interface StillListed {
  readonly generation: string;
  /** Positions (in the given keys) the generation lists, or may list (Redis could not confirm). */
  readonly positions: readonly number[];
}

export async function listedByGeneration(slot: ListSlot, keys: readonly NumberKey[], remote: RemoteConfirmer | null): Promise<StillListed | null> {
  const state = slot.state;
  // Allow-lists: a removal is a revocation, which overrides the file; a list not loaded lists nothing yet.
  if (state === null || state.spec.kind !== 'deny') return null;
  const hits: number[] = [];
  keys.forEach((key, i) => {
    if (state.filter.has(key)) hits.push(i);
  });
  const members = state.members;
  let positions: number[];
  if (members.where === 'memory') positions = hits.filter((i) => members.set.has(keys[i] as NumberKey));
  else if (remote === null || hits.length === 0) positions = hits;
  else {
    const answers = await remote.confirm(hits.map((i) => ({ state, key: keys[i] as NumberKey })));
    // 'unconfirmed' counts as listed: never report a removal that may not have happened.
    positions = hits.filter((_, j) => answers[j] !== 'absent');
  }
  return positions.length === 0 ? null : { generation: state.generation, positions };
}
