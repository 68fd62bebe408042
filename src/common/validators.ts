import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { isISO8601, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { Untransformed } from './validation';

/**
 * A JSON object whose values are all strings (labels, annotations), with bounded size. Kept as
 * parsed (Untransformed): any key that is a legal label, `constructor` and `toString` included,
 * is an ordinary key; the check stops at the first key over the limit.
 */
export function IsStringMap(opts: { maxKeys: number; maxLength: number }, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    Untransformed()(target, propertyName);
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: `$property must be an object of at most ${opts.maxKeys} string values of at most ${opts.maxLength} characters`,
        ...options,
      },
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          let keys = 0;
          for (const k in value) {
            if (!Object.hasOwn(value, k)) continue;
            const v = (value as Record<string, unknown>)[k];
            if (++keys > opts.maxKeys || k.length === 0 || k.length > 256 || typeof v !== 'string' || v.length > opts.maxLength) return false;
          }
          return true;
        },
      },
    });
  };
}

/**
 * Like IsOptional, but only an absent field skips validation: null is checked (and refused) like
 * any other value. Where "given" means "replace", IsOptional would let null through to the store.
 */
export function IsOmittable(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}

/** Query parameters that may be repeated (?state=A&state=B) arrive as a string or an array. */
export function ToArray(): PropertyDecorator {
  return applyDecorators(Transform(({ value }) => (value === undefined ? undefined : Array.isArray(value) ? value : [value])));
}

/** Query booleans arrive as text; anything but true/false stays a string and fails IsBoolean. */
export function ToBoolean(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value));
}

/** Query integers arrive as text; anything that is not a whole number stays a string and fails IsInt. */
export function ToInt(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value));
}

/**
 * An absolute http(s) URL as the WHATWG parser reads it, the parser the outbound policy and the
 * HTTP client use too: a second parser with other rules would judge a different host than the one
 * called.
 */
export function IsHttpUrl(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isHttpUrl',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an absolute http or https URL', ...options },
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'string' || !URL.canParse(value)) return false;
          const { protocol, hostname } = new URL(value);
          return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
        },
      },
    });
}

/**
 * An ISO 8601 instant that JavaScript can read: the strict ISO check alone passes forms such as
 * `2026-W03` or `2026-015`, which Date.parse cannot read (NaN, then a RangeError far from the input).
 */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isInstant',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an ISO 8601 date-time such as 2027-01-04T09:00:00Z', ...options },
      validator: {
        validate(value: unknown): boolean {
          return typeof value === 'string' && isISO8601(value, { strict: true }) && Number.isFinite(Date.parse(value));
        },
      },
    });
}
