import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationFailed } from './domain-error';
import { jsonShapeIssue } from './json-shape';
import { toValidDto } from './validation';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Array, Object]);

/** Validates bodies and query strings typed with a DTO class; bad input names each field. */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const cls = metadata.metatype;
    if ((metadata.type !== 'body' && metadata.type !== 'query') || !cls || PRIMITIVES.has(cls)) return value;
    // A route whose body is optional (close) is called with no body at all.
    const plain = metadata.type === 'body' && (value === undefined || value === null) ? {} : value;
    // Bodies were checked by the JSON parser; query strings are checked here.
    const issue = metadata.type === 'query' ? jsonShapeIssue(plain) : null;
    if (issue) throw new ValidationFailed([issue]);
    return toValidDto(cls as new () => object, plain);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are UUIDs; anything else is a 400 naming the parameter, never a lookup. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (!UUID.test(value)) {
      throw new ValidationFailed([{ field: metadata.data ?? 'id', message: `${metadata.data ?? 'id'} must be a UUID` }]);
    }
    return value.toLowerCase();
  }
}
