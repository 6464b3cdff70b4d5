/**
 * The rules part of the configuration: named policies (built-ins or variants of them), campaigns
 * (each names a policy and may declare a sector) and the default policy for checks without a
 * campaign — `deny-lists` unless configured otherwise, so existing users keep their behaviour.
 * Validated once at start-up.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { ListSpec } from './list-spec.js';
import { BUILTIN_POLICIES, definePolicy, type PolicyConfig } from '../rules/policy.js';

export interface CampaignConfig {
  readonly policy: PolicyConfig;
  readonly sector: string | null;
}

export interface RulesConfig {
  readonly policies: ReadonlyMap<string, PolicyConfig>;
  readonly campaigns: ReadonlyMap<string, CampaignConfig>;
  readonly defaultPolicy: PolicyConfig;
  /** Zone for the hours of numbers outside France (IANA name). */
  readonly foreignTimezone: string;
  /**
   * A check naming a campaign that is not configured (while some are): 'block' refuses it
   * (`unknown_campaign`), 'default' gives it defaultPolicy. A misspelt opt-in campaign must not
   * fall back to an opt-out policy and call without consent.
   */
  readonly unknownCampaign: 'block' | 'default';
}

/** The campaign a check runs under; null when it names an unknown campaign that must be refused. */
export function resolveCampaign(rules: RulesConfig, fallback: CampaignConfig, name: string | null): CampaignConfig | null {
  if (name === null) return fallback;
  const c = rules.campaigns.get(name);
  if (c !== undefined) return c;
  // With no campaign configured, campaign names are only labels (counts, audit): nothing to misspell.
  return rules.unknownCampaign === 'block' && rules.campaigns.size > 0 ? null : fallback;
}

function err(message: string): CallgateError {
  return new CallgateError(ErrorCode.CONFIG, message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Policies that keep state per consumer (attempts, refusals): they need Redis. */
export function needsRedis(p: PolicyConfig): boolean {
  return p.frequencyCap !== null || p.refusalDays !== null;
}

export function parseRulesConfig(
  raw: { policies?: unknown; campaigns?: unknown; defaultPolicy?: unknown; foreignTimezone?: unknown; unknownCampaign?: unknown },
  lists: readonly ListSpec[],
  redis: boolean,
): RulesConfig {
  const policies = new Map<string, PolicyConfig>(BUILTIN_POLICIES);
  if (raw.policies !== undefined) {
    if (!isObject(raw.policies)) throw err('config policies: expected an object { name: { base, …overrides } }');
    for (const [name, def] of Object.entries(raw.policies)) {
      if (BUILTIN_POLICIES.has(name)) throw err(`config policies.${name}: a built-in policy cannot be redefined; give it another name`);
      if (!isObject(def) || typeof def['base'] !== 'string') throw err(`config policies.${name}: expected { "base": "fr-optin" | "fr-optout" | "deny-lists", …overrides }`);
      const { base, ...overrides } = def;
      policies.set(name, definePolicy(base as string, { ...(overrides as Partial<PolicyConfig>), name }));
    }
  }
  const policyOf = (name: unknown, where: string): PolicyConfig => {
    if (typeof name !== 'string') throw err(`${where}: expected a policy name, got ${JSON.stringify(name)}`);
    const p = policies.get(name);
    if (p === undefined) throw err(`${where}: unknown policy ${JSON.stringify(name)} (known: ${[...policies.keys()].join(', ')})`);
    return p;
  };
  const campaigns = new Map<string, CampaignConfig>();
  if (raw.campaigns !== undefined) {
    if (!isObject(raw.campaigns)) throw err('config campaigns: expected an object { name: { policy, sector? } }');
    for (const [name, def] of Object.entries(raw.campaigns)) {
      if (!isObject(def)) throw err(`config campaigns.${name}: expected { "policy": …, "sector"?: … }`);
      const sector = def['sector'] ?? null;
      if (sector !== null && (typeof sector !== 'string' || sector === '')) throw err(`config campaigns.${name}.sector: expected a sector name, got ${JSON.stringify(sector)}`);
      campaigns.set(name, Object.freeze({ policy: policyOf(def['policy'], `config campaigns.${name}.policy`), sector }));
    }
  }
  const defaultPolicy = policyOf(raw.defaultPolicy ?? 'deny-lists', 'defaultPolicy');
  const denyNames = new Set(lists.filter((l) => l.kind === 'deny').map((l) => l.name));
  const used = [defaultPolicy, ...[...campaigns.values()].map((c) => c.policy)];
  for (const p of used) {
    for (const l of p.contractExceptionLists) if (!denyNames.has(l)) throw err(`policy ${p.name}: contractExceptionLists names ${JSON.stringify(l)}, which is not a configured deny-list`);
    if (needsRedis(p) && !redis) {
      throw new CallgateError(
        ErrorCode.NEEDS_REDIS,
        `policy ${p.name} counts attempts and refusals per consumer, which must be shared by every dialer and survive restarts: it needs Redis mode (--redis URL); refusing to start in embedded mode`,
      );
    }
  }
  const foreignTimezone = raw.foreignTimezone ?? 'Europe/Paris';
  if (typeof foreignTimezone !== 'string') throw err('foreignTimezone: expected an IANA time zone name');
  try {
    new Intl.DateTimeFormat('en', { timeZone: foreignTimezone });
  } catch {
    throw err(`foreignTimezone: unknown time zone ${JSON.stringify(foreignTimezone)}`);
  }
  const unknownCampaign = raw.unknownCampaign ?? 'block';
  if (unknownCampaign !== 'block' && unknownCampaign !== 'default') throw err(`unknownCampaign: expected "block" or "default", got ${JSON.stringify(unknownCampaign)}`);
  return Object.freeze({ policies, campaigns, defaultPolicy, foreignTimezone, unknownCampaign });
}
