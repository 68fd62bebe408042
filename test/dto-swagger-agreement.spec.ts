import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import { AlertDto } from '../src/alerts/dto/alert.dto';

/**
 * The alert's OpenAPI schema (@ApiProperty) and its validation (class-validator, from which the
 * compiled validator is generated) are written side by side on AlertDto: this holds them to each
 * other, field by field, so the documented limits are the enforced ones.
 */
type SwaggerProperty = { required?: boolean; maxLength?: number; maxItems?: number; enum?: readonly string[]; isArray?: boolean };

function swaggerOf(cls: new () => object): Map<string, SwaggerProperty> {
  const names = (Reflect.getMetadata('swagger/apiModelPropertiesArray', cls.prototype) as string[]).map((n) => n.replace(/^:/, ''));
  return new Map(names.map((name) => [name, Reflect.getMetadata('swagger/apiModelProperties', cls.prototype, name) as SwaggerProperty]));
}

function validationOf(cls: new () => object): Map<string, { optional: boolean; maxLength?: number; maxItems?: number; values?: readonly string[] }> {
  const out = new Map<string, { optional: boolean; maxLength?: number; maxItems?: number; values?: readonly string[] }>();
  for (const m of getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false)) {
    const field = out.get(m.propertyName) ?? { optional: false };
    const c = m.constraints as unknown[] | undefined;
    if (m.type === 'conditionalValidation' && m.name === 'isOptional') field.optional = true;
    // Limits on the string itself, not on each element of an array of strings.
    if (m.name === 'isLength' && !m.each) field.maxLength = c?.[1] as number;
    if (m.name === 'maxLength' && !m.each) field.maxLength = c?.[0] as number;
    if (m.name === 'arrayMaxSize') field.maxItems = c?.[0] as number;
    if (m.name === 'isIn') field.values = c?.[0] as readonly string[];
    out.set(m.propertyName, field);
  }
  return out;
}

describe('AlertDto: the OpenAPI schema states what validation enforces', () => {
  const swagger = swaggerOf(AlertDto);
  const validation = validationOf(AlertDto);

  it('documents every validated field and validates every documented one', () => {
    expect([...swagger.keys()].sort()).toEqual([...validation.keys()].sort());
    expect(swagger.size).toBe(11);
  });

  it.each([...validationOf(AlertDto).keys()])('%s: required, length, items and allowed values agree', (name) => {
    const doc = swagger.get(name)!;
    const rule = validation.get(name)!;
    expect(doc.required !== false).toBe(!rule.optional);
    expect(doc.maxLength).toBe(rule.maxLength);
    expect(doc.maxItems).toBe(rule.maxItems);
    expect(doc.enum === undefined ? undefined : [...doc.enum]).toEqual(rule.values === undefined ? undefined : [...rule.values]);
  });
});
