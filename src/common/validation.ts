import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError, ValidatorOptions } from 'class-validator';
import { compiledValidatorFor } from './compiled-validation';
import { FieldIssue, ValidationFailed } from './domain-error';

export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
};

/** Flattens class-validator's tree into one issue per offending field, with dotted paths. */
export function fieldIssues(errors: ValidationError[], prefix = ''): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const error of errors) {
    const isIndex = /^\d+$/.test(error.property);
    const path = prefix === '' ? (isIndex ? `[${error.property}]` : error.property) : isIndex ? `${prefix}[${error.property}]` : `${prefix}.${error.property}`;
    if (error.constraints) {
      const messages = Object.values(error.constraints);
      issues.push({ field: path, message: messages.join('; ') });
    }
    if (error.children?.length) issues.push(...fieldIssues(error.children, path));
  }
  return issues;
}

/**
 * Turns a plain JSON value into a validated DTO instance or throws ValidationFailed naming each
 * bad field (prefixed, e.g. `[3].severity` for the fourth alert of a batch).
 */
export function toValidDto<T extends object>(cls: ClassConstructor<T>, plain: unknown, prefix = ''): T {
  const dto = validDto(cls, plain, prefix);
  // PostgreSQL's text cannot hold NUL: a write would fail as a fault of the service. REST's JSON
  // parser refuses it first; a gRPC message reaches here with it. The field is named by the DTO's
  // own property (never a map key, which may be any text and the gRPC metadata is ASCII).
  for (const [field, value] of Object.entries(dto)) {
    if (holdsNul(value))
      throw new ValidationFailed([{ field: prefix === '' ? field : `${prefix}.${field}`, message: 'must not contain the NUL character (\\u0000)' }]);
  }
  return dto;
}

/** Whether a field's value (a string, a list of strings or a map of strings) holds the NUL character. */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some((item) => typeof item === 'string' && item.includes('\u0000'));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.entries(value).some(([key, item]) => key.includes('\u0000') || (typeof item === 'string' && item.includes('\u0000')));
  return false;
}

function validDto<T extends object>(cls: ClassConstructor<T>, plain: unknown, prefix: string): T {
  // The compiled path (compiled-validation.ts) answers only what the slow path would accept, with
  // the same DTO, in microseconds; anything else, every refusal included, goes the slow way so the
  // issues named are exactly its own.
  if (typeof plain === 'object' && plain !== null && !Array.isArray(plain)) {
    const fast = compiledValidatorFor(cls)?.(plain);
    if (fast !== undefined) return fast;
  }
  return toValidDtoSlowPath(cls, plain, prefix);
}

/**
 * toValidDto by class-transformer and class-validator alone: the reference the compiled path is
 * held to (test/compiled-validation.spec.ts), and the path of every input it does not accept.
 */
export function toValidDtoSlowPath<T extends object>(cls: ClassConstructor<T>, plain: unknown, prefix = ''): T {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw new ValidationFailed([{ field: prefix || 'body', message: 'must be a JSON object' }]);
  }
  // Maps (labels, annotations, a webhook payload) are kept as they were parsed, never walked by
  // class-transformer: it cost superlinear time on large maps and failed on a key named
  // "constructor", which is a legal label. Their checks (IsStringMap) run on them as they are.
  const kept: Array<[string, unknown]> = [];
  let source = plain as Record<string, unknown>;
  const untransformed = untransformedFields(cls);
  if (untransformed.length > 0) {
    source = { ...source };
    for (const field of untransformed) {
      if (!Object.hasOwn(source, field)) continue;
      kept.push([field, source[field]]);
      delete source[field];
    }
  }
  // No DTO has a field named constructor, at any depth; class-transformer would read it as the
  // object's class (failing, or dropping it silently). Maps were set aside above: a label may be
  // named so.
  const constructorKey = constructorKeyIn(source, prefix);
  if (constructorKey !== undefined) throw new ValidationFailed([{ field: constructorKey, message: 'constructor is not a field of this object' }]);
  const instance = plainToInstance(cls, source);
  for (const [field, value] of kept) (instance as Record<string, unknown>)[field] = value;
  const errors = validateSync(instance, VALIDATOR_OPTIONS);
  if (errors.length > 0) throw new ValidationFailed(fieldIssues(errors, prefix));
  return instance;
}

/** The path of the first own key named "constructor" in a parsed JSON value, depth first. */
function constructorKeyIn(value: unknown, path: string): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = constructorKeyIn(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (Object.hasOwn(value, 'constructor')) return join(path, 'constructor');
  for (const [key, child] of Object.entries(value)) {
    const found = constructorKeyIn(child, join(path, key));
    if (found !== undefined) return found;
  }
  return undefined;
}

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

const UNTRANSFORMED = new WeakMap<object, string[]>();

/** The field is taken as parsed (a map, a free-form object): class-transformer never walks it. */
export function Untransformed(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    const own = UNTRANSFORMED.get(target.constructor) ?? [];
    UNTRANSFORMED.set(target.constructor, [...own, propertyName as string]);
  };
}

/** The untransformed fields of a class and of the classes it extends. */
export function untransformedFields(cls: object): string[] {
  const fields: string[] = [];
  for (let c: object | null = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c) as object | null) fields.push(...(UNTRANSFORMED.get(c) ?? []));
  return fields;
}
