import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError, ValidatorOptions } from 'class-validator';
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
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw new ValidationFailed([{ field: prefix || 'body', message: 'must be a JSON object' }]);
  }
  const instance = plainToInstance(cls, plain);
  const errors = validateSync(instance, VALIDATOR_OPTIONS);
  if (errors.length > 0) throw new ValidationFailed(fieldIssues(errors, prefix));
  return instance;
}
