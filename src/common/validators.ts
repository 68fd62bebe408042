import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';

/** A JSON object whose values are all strings (labels, annotations), with bounded size. */
export function IsStringMap(opts: { maxKeys: number; maxLength: number }, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
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
          const entries = Object.entries(value);
          return (
            entries.length <= opts.maxKeys && entries.every(([k, v]) => k.length > 0 && k.length <= 256 && typeof v === 'string' && v.length <= opts.maxLength)
          );
        },
      },
    });
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
