import type { PushItem } from './types.js';

/**
 * pushsource-ls's shape of an item: `{ClassName: {fields in attrs order}}` (what
 * `attr.asdict(item)` gives, `opener` excluded, enums as values, dates as YYYY-MM-DD).
 */
export function toPushsourceShape(item: PushItem): Record<string, Record<string, unknown>> {
  const { kind, ...fields } = item;
  return { [kind]: fields as Record<string, unknown> };
}

/** Copy of an item with other field values (attrs.evolve): keeps the field order. */
export function evolve<T extends PushItem>(item: T, changes: Partial<Omit<T, 'kind'>>): T {
  return { ...item, ...changes };
}
