import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { Observable } from 'rxjs';
import { ValidationFailed } from '../common/domain-error';
import type { FieldIssue } from '../common/domain-error';

/**
 * gRPC requests are decoded by protobufjs before any code of ours runs, and decoding costs per
 * field, not per byte: a SubmitAlert of 100,000 one-character labels (1.1 MB, under the 4 MiB
 * message limit) held the event loop 345 ms to be decoded and then refused. So each request is
 * first walked on the wire, which costs a few nanoseconds a field, and one whose repeated
 * fields (maps included) hold more than their cap is not decoded at all: the handler gets a
 * marker instead, and answers INVALID_ARGUMENT naming the field (see refusedShapeOf).
 */

/** Entries one repeated field or map of one message may hold on the wire. */
export const MAX_REPEATED_ENTRIES = 1000;
/** Entries of every repeated field and map of a request together. */
export const MAX_TOTAL_ENTRIES = 100_000;

const REFUSED = Symbol('refused wire shape');

interface MessageShape {
  name: string;
  /** Field numbers of repeated fields (maps are repeated entry messages on the wire). */
  repeated: Map<number, string>;
  /** Of those, the scalar ones (enums, numbers) that proto3 packs into one record of many values. */
  packed: Set<number>;
  /** Fields that are sub-messages to walk into (not map entries: their key and value are scalars). */
  messages: Map<number, { field: string; shape: MessageShape }>;
}

interface DescriptorField {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface Descriptor {
  name: string;
  field: DescriptorField[];
  nestedType?: Descriptor[];
  options?: { mapEntry?: boolean } | null;
}

/** The issue a request refused on the wire carries, if it was. */
export function refusedShapeOf(message: unknown): FieldIssue | undefined {
  return message !== null && typeof message === 'object' ? (message as { [REFUSED]?: FieldIssue })[REFUSED] : undefined;
}

/**
 * Wraps the request deserializer of every method of `definition`'s services in place, before
 * the server is built from it.
 */
export function guardWireShapes(definition: PackageDefinition): void {
  const descriptors = new Map<string, Descriptor>();
  const index = (fullName: string, descriptor: Descriptor) => {
    descriptors.set(fullName, descriptor);
    for (const nested of descriptor.nestedType ?? []) index(`${fullName}.${nested.name}`, nested);
  };
  for (const [name, entry] of Object.entries(definition)) {
    if ((entry as { format?: string }).format?.endsWith('DescriptorProto')) index(name, (entry as unknown as { type: Descriptor }).type);
  }
  const shapes = new Map<string, MessageShape>();
  const shapeOf = (fullName: string): MessageShape | undefined => {
    const known = shapes.get(fullName);
    if (known) return known;
    const descriptor = descriptors.get(fullName);
    if (!descriptor) return undefined;
    const shape: MessageShape = { name: fullName, repeated: new Map(), packed: new Set(), messages: new Map() };
    shapes.set(fullName, shape); // before the fields: messages may nest themselves
    const pkg = fullName.slice(0, fullName.lastIndexOf('.'));
    for (const field of descriptor.field) {
      if (field.label === 'LABEL_REPEATED') shape.repeated.set(field.number, field.name);
      if (field.label === 'LABEL_REPEATED' && !['TYPE_MESSAGE', 'TYPE_STRING', 'TYPE_BYTES', 'TYPE_GROUP'].includes(field.type)) shape.packed.add(field.number);
      if (field.type !== 'TYPE_MESSAGE') continue;
      const typeName = field.typeName.replace(/^\./, '');
      const target = [`${fullName}.${typeName}`, `${pkg}.${typeName}`, typeName].find((candidate) => descriptors.has(candidate));
      if (!target || descriptors.get(target)?.options?.mapEntry) continue;
      const sub = shapeOf(target);
      if (sub) shape.messages.set(field.number, { field: field.name, shape: sub });
    }
    return shape;
  };
  for (const entry of Object.values(definition)) {
    if ((entry as { format?: string }).format) continue; // a message or enum, not a service
    for (const method of Object.values(entry as Record<string, { requestDeserialize: (b: Buffer) => unknown; requestType?: { type?: Descriptor } }>)) {
      const requestName = method.requestType?.type?.name;
      const fullName = requestName && [...descriptors.keys()].find((key) => key === requestName || key.endsWith(`.${requestName}`));
      const shape = fullName ? shapeOf(fullName) : undefined;
      if (!shape) continue;
      const decode = method.requestDeserialize;
      method.requestDeserialize = (buffer: Buffer) => {
        const issue = wireIssue(buffer, shape);
        return issue ? { [REFUSED]: issue } : decode(buffer);
      };
    }
  }
}

/** The first repeated field over its cap, walking the wire format; undefined when within. */
export function wireIssue(buffer: Uint8Array, shape: MessageShape): FieldIssue | undefined {
  const budget = { total: 0 };
  try {
    return walk(buffer, 0, buffer.length, shape, '', budget);
  } catch {
    // Malformed: protobufjs will say so when it decodes.
    return undefined;
  }
}

function walk(buffer: Uint8Array, start: number, end: number, shape: MessageShape, path: string, budget: { total: number }): FieldIssue | undefined {
  const counts = new Map<number, number>();
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new RangeError('truncated');
      const byte = buffer[pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new RangeError('varint too long');
    }
  };
  while (pos < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    let length = 0;
    if (wireType === 0) varint();
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) length = varint();
    // proto3 has no groups; protobufjs would skip one and decode what follows unchecked.
    else return { field: path === '' ? 'request' : path.slice(0, -1), message: 'holds a group or an unknown wire type, which no message of this service has' };
    if (pos > end || (wireType === 2 && pos + length > end)) return undefined; // truncated: the decoder says so
    const name = shape.repeated.get(field);
    if (name !== undefined) {
      // A packed record holds one varint per byte whose top bit is clear.
      let entries = 1;
      if (wireType === 2 && shape.packed.has(field)) {
        entries = 0;
        for (let k = pos; k < pos + length; k++) if (buffer[k] < 0x80) entries++;
      }
      const count = (counts.get(field) ?? 0) + entries;
      counts.set(field, count);
      const at = `${path}${name}`;
      if (count > MAX_REPEATED_ENTRIES) return { field: at, message: `holds more than ${MAX_REPEATED_ENTRIES} entries` };
      budget.total += entries;
      if (budget.total > MAX_TOTAL_ENTRIES) {
        return { field: at, message: `the request holds more than ${MAX_TOTAL_ENTRIES} list and map entries in all; send it in parts` };
      }
    }
    if (wireType === 2) {
      const sub = shape.messages.get(field);
      if (sub) {
        const prefix = name !== undefined ? `${path}${sub.field}[${(counts.get(field) ?? 1) - 1}].` : `${path}${sub.field}.`;
        const issue = walk(buffer, pos, Math.min(end, pos + length), sub.shape, prefix, budget);
        if (issue) return issue;
      }
      pos += length;
    }
  }
  return undefined;
}

/** Unary calls: a request refused on the wire is answered INVALID_ARGUMENT naming the field. Streams check each message. */
@Injectable()
export class WireShapeInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const refused = refusedShapeOf(ctx.switchToRpc().getData());
    if (refused) throw new ValidationFailed([refused]);
    return next.handle();
  }
}
