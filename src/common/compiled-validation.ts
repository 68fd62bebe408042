import { Logger } from '@nestjs/common';
import Ajv, { type SchemaObject } from 'ajv';
import { TransformationType, type ClassConstructor } from 'class-transformer';
import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
// @ts-expect-error -- the storage module has no typings of its own; typed by the import above
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import {
  ARRAY_MAX_SIZE,
  ARRAY_MIN_SIZE,
  getMetadataStorage,
  IS_ARRAY,
  IS_BOOLEAN,
  IS_IN,
  IS_OPTIONAL,
  IS_STRING,
  ValidationArguments,
  ValidationTypes,
  ValidatorConstraintInterface,
} from 'class-validator';
import { untransformedFields, VALIDATOR_OPTIONS } from './validation';

/**
 * A compiled fast path for toValidDto: the DTO the slow path (plainToInstance + validateSync)
 * would return for this plain object, or undefined when the slow path must decide (it rejects,
 * or the input has a shape this path does not copy). It never accepts what the slow path refuses.
 */
export type CompiledValidator<T> = (plain: object) => T | undefined;

type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];
/** A keyword's check; Ajv passes the data's context, whose rootData is the DTO instance. */
type Check = (value: unknown, cxt?: { rootData: unknown }) => boolean;

const transformerStorage = defaultMetadataStorage as TransformerStorage;
const CHECK_KEYWORD = 'x-class-validator';

/** The checks of the schema being compiled, by index; read by the keyword while Ajv compiles. */
let pendingChecks: Check[] = [];

// ownProperties: class-validator's whitelist reads Object.keys, own properties only.
const ajv = new Ajv({ allErrors: false, ownProperties: true, strict: true });
ajv.addKeyword({ keyword: CHECK_KEYWORD, schemaType: 'number', errors: false, compile: (index: number) => pendingChecks[index] });

const COMPILED = new WeakMap<object, CompiledValidator<object> | null>();

/** The compiled validator of a DTO class, or null when the class uses something not supported. */
export function compiledValidatorFor<T extends object>(cls: ClassConstructor<T>): CompiledValidator<T> | null {
  let compiled = COMPILED.get(cls);
  if (compiled === undefined) {
    compiled = compile(cls);
    COMPILED.set(cls, compiled);
  }
  return compiled as CompiledValidator<T> | null;
}

/** The JSON Schema generated for a DTO class (its custom checks shown as indexes), or null. */
export function schemaFor(cls: ClassConstructor<object>): SchemaObject | null {
  return generate(cls)?.schema ?? null;
}

function compile(cls: ClassConstructor<object>): CompiledValidator<object> | null {
  const generated = generate(cls);
  if (!generated) return null;
  pendingChecks = generated.checks;
  let validate: (data: unknown) => boolean;
  try {
    validate = ajv.compile(generated.schema);
  } catch (err) {
    // A schema Ajv refuses (strict mode): the slow path stays, and it is said once, so that a
    // DTO change that loses the fast path does not go unnoticed.
    new Logger('Validation').warn({ msg: 'no compiled validator for this DTO; class-validator alone checks it', dto: cls.name, error: (err as Error).message });
    return null;
  } finally {
    pendingChecks = [];
  }
  const fields = new Set(Object.keys(generated.schema.properties as object));
  const untransformedList = untransformedFields(cls);
  const untransformed = new Set(untransformedList);
  const prototype = cls.prototype as object;
  return (plain: object) => {
    // plainToInstance treats a Date, a Map, a Buffer or a thenable as such, not as fields.
    const proto: unknown = Object.getPrototypeOf(plain);
    if (proto !== Object.prototype && proto !== null) return undefined;
    try {
      // Built as plainToInstance builds it: `new cls()` has no own fields (checked when
      // compiling), then the own enumerable keys in order, then the maps as parsed.
      const instance = Object.create(prototype) as Record<string, unknown>;
      const source = plain as Record<string, unknown>;
      for (const key of Object.keys(source)) {
        if (untransformed.has(key)) continue;
        // An unknown key (constructor, __proto__, toString... which class-transformer drops or
        // refuses in its own ways) is left to the slow path.
        if (!fields.has(key)) return undefined;
        const value = copied(source[key]);
        if (value === REFUSED) return undefined;
        instance[key] = value;
      }
      for (const field of untransformedList) if (Object.hasOwn(source, field)) instance[field] = source[field];
      // The checks read the instance (ValidationArguments.object), as class-validator's do.
      return validate(instance) ? instance : undefined;
    } catch {
      return undefined; // a check that throws: the slow path runs it again and decides
    }
  };
}

const REFUSED = Symbol('refused');

/**
 * A field's value as class-transformer copies it, for the values copied the same way without it:
 * primitives as they are, arrays of primitives as new arrays. Objects (deep copies, a "constructor"
 * key to refuse, class instances) are the slow path's; so nothing nested can hold a key named
 * "constructor" here, and toValidDto's check of that key has nothing to find.
 */
function copied(value: unknown): unknown {
  if (isPrimitive(value) || value === undefined) return value;
  if (!Array.isArray(value)) return REFUSED;
  const copy = new Array<unknown>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]; // a hole reads undefined: refused (class-transformer drops holes)
    if (!isPrimitive(item)) return REFUSED;
    copy[i] = item;
  }
  return copy;
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** Builds the schema from class-validator's metadata, as validateSync(instance, VALIDATOR_OPTIONS) reads it. */
function generate(cls: ClassConstructor<object>): { schema: SchemaObject; checks: Check[] } | null {
  if (!supportedOptions() || !plainClass(cls)) return null;
  // The arguments ValidationExecutor passes: validateSync's schema is undefined, and the options
  // set neither always, strictGroups nor groups (supportedOptions).
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(cls, undefined as unknown as string, false, false, undefined);
  // forbidUnknownValues: a class without metadata refuses every value.
  if (metadatas.length === 0) return null;
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const metadata of metadatas) byProperty.set(metadata.propertyName, [...(byProperty.get(metadata.propertyName) ?? []), metadata]);
  const checks: Check[] = [];
  const properties: Record<string, SchemaObject> = {};
  const required: string[] = [];
  for (const [property, list] of byProperty) {
    // A name Object.prototype has (toString, __proto__...) is skipped by class-transformer.
    if (property in Object.prototype || transformed(cls, property)) return null;
    const generated = propertySchema(list, checks);
    if (!generated) return null;
    properties[property] = generated.schema;
    if (generated.required) required.push(property);
  }
  return { schema: { type: 'object', properties, required, additionalProperties: false }, checks };
}

/** The whitelist/forbidNonWhitelisted options this path implements, and nothing it does not. */
function supportedOptions(): boolean {
  const supported = new Set(['whitelist', 'forbidNonWhitelisted', 'forbidUnknownValues', 'stopAtFirstError']);
  const options = VALIDATOR_OPTIONS as Record<string, unknown>;
  return Object.keys(options).every((key) => supported.has(key)) && options.whitelist === true && options.forbidNonWhitelisted === true;
}

/**
 * A class whose `new cls()` is a bare object of its prototype (no initialised fields), with no
 * methods or accessors on its prototype chain, which class-transformer would skip or call.
 */
function plainClass(cls: ClassConstructor<object>): boolean {
  for (let p = cls.prototype as object | null; p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    if (p === null) return false;
    const keys = Reflect.ownKeys(p);
    if (keys.length !== 1 || keys[0] !== 'constructor') return false;
  }
  try {
    const probe = new cls();
    return Object.getPrototypeOf(probe) === cls.prototype && Reflect.ownKeys(probe).length === 0;
  } catch {
    return false;
  }
}

/** The field has class-transformer metadata (Type, Transform, Expose, Exclude): not a plain copy. */
function transformed(cls: ClassConstructor<object>, property: string): boolean {
  const s = transformerStorage;
  return (
    s.getStrategy(cls) !== 'none' ||
    s.getExposedMetadatas(cls).length > 0 ||
    s.getExcludedMetadatas(cls).length > 0 ||
    s.findTypeMetadata(cls, property) !== undefined ||
    s.findTransformMetadatas(cls, property, TransformationType.PLAIN_TO_CLASS).length > 0
  );
}

/**
 * One property: IsOptional skips every check when the value is undefined or null; otherwise all
 * checks must pass. Undefined never reaches a check (Ajv's properties skip it), so a property
 * that is not optional and has checks is required.
 */
function propertySchema(list: ValidationMetadata[], checks: Check[]): { schema: SchemaObject; required: boolean } | null {
  let optional = false;
  const parts: SchemaObject[] = [];
  for (const metadata of list) {
    // Groups, always and a per-decorator validateIf change which checks run: not supported.
    if (metadata.groups?.length || metadata.always !== undefined || metadata.validateIf !== undefined) return null;
    switch (metadata.type) {
      case ValidationTypes.CONDITIONAL_VALIDATION:
        // IsOptional is the one ValidateIf whose condition is known: value != null.
        if (metadata.name !== IS_OPTIONAL) return null;
        optional = true;
        break;
      case ValidationTypes.WHITELIST: // @Allow: whitelisted, no check
        break;
      case ValidationTypes.CUSTOM_VALIDATION:
      case ValidationTypes.IS_DEFINED: {
        const part = constraintSchema(metadata, checks);
        if (!part) return null;
        parts.push(part);
        break;
      }
      default: // nested, promise, or a type this class-validator version added
        return null;
    }
  }
  // Type checks first: cheap, and they refuse most bad values before a function is called.
  parts.sort((a, b) => Number(CHECK_KEYWORD in a) - Number(CHECK_KEYWORD in b));
  const all: SchemaObject = parts.length === 0 ? {} : parts.length === 1 ? parts[0] : { allOf: parts };
  // Null skips the checks before any runs: class-validator never calls them with it.
  return { schema: optional ? { if: { type: 'null' }, else: all } : all, required: !optional && parts.length > 0 };
}

function constraintSchema(metadata: ValidationMetadata, checks: Check[]): SchemaObject | null {
  const constraints = getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls);
  // validateSync skips async constraints; a class that has them keeps the slow path.
  if (constraints.some((constraint) => constraint.async)) return null;
  const builtIn = constraints.length === 1 && constraints[0].name === metadata.name && metadata.type === ValidationTypes.CUSTOM_VALIDATION;
  const native = builtIn ? nativeSchema(metadata.name, metadata.constraints) : undefined;
  if (native) return metadata.each ? { if: { type: 'array' }, then: { type: 'array', items: native }, else: native } : native;
  checks.push(callConstraints(metadata, constraints));
  return { [CHECK_KEYWORD]: checks.length - 1 };
}

/**
 * Built-in checks JSON Schema says with the same meaning, for the values that reach Ajv
 * (primitives and arrays of them: a String or Boolean object never gets here). They are known by
 * the name class-validator registers them under, so no project decorator may reuse such a name.
 * Length and MaxLength are not among them: validator.js's isLength counts a surrogate pair, and
 * a character with its variation selector (U+FE0E/U+FE0F), as one; Ajv counts code points.
 */
function nativeSchema(name: string | undefined, constraints: unknown[] | undefined): SchemaObject | undefined {
  const [first] = constraints ?? [];
  const count = typeof first === 'number' && Number.isSafeInteger(first) && first >= 0;
  switch (name) {
    case IS_STRING:
      return { type: 'string' };
    case IS_BOOLEAN:
      return { type: 'boolean' };
    case IS_ARRAY:
      return { type: 'array' };
    case ARRAY_MAX_SIZE:
      return count ? { type: 'array', maxItems: first } : undefined;
    case ARRAY_MIN_SIZE:
      return count ? { type: 'array', minItems: first } : undefined;
    case IS_IN: // isIn compares with ===, as Ajv's enum does for strings
      return Array.isArray(first) && first.length > 0 && first.every((v) => typeof v === 'string') ? { enum: [...new Set(first)] } : undefined;
    default:
      return undefined;
  }
}

/**
 * Any other constraint (IsUrl with its options, Length, IsStringMap...): the very validate
 * function class-validator calls, with the same arguments (ValidationExecutor.customValidations),
 * each item of an array for `each`. A truthy answer other than true is left to the slow path.
 */
function callConstraints(metadata: ValidationMetadata, constraints: ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidatorConstraints']>): Check {
  // The default container makes one instance per constraint class, so resolving it once is
  // resolving it each time, as the executor does.
  const instances: ValidatorConstraintInterface[] = constraints.map((constraint) => constraint.instance);
  return (value, cxt) => {
    const object = cxt?.rootData as object;
    const args: ValidationArguments = {
      targetName: object.constructor ? object.constructor.name : (undefined as unknown as string),
      property: metadata.propertyName,
      object,
      value,
      constraints: metadata.constraints,
    };
    for (const instance of instances) {
      if (!metadata.each || !Array.isArray(value)) {
        if (instance.validate(value, args) !== true) return false;
        continue;
      }
      for (const item of value as unknown[]) if (instance.validate(item, args) !== true) return false;
    }
    return true;
  };
}
