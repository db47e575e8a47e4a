import { z } from 'zod';

/**
 * The small subset of JSON Schema a worker config may use to declare an
 * external trainer's parameters, so bad sweep specs are refused before any
 * trial starts. Supported: an object of named properties, each a number,
 * integer, string, boolean or array of those, with `minimum`, `maximum`,
 * `exclusiveMinimum`, `exclusiveMaximum`, `enum` and `default`; `required`;
 * `additionalProperties` (true unless set to false, as in JSON Schema).
 */
export type JsonSchemaLiteProperty =
  | {
      type: 'number' | 'integer';
      description?: string;
      minimum?: number;
      maximum?: number;
      exclusiveMinimum?: number;
      exclusiveMaximum?: number;
      enum?: number[];
      default?: number;
    }
  | { type: 'string'; description?: string; enum?: string[]; default?: string }
  | { type: 'boolean'; description?: string; default?: boolean }
  | {
      type: 'array';
      description?: string;
      items: JsonSchemaLiteProperty;
      minItems?: number;
      maxItems?: number;
    };

export interface JsonSchemaLite {
  type: 'object';
  description?: string;
  properties: Record<string, JsonSchemaLiteProperty>;
  required?: string[];
  additionalProperties?: boolean;
}

const numberProperty = z.strictObject({
  type: z.enum(['number', 'integer']),
  description: z.string().optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  exclusiveMinimum: z.number().optional(),
  exclusiveMaximum: z.number().optional(),
  enum: z.array(z.number()).min(1).optional(),
  default: z.number().optional(),
});
const stringProperty = z.strictObject({
  type: z.literal('string'),
  description: z.string().optional(),
  enum: z.array(z.string()).min(1).optional(),
  default: z.string().optional(),
});
const booleanProperty = z.strictObject({
  type: z.literal('boolean'),
  description: z.string().optional(),
  default: z.boolean().optional(),
});

export const jsonSchemaLitePropertySchema: z.ZodType<JsonSchemaLiteProperty> = z.lazy(() =>
  z.discriminatedUnion('type', [
    numberProperty,
    stringProperty,
    booleanProperty,
    z.strictObject({
      type: z.literal('array'),
      description: z.string().optional(),
      items: jsonSchemaLitePropertySchema,
      minItems: z.number().int().nonnegative().optional(),
      maxItems: z.number().int().nonnegative().optional(),
    }),
  ]),
);

export const jsonSchemaLiteSchema = z
  .strictObject({
    type: z.literal('object'),
    description: z.string().optional(),
    properties: z.record(z.string(), jsonSchemaLitePropertySchema),
    required: z.array(z.string()).optional(),
    additionalProperties: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    for (const name of s.required ?? []) {
      if (!(name in s.properties)) {
        ctx.addIssue({
          code: 'custom',
          path: ['required'],
          message: `required property "${name}" is not declared`,
        });
      }
    }
  });

function propertyToZod(p: JsonSchemaLiteProperty): z.ZodType {
  switch (p.type) {
    case 'number':
    case 'integer': {
      let s = p.type === 'integer' ? z.number().int() : z.number();
      if (p.minimum !== undefined) s = s.min(p.minimum);
      if (p.maximum !== undefined) s = s.max(p.maximum);
      if (p.exclusiveMinimum !== undefined) s = s.gt(p.exclusiveMinimum);
      if (p.exclusiveMaximum !== undefined) s = s.lt(p.exclusiveMaximum);
      const allowed = p.enum;
      if (!allowed) return s;
      return s.refine((x) => allowed.includes(x), { message: `must be one of ${allowed.join(', ')}` });
    }
    case 'string':
      return p.enum ? z.enum(p.enum as [string, ...string[]]) : z.string();
    case 'boolean':
      return z.boolean();
    case 'array': {
      let s = z.array(propertyToZod(p.items));
      if (p.minItems !== undefined) s = s.min(p.minItems);
      if (p.maxItems !== undefined) s = s.max(p.maxItems);
      return s;
    }
  }
}

/** Compile a (validated) JSON-schema-lite object schema to the zod schema a trainer declares. */
export function jsonSchemaLiteToZod(schema: JsonSchemaLite): z.ZodType<Record<string, unknown>> {
  const required = new Set(schema.required ?? []);
  const shape: Record<string, z.ZodType> = {};
  for (const [name, property] of Object.entries(schema.properties)) {
    let s = propertyToZod(property);
    const fallback = 'default' in property ? property.default : undefined;
    if (fallback !== undefined) s = s.default(fallback as never);
    else if (!required.has(name)) s = s.optional();
    shape[name] = s;
  }
  return schema.additionalProperties === false ? z.strictObject(shape) : z.looseObject(shape);
}
