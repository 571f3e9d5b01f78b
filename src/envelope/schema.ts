/**
 * A tiny closed-schema checker for envelopes: every member must be known, required members
 * present, and each value of the right JSON type. Problems are collected as strings with
 * JSON paths, so a verdict can list them all. No unknown member is ever silently dropped.
 */
import { parseTimestamp } from './time.js';

/**
 * Expected JSON type of a member: `boolean`; `nonempty` string; `integer` safe integer (not -0);
 * `count` non-negative safe integer; `digest` `sha256:<64 lowercase hex>`; `digest64`
 * canonical unpadded base64url of 32 bytes; `hex` lowercase hex of at least one byte;
 * `timestamp` `YYYY-MM-DDTHH:MM:SSZ`.
 */
export type FieldType = 'boolean' | 'string' | 'nonempty' | 'integer' | 'count' | 'object' | 'array' | 'digest' | 'digest64' | 'hex' | 'timestamp';

/** A closed object schema: member name -> [type, required]. */
export type ObjectSchema = Record<string, readonly [FieldType, boolean]>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** base64url, no padding, of 32 bytes, canonical (the 2 unused low bits of the last character are zero). */
const DIGEST64 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function isTimestamp(v: unknown): boolean {
  try {
    parseTimestamp(v);
    return true;
  } catch {
    return false;
  }
}

function typeOk(t: FieldType, v: unknown): boolean {
  switch (t) {
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'nonempty': return typeof v === 'string' && v.length > 0;
    case 'integer': return typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0);
    case 'count': return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'digest': return typeof v === 'string' && DIGEST.test(v);
    case 'digest64': return typeof v === 'string' && DIGEST64.test(v);
    case 'hex': return typeof v === 'string' && /^([0-9a-f]{2})+$/.test(v);
    case 'timestamp': return isTimestamp(v);
  }
}

/** True for a non-null, non-array object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The members of each schema checked, listed once (schemas are constants). */
const MEMBERS = new WeakMap<ObjectSchema, ReadonlyArray<readonly [string, FieldType, boolean]>>();

function membersOf(schema: ObjectSchema): ReadonlyArray<readonly [string, FieldType, boolean]> {
  let list = MEMBERS.get(schema);
  if (list === undefined) MEMBERS.set(schema, (list = Object.entries(schema).map(([k, [t, r]]) => [k, t, r] as const)));
  return list;
}

/**
 * Check `value` against a closed schema; pushes one problem per violation onto `problems`
 * (`path: reason`). Returns the value as a record when it is an object, else null.
 */
export function checkObject(value: unknown, schema: ObjectSchema, path: string, problems: string[]): Record<string, unknown> | null {
  if (!isObject(value)) {
    problems.push(`${path || '.'}: expected an object`);
    return null;
  }
  for (const key of Object.keys(value)) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) problems.push(`${path}.${key}: unknown member`);
  }
  for (const [key, type, required] of membersOf(schema)) {
    const present = Object.prototype.hasOwnProperty.call(value, key);
    if (!present) {
      if (required) problems.push(`${path}.${key}: missing`);
    } else if (!typeOk(type, value[key])) {
      problems.push(`${path}.${key}: expected ${type}`);
    }
  }
  return value;
}

const ARGS_REF: ObjectSchema = { ref: ['nonempty', true], digest: ['digest', true], canonicalization: ['string', false] };
const ARGS_PROJECTION: ObjectSchema = { projection: ['string', true], projectionDigest: ['digest', true] };

/** Check one commitment object (`args` or `resultCommitment`): exactly one form. */
export function checkCommitmentSchema(value: unknown, path: string, problems: string[]): void {
  if (isObject(value) && 'ref' in value) {
    checkObject(value, ARGS_REF, path, problems);
    if (value['canonicalization'] !== undefined && value['canonicalization'] !== 'jcs') problems.push(`${path}.canonicalization: must be "jcs"`);
  } else if (isObject(value) && 'projection' in value) {
    checkObject(value, ARGS_PROJECTION, path, problems);
  } else {
    problems.push(`${path}: neither ref nor projection form`);
  }
}

