/**
 * The one file (with numbers/normalise.ts) that touches libphonenumber-js: the reference parse, the
 * library version, and validators compiled once from the same `max` metadata that `isValid()` reads,
 * so that the normaliser's fast path answers exactly what the library would.
 */
import { createRequire } from 'node:module';
import { Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** Installed libphonenumber-js version: metadata updates change which numbers are valid. */
export const LIBPHONENUMBER_VERSION: string = readLibraryVersion();

function readLibraryVersion(): string {
  // The package exports "./package.json", so it resolves like any other entry point.
  const pkg: unknown = createRequire(import.meta.url)('libphonenumber-js/package.json');
  const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  if (typeof version !== 'string' || version === '') {
    throw new Error('libphonenumber-js/package.json has no version');
  }
  return version;
}

/**
 * Reference parse of '+<digits>' with the `max` metadata: the E.164 form when `isValid()`, else null.
 */
export function parseInternationalValid(plusDigits: string): string | null {
  const parsed = parsePhoneNumberFromString(plusDigits);
  return parsed !== undefined && parsed.isValid() ? parsed.number : null;
}

const metadata = new Metadata();

/** Every country calling code the metadata knows (geographic and non-geographic), ascending. */
export function callingCodes(): string[] {
  const codes = (metadata as unknown as { metadata?: { country_calling_codes?: Record<string, unknown> } }).metadata?.country_calling_codes;
  if (codes === undefined) throw new Error('libphonenumber-js metadata has no country_calling_codes');
  return Object.keys(codes).sort((a, b) => Number(a) - Number(b));
}

/** True when `digits` is a country calling code (geographic or not) known to the metadata. */
export function isCallingCode(digits: string): boolean {
  return digits.length >= 1 && digits.length <= 3 && (metadata as unknown as RuntimeMetadata).hasCallingCode(digits) === true;
}

/**
 * The runtime methods of libphonenumber-js's Metadata / NumberingPlan / Type classes
 * (source/metadata.js) that its own isValid() uses; its .d.ts only declares a few of them.
 */
interface RuntimeType {
  pattern(): string | undefined;
  possibleLengths(): number[] | undefined;
}
interface RuntimePlan {
  leadingDigits(): string | undefined;
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  nationalPrefixTransformRule(): string | undefined;
  hasTypes(): boolean;
  type(name: string): RuntimeType | undefined;
}
interface RuntimeMetadata {
  hasCallingCode(callingCode: string): boolean | undefined;
  getCountryCodesForCallingCode(callingCode: string): string[] | undefined;
  selectNumberingPlan(countryOrCallingCode: string): unknown;
  numberingPlan: RuntimePlan | undefined;
}

// Order matters: getNumberType() checks FIXED_LINE first, then these (helpers/getNumberType.js).
const TYPE_NAMES = [
  'FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP',
  'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL',
] as const;

interface CompiledPlan {
  readonly leading: RegExp | null;
  readonly nationalNumber: RegExp;
  readonly hasTypes: boolean;
  /** Union of the type patterns applicable to a number of the compiled length; null when none applies. */
  readonly anyType: RegExp | null;
}

/**
 * Compiles, for one calling code, `isValid()` of `parse('+' + callingCode + nsn)` restricted to
 * national numbers of `nsnLength` digits (9 by default) that do not start with 0. It mirrors, in the library's own order:
 * national-prefix stripping (must be a no-op: checked once here), the country choice among the
 * countries sharing the code (helpers/getCountryByNationalNumber.js: leading digits, else "has a
 * type"), then isValid (helpers/getNumberType.js: national pattern, then any type pattern whose
 * possible lengths include 9). Returns null when the metadata does not have the shape this relies
 * on; callers then use the reference parse.
 */
export function compileNationalValidator(callingCode: string, nsnLength = 9): ((nsn: string) => boolean) | null {
  const compiled = compileValidity(callingCode, nsnLength);
  if (compiled === null) return null;
  // Stripping cannot apply to a number starting 1–9 only if the prefix is "0" with no transform rule;
  // anything else is left to the reference parse.
  const { prefix, transform, validate } = compiled;
  return (prefix !== undefined && prefix !== '0') || transform ? null : validate;
}

/**
 * compileNationalValidator for every calling code whose metadata it compiles, including those whose main plan
 * strips a national prefix other than a bare "0" (or transforms it): the validator answers, as the reference parse
 * would, for a national number the prefix pattern does not match at its first digit (the library then leaves it
 * as it is: helpers/extractNationalNumberFromPossiblyIncompleteNumber.js), and null for one it matches, which the
 * caller hands to the reference parse. Rule 9's readings (normalise.ts readWithPlus): `+7…` read from 9 bare digits
 * used to be a full parse each (~50–200 µs, most of a check's own CPU in the bench's mix).
 */
export function compileGuardedValidator(callingCode: string, nsnLength: number): ((nsn: string) => boolean | null) | null {
  const compiled = compileValidity(callingCode, nsnLength);
  if (compiled === null) return null;
  const { prefix, validate } = compiled;
  // The transform rule applies only where the prefix pattern matched (the same helper): the guard covers it.
  if (prefix === undefined || prefix === '') return validate;
  const stripped = new RegExp(`^(?:${prefix})`);
  return (nsn) => (stripped.test(nsn) ? null : validate(nsn));
}

interface CompiledValidity {
  /** The main plan's national prefix for parsing, and whether it has a transform rule. */
  readonly prefix: string | undefined;
  readonly transform: boolean;
  /** Validity of a national number the prefix left as it is. */
  readonly validate: (nsn: string) => boolean;
}

function compileValidity(callingCode: string, nsnLength: number): CompiledValidity | null {
  const meta = new Metadata() as unknown as RuntimeMetadata;
  const countries = meta.getCountryCodesForCallingCode(callingCode);
  if (typeof meta.selectNumberingPlan !== 'function' || countries === undefined || countries.length === 0) return null;
  const plans: CompiledPlan[] = [];
  for (const country of countries) {
    meta.selectNumberingPlan(country);
    const plan = compilePlan(meta.numberingPlan, nsnLength);
    if (plan === null) return null;
    plans.push(plan);
  }
  // An international parse selects the calling code's main plan (the first country) to strip a
  // national prefix.
  meta.selectNumberingPlan(callingCode);
  const main = meta.numberingPlan;
  if (main === undefined) return null;
  const prefix = main.nationalPrefixForParsing();
  const transform = Boolean(main.nationalPrefixTransformRule());

  const [first, ...rest] = plans;
  if (first === undefined) return null;
  const hasType = (p: CompiledPlan, nsn: string): boolean =>
    p.anyType !== null && p.nationalNumber.test(nsn) && p.anyType.test(nsn);
  const isValidFor = (p: CompiledPlan, nsn: string): boolean =>
    p.hasTypes ? hasType(p, nsn) : p.nationalNumber.test(nsn);
  if (rest.length === 0) return { prefix, transform, validate: (nsn) => isValidFor(first, nsn) };
  const validate = (nsn: string): boolean => {
    for (const p of plans) {
      if (p.leading !== null) {
        if (p.leading.test(nsn)) return isValidFor(p, nsn);
      } else if (p.hasTypes && hasType(p, nsn)) {
        return true;
      }
    }
    // No country matched: the library validates against the calling code's main plan.
    return isValidFor(first, nsn);
  };
  return { prefix, transform, validate };
}

function compilePlan(plan: RuntimePlan | undefined, nsnLength: number): CompiledPlan | null {
  if (plan === undefined) return null;
  for (const method of ['leadingDigits', 'nationalNumberPattern', 'nationalPrefixForParsing', 'nationalPrefixTransformRule', 'hasTypes', 'type'] as const) {
    if (typeof plan[method] !== 'function') return null;
  }
  const national = plan.nationalNumberPattern();
  if (typeof national !== 'string' || national === '') return null;
  const leading = plan.leadingDigits();
  const hasTypes = plan.hasTypes();
  const alternatives: string[] = [];
  if (hasTypes) {
    for (const name of TYPE_NAMES) {
      const type = plan.type(name);
      const pattern = type?.pattern();
      if (type === undefined || !pattern) continue;
      const lengths = type.possibleLengths();
      if (lengths !== undefined && !lengths.includes(nsnLength)) continue;
      alternatives.push(`(?:${pattern})`);
    }
  }
  return {
    // String.prototype.search(...) === 0 in the library: a match starting at the first digit.
    leading: leading ? new RegExp(`^(?:${leading})`) : null,
    nationalNumber: new RegExp(`^(?:${national})$`),
    hasTypes,
    anyType: alternatives.length > 0 ? new RegExp(`^(?:${alternatives.join('|')})$`) : null,
  };
}

/**
 * The number-type patterns (national significant numbers) of every country sharing a calling code,
 * as the metadata writes them: lets tests generate valid numbers for any calling code.
 */
export function typePatterns(callingCode: string): string[] {
  const meta = new Metadata() as unknown as RuntimeMetadata;
  const out: string[] = [];
  for (const country of meta.getCountryCodesForCallingCode(callingCode) ?? []) {
    meta.selectNumberingPlan(country);
    const plan = meta.numberingPlan;
    if (plan === undefined) continue;
    if (!plan.hasTypes()) {
      out.push(plan.nationalNumberPattern());
      continue;
    }
    for (const name of TYPE_NAMES) {
      const pattern = plan.type(name)?.pattern();
      if (pattern) out.push(pattern);
    }
  }
  return out;
}
