/**
 * Proof-line value types (declared per key in specs/proof-lines/*.yaml): validation, canonical form
 * (aliases such as `bounce_buffer` -> `bounce-buffer`, `false` -> `0`), and comparison (hex numerically).
 */

export type ValueType = 'enum' | 'hex' | 'uint' | 'bool' | 'flag01' | 'pattern' | 'token' | 'class-triple';

export interface ValueSpec {
  type: ValueType;
  values?: string[];
  aliases?: Record<string, string>;
  pattern?: RegExp;
}

const HEX = /^(0x)?[0-9a-f]+$/i;

export function canonical(spec: ValueSpec | undefined, value: string): string {
  if (!spec) return value;
  const a = spec.aliases?.[value];
  const v = a ?? value;
  if (spec.type === 'class-triple') return v.toLowerCase();
  return v;
}

/** undefined when the value is valid; otherwise a description of what was expected. */
export function invalidReason(spec: ValueSpec, value: string): string | undefined {
  const v = canonical(spec, value);
  switch (spec.type) {
    case 'enum':
      return spec.values!.includes(v) ? undefined : `one of ${spec.values!.join(', ')}${aliasNote(spec)}`;
    case 'hex':
      return HEX.test(v) && v.length <= 18 ? undefined : 'a hexadecimal number such as 0x1b36';
    case 'uint':
      return /^[0-9]+$/.test(v) ? undefined : 'a decimal number';
    case 'bool':
      return v === 'true' || v === 'false' ? undefined : 'true or false';
    case 'flag01':
      return v === '0' || v === '1' ? undefined : `0 or 1${aliasNote(spec)}`;
    case 'pattern':
      return spec.pattern!.test(v) ? undefined : `a value matching ${spec.pattern!.source}`;
    case 'class-triple':
      return /^[0-9a-f]{2}\.[0-9a-f]{2}\.[0-9a-f]{2}$/.test(v) ? undefined : 'a class triple such as 01.08.02';
    case 'token':
      return v.length > 0 ? undefined : 'a non-empty value';
  }
}

function aliasNote(spec: ValueSpec): string {
  const a = spec.aliases ? Object.entries(spec.aliases) : [];
  return a.length ? ` (also spelled ${a.map(([k, c]) => `${k} for ${c}`).join(', ')})` : '';
}

function hexValue(v: string): bigint | undefined {
  if (!HEX.test(v)) return undefined;
  try {
    return BigInt(`0x${v.replace(/^0x/i, '')}`);
  } catch {
    return undefined;
  }
}

/** Do two values of a key mean the same thing? Hex keys compare as numbers (0x1B36 = 0x1b36 = 1b36). */
export function sameValue(spec: ValueSpec | undefined, a: string, b: string): boolean {
  const ca = canonical(spec, a);
  const cb = canonical(spec, b);
  if (spec?.type === 'hex') {
    const x = hexValue(ca);
    const y = hexValue(cb);
    if (x !== undefined && y !== undefined) return x === y;
  }
  return ca === cb;
}
