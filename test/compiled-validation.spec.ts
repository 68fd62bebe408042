import * as classTransformer from 'class-transformer';
import { Transform, Type } from 'class-transformer';
import {
  Allow,
  IsBoolean,
  IsDefined,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  Min,
  registerDecorator,
  ValidateIf,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';
import { AlertDto } from '../src/alerts/dto/alert.dto';
import { compiledValidatorFor } from '../src/common/compiled-validation';
import { ValidationFailed } from '../src/common/domain-error';
import { toValidDto, toValidDtoSlowPath } from '../src/common/validation';
import { IsOmittable } from '../src/common/validators';

type Outcome = { dto: object } | { issues: ValidationFailed['issues']; message: string };

function outcome(run: () => object): Outcome {
  try {
    return { dto: run() };
  } catch (err) {
    if (!(err instanceof ValidationFailed)) throw err;
    return { issues: err.issues, message: err.message };
  }
}

/**
 * toValidDto must answer exactly as the slow path does (the same DTO, or the same issues); the
 * compiled validator alone accepts nothing the slow path refuses and returns the same DTO.
 */
function compare(cls: new () => object, input: unknown, prefix = ''): { slow: Outcome; fast: object | undefined } {
  const slow = outcome(() => toValidDtoSlowPath(cls, input, prefix));
  expect(outcome(() => toValidDto(cls, input, prefix))).toStrictEqual(slow);
  const compiled = compiledValidatorFor(cls);
  const fast = compiled && typeof input === 'object' && input !== null && !Array.isArray(input) ? compiled(input) : undefined;
  if ('dto' in slow && fast !== undefined) expect(fast).toStrictEqual(slow.dto);
  if (!('dto' in slow)) expect(fast).toBeUndefined();
  return { slow, fast };
}

const BASE = { source: 'prometheus', title: 'High error rate', description: '5xx above 5%', severity: 'P1', alert_type: 'Application' };
const FULL = {
  ...BASE,
  external_id: 'e-1',
  dedup_key: 'd-1',
  labels: { env: 'prod' },
  affected_services: ['api-gateway'],
  runbook_url: 'https://runbooks.example.com/api-gateway',
  annotations: { summary: 'errors' },
};
const A = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({ ...BASE, ...fields });
const without = (field: string): Record<string, unknown> => Object.fromEntries(Object.entries(BASE).filter(([key]) => key !== field));
const text = (n: number, unit = 'a'): string => unit.repeat(n);
const stringMap = (keys: number, length: number): Record<string, string> => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, text(length)]));
const services = (n: number, length = 3): string[] => Array.from({ length: n }, (_, i) => `${i}`.padEnd(length, 's'));
const URL_OF = (n: number): string => 'https://e.com/' + text(n - 'https://e.com/'.length);
const ASTRAL = '\u{1F600}'; // two UTF-16 units, one character for isLength
const WITH_VS = '\u2600\uFE0F'; // a character and its variation selector: one character for isLength

/** VALID: both paths accept; DEFERS: the slow path accepts and the compiled one leaves it to it; else the field named. */
const VALID = 'valid';
const DEFERS = 'defers';
const OPTIONAL = ['external_id', 'dedup_key', 'labels', 'affected_services', 'runbook_url', 'annotations'];

const ROWS: Array<[string, unknown, string]> = [
  ['minimal', A(), VALID],
  ['every field', FULL, VALID],
  ['empty description', A({ description: '' }), VALID],
  ...OPTIONAL.map((f): [string, unknown, string] => [`${f} null`, A({ [f]: null }), VALID]),
  ...OPTIONAL.map((f): [string, unknown, string] => [`${f} undefined`, A({ [f]: undefined }), VALID]),
  ['source null', A({ source: null }), 'source'],
  ['source missing', without('source'), 'source'],
  ['source empty', A({ source: '' }), 'source'],
  ['source 255', A({ source: text(255) }), VALID],
  ['source 256', A({ source: text(256) }), 'source'],
  ['source 255 astral', A({ source: text(255, ASTRAL) }), VALID],
  ['source 256 astral', A({ source: text(256, ASTRAL) }), 'source'],
  ['source 255 with variation selectors', A({ source: text(255, WITH_VS) }), VALID],
  ['source 256 with variation selectors', A({ source: text(256, WITH_VS) }), 'source'],
  ['source a number', A({ source: 7 }), 'source'],
  ['source an object', A({ source: {} }), 'source'],
  ['title 500', A({ title: text(500) }), VALID],
  ['title 501', A({ title: text(501) }), 'title'],
  ['title an array', A({ title: ['t'] }), 'title'],
  ['description 20000', A({ description: text(20000) }), VALID],
  ['description 20001', A({ description: text(20001) }), 'description'],
  ['description 20000 astral', A({ description: text(20000, ASTRAL) }), VALID],
  ['description 20001 astral', A({ description: text(20001, ASTRAL) }), 'description'],
  ['description missing', without('description'), 'description'],
  ['severity lower case', A({ severity: 'p1' }), 'severity'],
  ['severity P5', A({ severity: 'P5' }), 'severity'],
  ['severity a number', A({ severity: 1 }), 'severity'],
  ['alert_type unknown', A({ alert_type: 'Other' }), 'alert_type'],
  ['external_id empty', A({ external_id: '' }), 'external_id'],
  ['external_id 255', A({ external_id: text(255) }), VALID],
  ['external_id 256', A({ external_id: text(256) }), 'external_id'],
  ['dedup_key 256', A({ dedup_key: text(256) }), 'dedup_key'],
  ['labels 64', A({ labels: stringMap(64, 1) }), VALID],
  ['labels 65', A({ labels: stringMap(65, 1) }), 'labels'],
  ['label value 1024', A({ labels: stringMap(1, 1024) }), VALID],
  ['label value 1025', A({ labels: stringMap(1, 1025) }), 'labels'],
  ['label key constructor', A({ labels: JSON.parse('{"constructor":"x"}') }), VALID],
  ['label key __proto__', A({ labels: JSON.parse('{"__proto__":"x"}') }), VALID],
  ['label value a number', A({ labels: { n: 1 } }), 'labels'],
  ['label key empty', A({ labels: { '': 'x' } }), 'labels'],
  ['labels an array', A({ labels: ['env'] }), 'labels'],
  ['labels a string', A({ labels: 'env=prod' }), 'labels'],
  ['annotation value 8192', A({ annotations: stringMap(2, 8192) }), VALID],
  ['annotation value 8193', A({ annotations: stringMap(1, 8193) }), 'annotations'],
  ['annotations 65', A({ annotations: stringMap(65, 1) }), 'annotations'],
  ['affected_services empty', A({ affected_services: [] }), VALID],
  ['affected_services 100', A({ affected_services: services(100) }), VALID],
  ['affected_services 101', A({ affected_services: services(101) }), 'affected_services'],
  ['affected_service 255', A({ affected_services: services(2, 255) }), VALID],
  ['affected_service 256', A({ affected_services: services(2, 256) }), 'affected_services'],
  ['affected_service empty', A({ affected_services: ['api', ''] }), 'affected_services'],
  ['affected_service a number', A({ affected_services: ['api', 1] }), 'affected_services'],
  ['affected_service null', A({ affected_services: [null] }), 'affected_services'],
  ['affected_service an array', A({ affected_services: [['api']] }), 'affected_services'],
  ['affected_service an object', A({ affected_services: [{}] }), 'affected_services'],
  ['affected_services a string', A({ affected_services: 'api' }), 'affected_services'],
  ['runbook_url https', A({ runbook_url: 'https://runbooks.example.com/x?y=1#z' }), VALID],
  ['runbook_url localhost with port', A({ runbook_url: 'http://localhost:8080/runbook' }), VALID],
  ['runbook_url host without TLD', A({ runbook_url: 'https://runbooks/api' }), VALID],
  ['runbook_url ftp', A({ runbook_url: 'ftp://files.example.com/runbook' }), VALID], // validator.js: http, https, ftp
  ['runbook_url no protocol', A({ runbook_url: 'runbooks.example.com/api' }), 'runbook_url'],
  ['runbook_url javascript:', A({ runbook_url: 'javascript:alert(1)' }), 'runbook_url'],
  ['runbook_url 2048', A({ runbook_url: URL_OF(2048) }), VALID],
  ['runbook_url 2049', A({ runbook_url: URL_OF(2049) }), 'runbook_url'],
  ['runbook_url 100000', A({ runbook_url: URL_OF(100000) }), 'runbook_url'],
  ['runbook_url a number', A({ runbook_url: 1 }), 'runbook_url'],
  ['unknown field', A({ foo: 'bar' }), 'foo'],
  ['unknown object field', A({ foo: { a: [1] } }), 'foo'],
  ['key constructor', { ...BASE, ...JSON.parse('{"constructor":"x"}') }, 'constructor'],
  ['nested key constructor', A({ foo: JSON.parse('{"constructor":{}}') }), 'foo.constructor'],
  ['key toString (class-transformer drops it)', A({ toString: 'x' }), DEFERS],
  ['key __proto__ (class-transformer drops it)', { ...BASE, ...JSON.parse('{"__proto__":"x"}') }, DEFERS],
  ['null body', null, 'body'],
  ['array body', [BASE], 'body'],
];

describe('compiled validation of AlertDto', () => {
  it('has a compiled validator, and toValidDto uses it instead of class-transformer', () => {
    expect(compiledValidatorFor(AlertDto)).not.toBeNull();
    const plainToInstance = jest.spyOn(classTransformer, 'plainToInstance');
    try {
      expect(toValidDto(AlertDto, FULL)).toBeInstanceOf(AlertDto);
      expect(plainToInstance).not.toHaveBeenCalled();
      expect(() => toValidDto(AlertDto, A({ severity: 'P9' }))).toThrow(ValidationFailed);
      expect(plainToInstance).toHaveBeenCalledTimes(1); // a refusal is the slow path's
    } finally {
      plainToInstance.mockRestore();
    }
  });

  it.each(ROWS)('%s', (_name, input, expected) => {
    for (const prefix of ['', '[3]']) {
      const { slow, fast } = compare(AlertDto, input, prefix);
      if (expected === VALID || expected === DEFERS) {
        expect(slow).toHaveProperty('dto');
        if (expected === VALID) expect(fast).toBeInstanceOf(AlertDto);
        else expect(fast).toBeUndefined();
      } else {
        expect('issues' in slow && slow.issues.map((issue) => issue.field)).toContain(
          prefix === '' ? expected : expected === 'body' ? prefix : `${prefix}.${expected}`,
        );
      }
    }
  });

  it('keeps the maps as parsed and copies the arrays', () => {
    const input = { ...FULL, affected_services: ['a', 'b'] };
    const dto = toValidDto(AlertDto, input);
    expect(dto.labels).toBe(input.labels);
    expect(dto.affected_services).not.toBe(input.affected_services);
    expect(Object.keys(dto)).toEqual(Object.keys(toValidDtoSlowPath(AlertDto, input)));
  });

  it('agrees with the slow path on thousands of mutated alerts', () => {
    const random = mulberry32(20260704);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const lengths = [0, 1, 254, 255, 256, 499, 500, 501, 1023, 1024, 1025, 2048, 2049, 8192, 8193, 20000, 20001];
    const units = ['a', ASTRAL, WITH_VS, '\uD800', '\uFE0F', ' '];
    const string = () => text(pick(lengths), pick(units));
    const map = () => {
      const entries = Array.from({ length: pick([0, 1, 3, 63, 64, 65]) }, (_, i) => [
        pick([`k${i}`, `k${i}`, '', 'constructor', text(257)]),
        pick([() => 'v', string, () => 1, () => null])(),
      ]);
      return Object.fromEntries(entries) as Record<string, unknown>;
    };
    const list = () =>
      Array.from({ length: pick([0, 1, 2, 99, 100, 101]) }, () => pick<() => unknown>([() => 'svc', () => 'svc', string, () => 1, () => null, () => ['x']])());
    const urls = [
      'https://runbooks.example.com/a',
      'http://localhost:3000',
      'ftp://x.example',
      'runbooks.example.com',
      'javascript:alert(1)',
      'https://ex ample.com',
    ];
    const scalars = ['P0', 'P4', 'P5', 'Security', 'Unknown', 'unknown', 'https://' + text(2048), null, undefined, 0, true];
    const values: Array<() => unknown> = [string, map, list, () => pick(urls), () => pick(scalars), () => ({})];
    const fields = [...Object.keys(FULL), 'foo', 'toString', 'constructor'];
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const input: Record<string, unknown> = random() < 0.5 ? { ...FULL, labels: { ...FULL.labels }, affected_services: [...FULL.affected_services] } : A();
      for (let m = Math.floor(random() * 3); m > 0; m--) {
        const field = pick(fields);
        if (random() < 0.15) delete input[field];
        else input[field] = pick(values)();
      }
      const { slow, fast } = compare(AlertDto, input, '[0]');
      if (fast !== undefined) accepted++;
      if (!('dto' in slow)) refused++;
    }
    // Both ways were taken often: the agreement above is not about one side only.
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});

/** A custom constraint that reads another field through ValidationArguments.object. */
function SameAs(other: string): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'sameAs',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: { validate: (value: unknown, args: ValidationArguments) => value === (args.object as Record<string, unknown>)[other] },
    });
}

class Supported {
  @IsInt() @Min(1) @Max(10) count!: number;
  @IsBoolean() flag!: boolean;
  @IsOptional() @IsUUID() id?: string;
  @Allow() note?: unknown;
  @IsDefined() @IsString({ each: true }) tags!: string | string[];
  @IsOptional() @SameAs('tags') again?: unknown;
}

class Base {
  @IsString() name!: string;
}
class Inner extends Base {}
class WithNested {
  @ValidateNested() @Type(() => Inner) inner!: Inner;
}
class WithTransform {
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)) @IsString() name!: string;
}
class WithValidateIf {
  @ValidateIf((o: { kind?: string }) => o.kind === 'x') @IsString() name!: string;
  @IsOptional() @IsString() kind?: string;
}
class WithOmittable {
  @IsOmittable() @IsString() name?: string;
}
class WithGroups {
  @IsString({ groups: ['admin'] }) name!: string;
}
class WithInitializer {
  @IsOptional() @IsString() name: string = 'default';
}
class WithMethod {
  @IsString() name!: string;
  shout(): string {
    return this.name.toUpperCase();
  }
}
class WithoutMetadata {}

describe('compiled validation of other classes', () => {
  it('compiles the other simple decorators, custom constraints and inheritance, and agrees', () => {
    expect(compiledValidatorFor(Supported)).not.toBeNull();
    expect(compiledValidatorFor(Inner)).not.toBeNull();
    const ok = { count: 3, flag: false, tags: ['a'], note: 'n' };
    const table: Array<[unknown, boolean]> = [
      [ok, true],
      [{ ...ok, tags: 'one' }, true], // each on a non-array checks the value itself
      [{ ...ok, id: '4f0c9b8e-8d1f-4c3a-9b2e-1d2c3b4a5f6e', again: 'one', tags: 'one' }, true],
      [{ ...ok, count: 0 }, false],
      [{ ...ok, count: 2.5 }, false],
      [{ ...ok, flag: 'true' }, false],
      [{ ...ok, id: 'nope' }, false],
      [{ ...ok, tags: undefined }, false],
      [{ ...ok, tags: [1] }, false],
      [{ ...ok, again: 'other' }, false],
    ];
    for (const [input, valid] of table) {
      const { slow, fast } = compare(Supported, input);
      expect('dto' in slow).toBe(valid);
      expect(fast !== undefined).toBe(valid);
    }
    expect(compare(Inner, { name: 'x' }).fast).toBeInstanceOf(Inner);
  });

  it.each([WithNested, WithTransform, WithValidateIf, WithOmittable, WithGroups, WithInitializer, WithMethod, WithoutMetadata])(
    '%p gets no compiled validator and keeps the slow path',
    (cls) => {
      expect(compiledValidatorFor(cls)).toBeNull();
      compare(cls, { name: ' x ' });
      compare(cls, { name: 1 });
    },
  );

  it('still applies what the slow path does for them', () => {
    expect(toValidDto(WithTransform, { name: ' x ' })).toEqual({ name: 'x' });
    expect(toValidDto(WithInitializer, {}).name).toBe('default');
  });
});

/** A small seeded generator (mulberry32): the same inputs on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
