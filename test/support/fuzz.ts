import { connect } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import type { Dispatcher } from 'undici';
import { grants, Scope } from '../../src/auth/api-key-format';
import { HEALTH_PROTO, INCIDENT_MANAGER_PROTO, PROTO_DIR } from '../../src/grpc/grpc.server';

/*
 * Generators, senders and checks of the fuzz suite (test/fuzz.spec.ts). Every answer is judged on
 * its own as it arrives; what breaks a rule is kept as a finding (with the request that caused
 * it) instead of failing at once, so one run reports every kind of failure it met.
 */

// ------------------------------------------------------------------ shared state

/** Ids seen in answers, per collection ("incidents", "api-keys", "notifications"), to aim at rows that exist. */
export class IdPool {
  private readonly ids = new Map<string, string[]>();
  constructor(private readonly protectedIds: ReadonlySet<string>) {}

  add(collection: string, id: unknown): void {
    if (typeof id !== 'string' || id === '' || this.protectedIds.has(id)) return;
    const list = this.ids.get(collection) ?? [];
    if (list.includes(id)) return;
    list.push(id);
    if (list.length > 200) list.shift();
    this.ids.set(collection, list);
  }

  pick(collection: string, index: number): string | undefined {
    const list = this.ids.get(collection);
    return list && list.length > 0 ? list[index % list.length] : undefined;
  }

  /** Ids an answer carries: its own `id` (of the route's collection), and incident and notification references. */
  harvest(collection: string, body: unknown, depth = 0): void {
    if (depth > 3 || body === null || typeof body !== 'object') return;
    if (Array.isArray(body)) {
      for (const item of body.slice(0, 50)) this.harvest(collection, item, depth + 1);
      return;
    }
    for (const [key, value] of Object.entries(body)) {
      if (key === 'id') this.add(collection, value);
      else if (key === 'incident_id') this.add('incidents', value);
      else if (key === 'notification_id') this.add('notifications', value);
      else if (key === 'notification_ids' && Array.isArray(value)) value.forEach((v) => this.add('notifications', v));
      else if (key === 'items' || key === 'incident') this.harvest(collection, value, depth + 1);
    }
  }
}

/** The credential a request presents, and what it may do. */
export interface Credential {
  kind: string;
  /** Authorization header values (several: the header repeated); none: no header. */
  values: string[];
  /** The scopes of the key when it is valid, else undefined. */
  scopes?: Scope[];
}

export interface Keys {
  admin: string;
  byScope: Map<Scope, string>;
  revoked: string;
  expired: string;
}

const hex = (n: number) => fc.uint8Array({ minLength: n / 2, maxLength: n / 2 }).map((b) => Buffer.from(b).toString('hex'));

/** Every credential case: none, malformed, wrong prefix, unknown id, wrong secret, revoked, expired, each scope, valid. */
export function credentialArb(keys: Keys): fc.Arbitrary<Credential> {
  const adminId = keys.admin.slice(4, 20);
  const bearer = (kind: string, token: string): Credential => ({ kind, values: [`Bearer ${token}`] });
  const scoped = [...keys.byScope.entries()].map(([scope, key]) => ({ kind: `scope:${scope}`, values: [`Bearer ${key}`], scopes: [scope] }));
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant<Credential>({ kind: 'valid', values: [`Bearer ${keys.admin}`], scopes: ['admin'] }) },
    { weight: 4, arbitrary: fc.constantFrom(...scoped) },
    fc.constant<Credential>({ kind: 'missing', values: [] }),
    fc.constantFrom<Credential>(
      { kind: 'empty', values: [''] },
      { kind: 'scheme-only', values: ['Bearer'] },
      { kind: 'scheme-space', values: ['Bearer '] },
      { kind: 'no-scheme', values: [keys.admin] },
      { kind: 'basic', values: ['Basic YWRtaW46YWRtaW4='] },
      { kind: 'token-scheme', values: [`Token ${keys.admin}`] },
      // RFC 9110 §11.4: one or more spaces, and the scheme in any case.
      { kind: 'double-space', values: [`Bearer  ${keys.admin}`], scopes: ['admin'] },
      { kind: 'lowercase-scheme', values: [`bearer ${keys.admin}`], scopes: ['admin'] },
      { kind: 'trailing', values: [`Bearer ${keys.admin} x`] },
      { kind: 'uppercase-hex', values: [`Bearer ${keys.admin.toUpperCase().replace('LIM_', 'lim_')}`] },
      { kind: 'wrong-prefix', values: [`Bearer lik_${keys.admin.slice(4)}`] },
      { kind: 'wrong-prefix-case', values: [`Bearer LIM_${keys.admin.slice(4)}`] },
      { kind: 'truncated', values: [`Bearer ${keys.admin.slice(0, -1)}`] },
      { kind: 'extended', values: [`Bearer ${keys.admin}a`] },
      { kind: 'huge', values: [`Bearer lim_${'a'.repeat(8000)}`] },
      { kind: 'revoked', values: [`Bearer ${keys.revoked}`] },
      { kind: 'expired', values: [`Bearer ${keys.expired}`] },
      { kind: 'duplicate-invalid', values: ['Bearer lim_nope', 'Bearer also-not'] },
      { kind: 'duplicate-valid-first', values: [`Bearer ${keys.admin}`, 'Bearer lim_nope'], scopes: ['admin'] },
    ),
    fc.string({ unit: 'binary-ascii', maxLength: 80 }).map((s) => bearer('malformed', s.replace(/[^\t\x20-\x7e]/g, ''))),
    fc.tuple(hex(16), hex(64)).map(([id, secret]) => bearer('unknown-id', `lim_${id}_${secret}`)),
    hex(64).map((secret) => bearer('wrong-secret', `lim_${adminId}_${secret}`)),
  );
}

/** Whether the credential may use something that needs `scope` (the key presented first counts: Node keeps only the first Authorization header). */
export function allows(credential: Credential, scope: Scope | undefined): boolean {
  if (!credential.scopes) return false;
  return scope === undefined || grants(credential.scopes, scope);
}

// ------------------------------------------------------------------ odd values

const LONG_SIZES = [255, 256, 500, 501, 1_000, 10_000, 20_000, 20_001, 100_000];

/** Unicode, NUL, control characters, lone surrogates, injection-looking text, and very long strings. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\u0007\b\f\u000b\u001b[31m',
    '\r\n\r\nX-Injected: 1',
    '\u202eevil',
    '\ud800',
    'x\udfffy',
    '\ufeff',
    '👩‍👩‍👧‍👦',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '"; DROP TABLE incidents; --',
    '../../etc/passwd',
    '%00',
    '${jndi:ldap://127.0.0.1/x}',
    '{{7*7}}',
    '__proto__',
    'null',
    '1e309',
    '-0',
  ),
  fc.tuple(fc.constantFrom(...LONG_SIZES), fc.constantFrom('a', 'é', '😀', '\u0000', ' ', '%')).map(([n, c]) => c.repeat(n)),
);

/** A value of another JSON type than expected. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(1e308, -1, 0, Number.MAX_SAFE_INTEGER + 2),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.object({ maxDepth: 2, maxKeys: 3 }),
);

// ------------------------------------------------------------------ values from the OpenAPI document

type Schema = Record<string, any>;

export interface Route {
  method: string;
  template: string;
  scope?: Scope;
  /** Where the key goes when not in the Authorization header: `body.routing_key` (the PagerDuty route). */
  credential?: string;
  collection: string;
  query: { name: string; schema: Schema }[];
  body?: Schema;
}

/** Every operation of the OpenAPI document. */
export function routesOf(doc: any): Route[] {
  const routes: Route[] = [];
  for (const [template, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      routes.push({
        method: method.toUpperCase(),
        template,
        scope: op['x-required-scope'],
        credential: op['x-credential'],
        collection: template.split('/')[2] ?? '',
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return routes;
}

const plainString = (max: number) => fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: Math.max(1, Math.min(max, 24)) });

/**
 * A valid value of a schema (as far as a schema says: enums, lengths, formats), with the
 * request-supplied webhook URLs kept to loopback targets (`urls`).
 */
export function valueOf(schema: Schema, doc: any, urls: string[], key?: string, depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) return valueOf(doc.components.schemas[schema.$ref.split('/').pop()], doc, urls, key, depth);
  if (schema.allOf?.length === 1) return valueOf(schema.allOf[0], doc, urls, key, depth);
  if (schema.oneOf) return fc.oneof(...schema.oneOf.map((s: Schema) => valueOf(s, doc, urls, key, depth)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      if (key === 'url') return fc.constantFrom(...urls);
      if (schema.format === 'date-time') return fc.integer({ min: 3_600, max: 10 ** 8 }).map((s) => new Date(Date.now() + s * 1000).toISOString());
      if (schema.format === 'uri') return fc.constantFrom('https://runbooks.example.com/api', 'http://wiki.example.org/x?y=1');
      if (key === 'to' || key === 'email') return fc.constantFrom('oncall@example.com', 'sre@example.org');
      return plainString(schema.maxLength ?? 40);
    case 'number':
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1000, 1000) });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valueOf(schema.items ?? {}, doc, urls, key, depth + 1), { minLength: 1, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object':
    default: {
      if (depth > 4) return fc.constant({});
      const props = schema.properties ?? {};
      const record = fc.record(Object.fromEntries(Object.entries<Schema>(props).map(([name, s]) => [name, valueOf(s, doc, urls, name, depth + 1)])), {
        requiredKeys: schema.required ?? [],
      });
      const extra = schema.additionalProperties;
      if (Object.keys(props).length > 0 || !extra) return record;
      const values = extra === true ? fc.jsonValue({ maxDepth: 2 }) : valueOf(extra, doc, urls, undefined, depth + 1);
      return fc.dictionary(plainString(20), values, { maxKeys: 3 });
    }
  }
}

/** The paths of every key and index inside a JSON value, to aim a mutation anywhere in it. */
function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (prefix.length > 4 || value === null || typeof value !== 'object') return out;
  for (const [k, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    out.push([...prefix, k]);
    pathsOf(v, [...prefix, k], out);
  }
  return out;
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'drop' | 'retype' | 'odd' | 'nest' | 'null'; at: number; value: unknown }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'replace'; value: unknown }
  | { kind: 'many' }
  // The shapes that once stalled the service or answered 500: a key that is also a name of
  // JavaScript's objects, a map far wider than its limit, a pattern that backtracks or expands.
  | { kind: 'jskey'; at: number; key: string }
  | { kind: 'wide'; at: number; value: number }
  | { kind: 'pattern'; at: number; value: string };

const JS_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];
const HOSTILE_PATTERNS = [
  'x=~"(a+)+"',
  'source=~"(.|.|.|.|.)*Z"',
  'x=~"(a|aa)*b"',
  'x=~".*a.{0,1000}"',
  'x=~"((.*a){100}){10}"',
  'x=~"(a)\\1"',
  'x=~"(?=a)a"',
  `x=~"${'(v|w)*'.repeat(150)}"`,
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 25, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('null' as const), at: fc.nat(), value: fc.constant(null) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), value: fc.constant(undefined) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: wrongType }) },
  { weight: 15, arbitrary: fc.record({ kind: fc.constant('odd' as const), at: fc.nat(), value: oddString }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('nest' as const), at: fc.nat(), value: fc.integer({ min: 2, max: 200 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('extra' as const),
      key: fc.oneof(oddString, fc.constantFrom('id', 'state', 'alert_count', 'prototype')),
      value: wrongType,
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), value: fc.oneof(wrongType, oddString, fc.jsonValue({ maxDepth: 3 })) }) },
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'many' }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('jskey' as const), at: fc.nat(), key: fc.constantFrom(...JS_KEYS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wide' as const), at: fc.nat(), value: fc.constantFrom(65, 101, 1001, 20_000) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pattern' as const), at: fc.nat(), value: fc.constantFrom(...HOSTILE_PATTERNS) }) },
);

function mutate(value: unknown, m: Mutation): unknown {
  if (m.kind === 'none') return value;
  if (m.kind === 'replace') return m.value;
  if (m.kind === 'many') return Array.from({ length: 1001 }, () => (Array.isArray(value) ? value[0] : value));
  const copy = structuredClone(value) as any;
  if (m.kind === 'extra') {
    if (copy && typeof copy === 'object' && !Array.isArray(copy)) copy[m.key] = m.value;
    return copy;
  }
  if (m.kind === 'jskey') {
    // An own property even for __proto__ (JSON.stringify writes it as any other key).
    const objects = [copy, ...pathsOf(copy).map((p) => p.reduce((o, k) => o[k], copy))].filter((o) => o && typeof o === 'object' && !Array.isArray(o));
    const target = objects[m.at % Math.max(1, objects.length)];
    if (target) Object.defineProperty(target, m.key, { value: 'v', enumerable: true, writable: true, configurable: true });
    return copy;
  }
  const paths = pathsOf(copy);
  if (paths.length === 0) return m.kind === 'drop' ? undefined : m.value;
  const path = paths[m.at % paths.length];
  const parent = path.slice(0, -1).reduce((o, k) => o[k], copy);
  const last = path[path.length - 1];
  if (m.kind === 'wide') {
    parent[last] = Object.fromEntries(Array.from({ length: m.value }, (_, i) => [`k${i}`, 'v']));
  } else if (m.kind === 'pattern') {
    // Where a matcher list is, one of its matchers; elsewhere the pattern as any string.
    parent[last] = Array.isArray(parent[last]) ? [m.value] : m.value;
  } else if (m.kind === 'drop') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (m.kind === 'nest') {
    let nested: unknown = parent[last];
    for (let i = 0; i < (m.value as number); i++) nested = i % 2 ? { a: nested } : [nested];
    parent[last] = nested;
  } else parent[last] = m.value;
  return copy;
}

/** How the body goes on the wire: JSON, broken JSON, or none at all. */
type Encoding = { kind: 'json' | 'none' | 'empty' } | { kind: 'truncate' | 'insert'; at: number; text: string } | { kind: 'raw'; text: string };

const BROKEN_JSON = [
  '{',
  '}',
  '[',
  '{"a":}',
  '{"a":1,}',
  "{'title':'x'}",
  '{"title":"x"',
  'NaN',
  'undefined',
  '{"a":1e400}',
  '{"a":-}',
  '{"a":"\\x41"}',
  '{"a":"\\ud800"}',
  '\ufeff{}',
  '/* c */ {}',
  '{"a":1}{"b":2}',
  '{"__proto__":{"admin":true},"title":"x"}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"title":"a","title":"b"}',
  '"just a string"',
  '12345678901234567890123456789',
  'true',
  'null',
  '[]',
  '\u0000',
  '{"a":"\u0000"}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  '['.repeat(100_000),
  '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
  '[' + '1,'.repeat(200_000) + '1]',
  `{"labels":${'['.repeat(1_000_000)}`,
  `{"labels":{${Array.from({ length: 5_000 }, (_, i) => `"k${i}":"v"`).join(',')}}}`,
];

const encodingArb: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Encoding>({ kind: 'json' }) },
  fc.constant<Encoding>({ kind: 'none' }),
  fc.constant<Encoding>({ kind: 'empty' }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), text: fc.constant('') }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom('"', '{', ']', ',', '\\', '\u0000', 'x', ':'), oddString) }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: fc.constantFrom(...BROKEN_JSON) }) },
);

function encode(value: unknown, e: Encoding): string | undefined {
  if (e.kind === 'none') return undefined;
  if (e.kind === 'empty') return '';
  if (e.kind === 'raw') return e.text;
  const json = JSON.stringify(value) ?? 'null';
  if (e.kind === 'truncate') return json.slice(0, e.at % Math.max(json.length, 1));
  if (e.kind === 'insert') {
    const at = e.at % (json.length + 1);
    return json.slice(0, at) + e.text + json.slice(at);
  }
  return json;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/vnd.api+json',
  'APPLICATION/JSON',
  'application/json;charset=latin1',
  'application/json; charset=utf-16',
  'application/json; boundary=x; foo="bar',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/octet-stream',
  '*/*',
  '',
  ';',
  'application/',
  'application/json\t',
];

// ------------------------------------------------------------------ paths, queries and headers

const BAD_IDS = [
  '',
  'zzzz',
  '0',
  '-1',
  'null',
  'undefined',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  '{00000000-0000-4000-8000-000000000000}',
  '00000000000040008000000000000000',
  'g0000000-0000-4000-8000-000000000000',
  '00000000-0000-4000-8000-0000000000000',
  '0123456789abcdef',
  '0123456789ABCDEF',
  '..',
  '.',
  '%2e%2e',
  '..%2f..%2fapi-keys',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2F',
  '%00',
  '%',
  '%zz',
  '%C0%AE%C0%AE',
  '%E2%80%AE',
  '%F0%9F%98%80',
  'a;b=c',
  '*',
  '$where',
  'a'.repeat(101),
  'a'.repeat(5_000),
];

const TRICK_PATHS = [
  '/',
  '//',
  '/v1',
  '/v1/',
  '/v2/incidents',
  '/v1/incidents/x/y/z',
  '/V1/INCIDENTS',
  '/v1/%69ncidents',
  '/v1%2Fincidents',
  '/v1/incidents%2F..%2Fapi-keys',
  '/v1/incidents/..%2f..%2fapi-keys',
  '/v1/./incidents',
  '/v1/incidents/../api-keys',
  '/v1/incidents;x=1',
  '/v1/incidents%00',
  '/v1/incidents%',
  '/health/live/../../v1/api-keys',
  '/health//ready',
  '/health/ready%00',
  '//health/live',
  '/health/live?x=%zz',
  '/docs/../../package.json',
  '/docs/%2e%2e/%2e%2e/package.json',
  '/docs/..%2f..%2fpackage.json',
  '/docs/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/docs/swagger-ui.css/..%5c..%5cpackage.json',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/docs/openapi.json/',
  '/docs//openapi.json',
  '/' + 'a'.repeat(8_000),
  '/v1/' + 'x/'.repeat(2_000),
];

type PathVariant =
  | { kind: 'intact'; pick: number; fresh: boolean; uuid: string; keyId: string }
  | { kind: 'bad-id'; id: string }
  | { kind: 'odd-id'; id: string }
  | { kind: 'transform'; how: string; at: number }
  | { kind: 'trick'; path: string };

const pathVariantArb: fc.Arbitrary<PathVariant> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('intact' as const), pick: fc.nat(), fresh: fc.boolean(), uuid: fc.uuid(), keyId: hex(16) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bad-id' as const), id: fc.constantFrom(...BAD_IDS) }) },
  fc.record({ kind: fc.constant('odd-id' as const), id: oddString }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transform' as const),
      how: fc.constantFrom(
        'double-slash',
        'trailing-slash',
        'upper',
        'dot',
        'dotdot',
        'encoded-slash',
        'encoded-char',
        'semicolon',
        'long-segment',
        'prefix-slash',
      ),
      at: fc.nat(),
    }),
  },
  fc.record({ kind: fc.constant('trick' as const), path: fc.constantFrom(...TRICK_PATHS) }),
);

/** A path as sent: undici refuses bytes outside 0x21-0xff in a request target, so those are percent-encoded. */
const wireSafe = (s: string) => s.replace(/[^\u0021-\u00ff]+|[?#&=]/gu, encodeSafely);

/** encodeURIComponent, but a lone surrogate (which it refuses) goes as U+FFFD. */
const encodeSafely = (s: string) => encodeURIComponent((s as string & { toWellFormed(): string }).toWellFormed());

function concretePath(route: Route, v: PathVariant, ids: IdPool): string {
  const fill = (id: string) => route.template.replace(/\{[^}]+\}/g, id);
  const realId = () => {
    if (v.kind !== 'intact') return '';
    if (!v.fresh) {
      const known = ids.pick(route.collection, v.pick);
      if (known) return known;
    }
    // Unknown ids in each collection's own format.
    return route.collection === 'api-keys' ? v.keyId : v.uuid;
  };
  switch (v.kind) {
    case 'intact':
      return fill(realId());
    case 'bad-id':
      return fill(v.id);
    case 'odd-id':
      return fill(wireSafe(v.id));
    case 'trick':
      return v.path;
    case 'transform': {
      const path = fill(ids.pick(route.collection, v.at) ?? '00000000-0000-4000-8000-000000000000');
      const slashes = [...path.matchAll(/\//g)].map((m) => m.index);
      const slash = slashes[v.at % slashes.length];
      switch (v.how) {
        case 'double-slash':
          return path.slice(0, slash) + '/' + path.slice(slash);
        case 'trailing-slash':
          return path + '/';
        case 'upper':
          return path.toUpperCase();
        case 'dot':
          return path.slice(0, slash) + '/.' + path.slice(slash);
        case 'dotdot':
          return path.slice(0, slash) + '/x/..' + path.slice(slash);
        case 'encoded-slash':
          return slash === 0 ? path : path.slice(0, slash) + '%2F' + path.slice(slash + 1);
        case 'encoded-char':
          return path.slice(0, slash + 1) + '%' + path.charCodeAt(slash + 1).toString(16) + path.slice(slash + 2);
        case 'semicolon':
          return path + ';jsessionid=1';
        case 'long-segment':
          return path + 'a'.repeat(2_000);
        default:
          return '/' + path;
      }
    }
  }
}

type QueryPart = { name: string; value: string; raw: boolean };

function queryArb(route: Route, doc: any): fc.Arbitrary<QueryPart[]> {
  const names = [...route.query.map((q) => q.name), 'page', 'x', '__proto__[polluted]', 'constructor[prototype][x]', 'a[b][c]', '', 'state[]'];
  const valid = route.query.map((q) =>
    valueOf(q.schema, doc, []).map((v) => (Array.isArray(v) ? v : [v]).map((value) => ({ name: q.name, value: String(value), raw: false }))),
  );
  const oddValue = fc.oneof(
    oddString,
    fc.constantFrom('-1', '0', '1e309', '0x10', '1.5', 'NaN', 'Infinity', '', 'true', 'maybe', '9'.repeat(400), '%zz', '%00', '+', '&&&', '=', 'a=b=c'),
  );
  const odd = fc.array(fc.record({ name: fc.constantFrom(...names), value: oddValue, raw: fc.boolean() }), { maxLength: 4 });
  const repeated = fc
    .record({ name: fc.constantFrom(...names), value: fc.constantFrom('P1', 'Detected', 'x'), raw: fc.constant(false) })
    .map((p) => Array(300).fill(p));
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<QueryPart[]>([]) },
    { weight: valid.length > 0 ? 12 : 0, arbitrary: valid.length > 0 ? fc.tuple(...valid).map((parts) => parts.flat()) : fc.constant<QueryPart[]>([]) },
    { weight: 9, arbitrary: odd },
    { weight: 1, arbitrary: repeated },
  );
}

function queryString(parts: QueryPart[]): string {
  if (parts.length === 0) return '';
  return '?' + parts.map((p) => (p.raw ? `${wireSafe(p.name)}=${wireSafe(p.value)}` : `${encodeSafely(p.name)}=${encodeSafely(p.value)}`)).join('&');
}

const HEADER_EXTRAS: [string, string][] = [
  ['accept', 'application/xml'],
  ['accept', '*/*;q=0'],
  ['accept-encoding', 'gzip, deflate, br, zstd'],
  ['accept-charset', 'utf-7'],
  ['content-encoding', 'gzip'],
  ['x-forwarded-for', '1.2.3.4, 127.0.0.1'],
  ['x-forwarded-proto', 'javascript'],
  ['x-http-method-override', 'DELETE'],
  ['x-original-url', '/v1/api-keys'],
  ['x-rewrite-url', '/v1/api-keys'],
  ['origin', 'https://evil.example'],
  ['referer', 'javascript:alert(1)'],
  ['cookie', 'session=' + 'a'.repeat(4_000)],
  ['user-agent', '\u00ff\u00fe\u00e9'],
  ['range', 'bytes=0-0,-1'],
  ['if-none-match', '*'],
  ['x-request-id', '\u00e9'.repeat(1_000)],
  ['x-pad', 'x'.repeat(12_000)],
  ['x-pad-over', 'x'.repeat(20_000)],
];

// ------------------------------------------------------------------ REST requests

export interface HttpCase {
  route: Route;
  method: string;
  path: string;
  credential: Credential;
  headers: string[];
  contentType?: string;
  body?: string;
  label: string;
}

export function httpCaseArb(routes: Route[], doc: any, keys: Keys, ids: IdPool, urls: string[]): fc.Arbitrary<HttpCase> {
  const perRoute = routes.map((route) => {
    const bodyValue = route.body ? valueOf(route.body, doc, urls) : fc.constant<unknown>({});
    return fc.record({
      route: fc.constant(route),
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant(route.method) },
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'FOO'),
      ),
      path: pathVariantArb,
      query: queryArb(route, doc),
      credential: credentialArb(keys),
      value: bodyValue,
      mutation: mutationArb,
      encoding: route.body ? encodingArb : fc.oneof({ weight: 8, arbitrary: fc.constant<Encoding>({ kind: 'none' }) }, encodingArb),
      contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, fc.constantFrom(...CONTENT_TYPES), fc.constant(undefined)),
      extras: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, fc.subarray(HEADER_EXTRAS, { maxLength: 3 })),
      clean: fc.nat(3),
    });
  });
  return fc.oneof(...perRoute).map((generated) => {
    // A quarter of the requests are valid in every respect, so the store fills and later requests meet real rows and states.
    const g =
      generated.clean === 0
        ? {
            ...generated,
            method: generated.route.method,
            path: { ...generated.path, kind: 'intact' as const, pick: generated.mutation.kind === 'none' ? 0 : 1, fresh: false, uuid: '', keyId: '' },
            credential: { kind: 'valid', values: [`Bearer ${keys.admin}`], scopes: ['admin'] as Scope[] },
            mutation: { kind: 'none' } as Mutation,
            encoding: { kind: generated.route.body ? 'json' : 'none' } as Encoding,
            contentType: 'application/json',
            extras: [],
          }
        : generated;
    const path = concretePath(g.route, g.path, ids) + queryString(g.query);
    const body = encode(mutate(g.route.credential === 'body.routing_key' ? withRoutingKey(g.value, g.credential) : g.value, g.mutation), g.encoding);
    const headers: string[] = [];
    for (const value of g.credential.values) headers.push('authorization', value);
    for (const [name, value] of g.extras) headers.push(name, value);
    const contentType = body === undefined && g.encoding.kind === 'none' ? undefined : g.contentType;
    if (contentType !== undefined) headers.push('content-type', contentType);
    const label = `${g.method} ${path.slice(0, 200)} cred=${g.credential.kind} path=${g.path.kind}${generated.clean === 0 ? ' clean' : ''} mutation=${g.mutation.kind} encoding=${g.encoding.kind} ct=${contentType}`;
    return { route: g.route, method: g.method, path, credential: g.credential, headers, contentType, body, label };
  });
}

// ------------------------------------------------------------------ raw HTTP (what a client library will not send)

const RAW_TARGETS = [
  '/v1/incidents',
  '/v1/alerts',
  '/v1/api-keys',
  '/health/ready',
  '/v1/incidents/é',
  '/v1/incidents/ x',
  '*',
  'http://127.0.0.1/v1/incidents',
  '/v1/incidents\u0000',
  '/%',
  '',
];
const RAW_HEADERS = [
  'X-Folded: a\r\n  continued',
  'NoColon',
  ': empty-name',
  'Bad Name: x',
  'X-Nul: a\u0000b',
  'Content-Length: 5',
  'Content-Length: -1',
  'Content-Length: 1e3',
  'Content-Length: 99999999999999999999',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: identity',
  'Expect: 100-continue',
  'Expect: 200-ok',
  'Upgrade: h2c',
  'Connection: Upgrade, HTTP2-Settings',
  'Host: evil.example',
  'Host: a\r\nHost: b',
  'Content-Type: application/json',
  'Content-Type: application/json\r\nContent-Type: text/plain',
];

export interface RawCase {
  method: string;
  bytes: Buffer;
  credential: Credential;
  target: string;
  isHead: boolean;
  label: string;
}

export function rawCaseArb(keys: Keys): fc.Arbitrary<RawCase> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PATCH', 'HEAD', 'FOO', 'get', 'G ET', '', 'PRI', 'CONNECT', 'DELETE', 'POST'),
      target: fc.constantFrom(...RAW_TARGETS),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1', 'HTTP/1.1 '),
      headers: fc.subarray(RAW_HEADERS, { maxLength: 3 }),
      credential: credentialArb(keys),
      body: fc.option(fc.oneof(fc.constantFrom(...BROKEN_JSON.slice(0, 25)), fc.json({ maxDepth: 2 }), oddString), { nil: undefined }),
      framing: fc.constantFrom('content-length', 'content-length', 'short', 'long', 'chunked', 'bad-chunk', 'both', 'none'),
      lf: fc.boolean(),
    })
    .map((g) => {
      const eol = g.lf ? '\n' : '\r\n';
      const body = Buffer.from(g.body ?? '', 'utf8');
      const lines = [`${g.method} ${g.target} ${g.version}`, 'Host: 127.0.0.1', 'Connection: close', ...g.headers];
      for (const value of g.credential.values) lines.push(`Authorization: ${value}`);
      let payload = body;
      if (g.body !== undefined) {
        if (g.framing === 'content-length') lines.push(`Content-Length: ${body.length}`);
        if (g.framing === 'short') lines.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
        if (g.framing === 'long') lines.push(`Content-Length: ${body.length + 3}`);
        if (g.framing === 'both') lines.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked');
        if (g.framing === 'chunked' || g.framing === 'both') {
          lines.push('Transfer-Encoding: chunked');
          payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
        }
        if (g.framing === 'bad-chunk') {
          lines.push('Transfer-Encoding: chunked');
          payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n-1\r\n')]);
        }
      }
      const head = Buffer.from(lines.join(eol) + eol + eol, 'latin1');
      return {
        method: g.method,
        bytes: Buffer.concat([head, payload]),
        credential: g.credential,
        target: g.target,
        isHead: g.method === 'HEAD',
        label: `raw ${JSON.stringify(lines.join(' | ').slice(0, 300))} framing=${g.framing} body=${JSON.stringify((g.body ?? '').slice(0, 80))}`,
      };
    });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes on a fresh connection, half-closes it, and parses every answer until the server closes. */
/**
 * Sends raw bytes and reads the answers until the server closes. By default the client half-closes
 * after its bytes, as `nc -N` does. Node then aborts a request whose answer is not written yet
 * (http.Server's httpAllowHalfOpen is false), so `halfClose: false` keeps the socket open
 * instead and takes the first complete answer.
 */
export function rawExchange(
  port: number,
  bytes: Buffer,
  isHead: boolean,
  timeoutMs = 8_000,
  halfClose = true,
): Promise<{ answers: RawAnswer[]; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (result: { answers: RawAnswer[]; error?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ answers: parseAnswers(Buffer.concat(chunks), isHead), error: 'no close within the timeout' }), timeoutMs);
    let settle: NodeJS.Timeout | undefined;
    socket.on('data', (c) => {
      chunks.push(c);
      if (halfClose) return;
      clearTimeout(settle);
      settle = setTimeout(() => {
        const answers = parseAnswers(Buffer.concat(chunks), isHead);
        if (answers.length > 0) finish({ answers });
      }, 100);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(settle);
      finish({ answers: parseAnswers(Buffer.concat(chunks), isHead) });
    });
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

function parseAnswers(data: Buffer, isHead: boolean): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...headerLines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.subarray(end + 4);
    let body = Buffer.alloc(0);
    if (isHead || status === 204 || status === 304) {
      // no body
    } else if (headers['content-length'] !== undefined) {
      body = rest.subarray(0, Number(headers['content-length']));
      rest = rest.subarray(body.length);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.subarray(0, lineEnd).toString(), 16);
        rest = rest.subarray(lineEnd + 2);
        if (!(size > 0)) break;
        parts.push(rest.subarray(0, size));
        rest = rest.subarray(size + 2);
      }
      rest = rest.subarray(2);
      body = Buffer.concat(parts);
    } else {
      body = rest;
      rest = Buffer.alloc(0);
    }
    answers.push({ status, headers, body: body.toString('utf8') });
  }
  return answers;
}

// ------------------------------------------------------------------ checks

/** Paths any caller may reach: health and the API description. */
export function isPublicPath(path: string): boolean {
  let normal: string;
  try {
    normal = decodeURIComponent(new URL(path.split('?')[0], 'http://h').pathname).replace(/\/+/g, '/');
  } catch {
    normal = path;
  }
  // The console's pages and assets hold no data and need no key (src/console/console-static.ts).
  return /^\/(health|docs)(\/|$)/i.test(normal) || /^\/($|incidents\/[^/]+$|silences$|notifications$|keys$|assets\/)/.test(normal);
}

/** The PagerDuty route reads its key from the body: the credential case goes there (a Bearer value without its scheme). */
function withRoutingKey(value: unknown, credential: Credential): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { routing_key: _dropped, ...rest } = value as Record<string, unknown>;
  void _dropped;
  const presented = credential.values[0];
  return presented === undefined ? rest : { ...rest, routing_key: presented.replace(/^Bearer /, '') };
}

/** PagerDuty's error shape, which the Events API v2 route answers in (with this service's code beside it). */
function inPagerDutyShape(parsed: any): boolean {
  return typeof parsed?.status === 'string' && typeof parsed.message === 'string' && Array.isArray(parsed.errors) && typeof parsed.code === 'string';
}

const LEAKS = ['devDependencies', 'root:x:0:0', '-----BEGIN', 'secret_hash'];

/** The rules every HTTP answer keeps; what breaks one, as a sentence. */
function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export function judgeHttp(
  answer: { status: number; contentType?: string; body: string },
  request: { method: string; path: string; credential: Credential; scope?: Scope; intact: boolean },
): string[] {
  const problems: string[] = [];
  if (!(answer.status >= 100 && answer.status < 500)) problems.push(`status ${answer.status}`);
  if (answer.status >= 400 && request.method !== 'HEAD') {
    let parsed: any;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      parsed = undefined;
    }
    const e = parsed?.error;
    const inEnvelope =
      e && typeof e.code === 'string' && typeof e.message === 'string' && e.status === answer.status && e.details && typeof e.details === 'object';
    // The server routes on the decoded path: /v2/%65nqueue is the PagerDuty route too.
    const pagerDuty = /\/enqueue(\?|$)/.test(decodedPath(request.path)) && inPagerDutyShape(parsed);
    if (!pagerDuty && (!inEnvelope || Object.keys(parsed).length !== 1)) problems.push(`error answer not in the envelope: ${answer.body.slice(0, 200)}`);
    if (!/^application\/json/.test(answer.contentType ?? '')) problems.push(`error answer with content-type ${answer.contentType}`);
  }
  if (answer.status >= 200 && answer.status < 300 && !isPublicPath(request.path)) {
    if (!request.credential.scopes) problems.push(`${answer.status} without a valid key (${request.credential.kind})`);
    else if (request.intact && !allows(request.credential, request.scope)) problems.push(`${answer.status} with a key lacking ${request.scope}`);
  }
  for (const leak of LEAKS) if (answer.body.includes(leak)) problems.push(`answer contains ${leak}`);
  return problems;
}

// ------------------------------------------------------------------ gRPC

export interface GrpcMethod {
  service: string;
  name: string;
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  clientStream: boolean;
  serverStream: boolean;
  /** The scope the method needs (undefined: open), and one that does not grant it (the wrong-scope case). */
  scope?: Scope;
  wrongScope?: Scope;
}

/** Every method of every service in the proto files, as the server loads them. */
export function grpcMethods(): GrpcMethod[] {
  const root = new protobuf.Root();
  const resolve = root.resolvePath;
  root.resolvePath = (origin, target) => (target.startsWith('google/') ? resolve(origin, target) : join(PROTO_DIR, target.replace(/^.*proto\//, '')));
  root.loadSync([INCIDENT_MANAGER_PROTO, HEALTH_PROTO], { keepCase: true });
  root.resolveAll();
  const methods: GrpcMethod[] = [];
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Service) {
        const open = nested.fullName.startsWith('.grpc.health.');
        for (const m of nested.methodsArray) {
          // As the controllers declare them: ingestion writes alerts; reads and the event stream read incidents.
          const scope: Scope | undefined = open
            ? undefined
            : nested.name === 'AlertIngestion'
              ? 'alerts:write'
              : /^(Get|List|Stream)/.test(m.name)
                ? 'incidents:read'
                : 'incidents:write';
          methods.push({
            service: nested.name,
            name: m.name,
            path: `/${nested.fullName.slice(1)}/${m.name}`,
            requestType: m.resolvedRequestType as protobuf.Type,
            responseType: m.resolvedResponseType as protobuf.Type,
            clientStream: !!m.requestStream,
            serverStream: !!m.responseStream,
            scope,
            wrongScope: scope === undefined ? undefined : scope === 'alerts:write' ? 'incidents:read' : 'alerts:write',
          });
        }
      } else if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  visit(root);
  return methods;
}

/** A message object for a protobuf type: mostly plausible values, sometimes odd strings and unknown enum numbers. */
function messageArb(type: protobuf.Type, ids: IdPool, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const scalar = (field: protobuf.Field, typeName: string, resolved: protobuf.ReflectionObject | null): fc.Arbitrary<unknown> => {
    if (resolved instanceof protobuf.Enum) {
      const names = Object.keys(resolved.values);
      return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names.slice(1)) }, fc.constant(names[0]), fc.integer({ min: -3, max: 1_000 }));
    }
    if (resolved instanceof protobuf.Type) return depth < 3 ? messageArb(resolved, ids, depth + 1) : fc.constant({});
    switch (typeName) {
      case 'string':
        if (field.name === 'id')
          return fc.oneof(
            { weight: 4, arbitrary: fc.tuple(fc.nat(), fc.uuid()).map(([i, uuid]) => ids.pick('incidents', i) ?? uuid) },
            fc.constantFrom(...BAD_IDS),
            fc.uuid(),
            oddString,
          );
        return fc.oneof({ weight: 4, arbitrary: plainString(30) }, oddString);
      case 'bool':
        return fc.boolean();
      case 'bytes':
        return fc.uint8Array({ maxLength: 32 });
      case 'double':
      case 'float':
        return fc.double();
      case 'int64':
      case 'sint64':
      case 'sfixed64':
        return fc.oneof(fc.integer({ min: -10, max: 1_000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER));
      case 'uint64':
      case 'fixed64':
        return fc.oneof(fc.nat(1_000), fc.constant(Number.MAX_SAFE_INTEGER));
      case 'uint32':
      case 'fixed32':
        return fc.oneof(fc.nat(1_000), fc.constant(2 ** 32 - 1));
      default:
        return fc.oneof(fc.integer({ min: -10, max: 1_000 }), fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 0));
    }
  };
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of type.fieldsArray) {
    if (field instanceof protobuf.MapField) {
      fields[field.name] = fc.dictionary(fc.oneof(plainString(20), oddString), scalar(field, field.type, field.resolvedType), { maxKeys: 3 });
    } else {
      const one = scalar(field, field.type, field.resolvedType);
      fields[field.name] = field.repeated ? fc.array(one, { maxLength: 3 }) : one;
    }
  }
  return fc.record(fields, { requiredKeys: [] });
}

/** What is done to the encoded bytes: mostly nothing; else truncation, flipped bytes, garbage, or a bad length. */
type ByteMutation = { kind: 'none' } | { kind: 'truncate' | 'flip'; at: number; byte: number } | { kind: 'append' | 'replace'; bytes: Uint8Array };

const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<ByteMutation>({ kind: 'none' }) },
  fc.record({ kind: fc.constantFrom('truncate' as const, 'flip' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    bytes: fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Uint8Array.from([0x08]), Uint8Array.from([0x0f])),
    ),
  }),
);

function mutateBytes(bytes: Uint8Array, m: ByteMutation): Buffer {
  const b = Buffer.from(bytes);
  switch (m.kind) {
    case 'none':
      return b;
    case 'truncate':
      return b.subarray(0, b.length === 0 ? 0 : m.at % b.length);
    case 'flip':
      if (b.length > 0) b[m.at % b.length] = m.byte;
      return b;
    case 'append':
      return Buffer.concat([b, Buffer.from(m.bytes)]);
    case 'replace':
      return Buffer.from(m.bytes);
  }
}

export interface GrpcCase {
  method: GrpcMethod;
  credential: Credential;
  messages: Buffer[];
  customMetadata: [string, string | Buffer][];
  label: string;
}

export function grpcCaseArb(methods: GrpcMethod[], keys: Keys, ids: IdPool): fc.Arbitrary<GrpcCase> {
  // grpc-js refuses, on the client, to send authorization twice or a value that is not printable ASCII.
  const asciiCredential = credentialArb(keys).filter((c) => c.values.length <= 1 && c.values.every((v) => /^[ -~]*$/.test(v)));
  return fc
    .oneof(
      ...methods.map((method) => {
        const message = fc.tuple(messageArb(method.requestType, ids), byteMutationArb).map(([obj, m]) => {
          const bytes = method.requestType.encode(method.requestType.fromObject(obj)).finish();
          return { bytes: mutateBytes(bytes, m), note: `${JSON.stringify(obj).slice(0, 300)} bytes=${m.kind}` };
        });
        const credential = method.wrongScope
          ? fc.oneof(
              { weight: 4, arbitrary: asciiCredential },
              fc.constant<Credential>({ kind: 'wrong-scope', values: [`Bearer ${keys.byScope.get(method.wrongScope)}`], scopes: [method.wrongScope] }),
            )
          : asciiCredential;
        return fc.record({
          method: fc.constant(method),
          credential,
          messages: fc.array(message, { minLength: 1, maxLength: method.clientStream ? 3 : 1 }),
          customMetadata: fc.oneof(
            { weight: 4, arbitrary: fc.constant([] as [string, string | Buffer][]) },
            fc.subarray<[string, string | Buffer]>(
              [
                ['x-fuzz', 'a'.repeat(4_000)],
                ['x-fuzz-bin', Buffer.from([0, 255, 1, 254])],
                ['authorization-bin', Buffer.from('Bearer x')],
                ['grpc-encoding-fuzz', 'identity'],
                ['user-agent', ' '],
              ],
              { maxLength: 2 },
            ),
          ),
        });
      }),
    )
    .map((g) => ({
      method: g.method,
      credential: g.credential,
      messages: g.messages.map((m) => m.bytes),
      customMetadata: g.customMetadata,
      label: `${g.method.path} cred=${g.credential.kind} ${g.messages.map((m) => m.note).join(' ; ')}`,
    }));
}

export interface GrpcOutcome {
  code: grpc.status;
  details: string;
  responses: Buffer[];
  /** A streaming call the client cancelled while it was open. */
  stillOpen: boolean;
}

const identity = (b: Buffer) => b;

/** Calls a method with raw request bytes; streaming calls are cancelled after `openMs` (a bad key must be refused before). */
export function grpcCall(client: grpc.Client, c: GrpcCase, openMs: number): Promise<GrpcOutcome> {
  const metadata = new grpc.Metadata();
  for (const value of c.credential.values) metadata.add('authorization', value);
  for (const [k, v] of c.customMetadata) metadata.add(k, v);
  const deadline = Date.now() + 10_000;
  const responses: Buffer[] = [];
  return new Promise((resolve) => {
    const m = c.method;
    if (!m.clientStream && !m.serverStream) {
      client.makeUnaryRequest(m.path, identity, identity, c.messages[0], metadata, { deadline }, (err, res) => {
        if (res) responses.push(res);
        resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '', responses, stillOpen: false });
      });
      return;
    }
    const call = m.clientStream
      ? client.makeBidiStreamRequest(m.path, identity, identity, metadata, { deadline })
      : client.makeServerStreamRequest(m.path, identity, identity, c.messages[0], metadata, { deadline });
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      call.cancel();
      resolve({ code: grpc.status.OK, details: '', responses, stillOpen: true });
    }, openMs);
    call.on('data', (d: Buffer) => responses.push(d));
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      if (done) return;
      clearTimeout(timer);
      resolve({ code: s.code, details: s.details, responses, stillOpen: false });
    });
    if (m.clientStream) {
      const duplex = call as grpc.ClientDuplexStream<Buffer, Buffer>;
      for (const message of c.messages) duplex.write(message);
      duplex.end();
    }
  });
}

/** Whether bytes fail to decode as the type: the case grpc-js itself answers with INTERNAL. */
export function undecodable(type: protobuf.Type, bytes: Buffer): boolean {
  try {
    type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: false, oneofs: true });
    return false;
  } catch {
    return true;
  }
}

export const GRPC_DESERIALIZE_DETAILS = 'Error deserializing request';

/** The rules every gRPC outcome keeps. */
export function judgeGrpc(c: GrpcCase, outcome: GrpcOutcome): { problems: string[]; undecodable: boolean } {
  const problems: string[] = [];
  const m = c.method;
  let documented = false;
  if (outcome.code === grpc.status.INTERNAL && outcome.details === GRPC_DESERIALIZE_DETAILS && c.messages.some((b) => undecodable(m.requestType, b))) {
    documented = true;
  } else if ([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS, grpc.status.UNIMPLEMENTED].includes(outcome.code)) {
    problems.push(`${grpc.status[outcome.code]}: ${outcome.details}`);
  }
  if (m.scope && (outcome.code === grpc.status.OK || outcome.responses.length > 0) && !allows(c.credential, m.scope)) {
    problems.push(`${outcome.stillOpen ? 'stream stayed open' : 'OK'} for ${c.credential.kind}, which lacks ${m.scope}`);
  }
  for (const res of outcome.responses) {
    try {
      m.responseType.decode(res);
    } catch {
      problems.push('an answer that does not decode');
    }
  }
  return { problems, undecodable: documented };
}

export type HttpDispatcher = Dispatcher;
