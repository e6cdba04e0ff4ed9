// Schema trees (from docs-model.js describeSchema) as readable nested field lists.

import { h, markdown } from './dom.js';

// Nested objects deeper than this start collapsed.
const OPEN_LEVELS = 2;

function valueText(v) {
  try {
    return JSON.stringify(v);
  } catch (_) {
    return String(v);
  }
}

// A tuple of plain values is said in full by its label ("[integer, integer]").
function tupleNeedsList(n) {
  return Boolean(n.tuple && n.tuple.some((t) => hasChildren(t) || t.description || t.enum));
}

// Likewise alternatives of plain types ("number | string").
function variantsNeedList(n) {
  return Boolean(n.variants && n.variants.some((v) => hasChildren(v) || v.description || v.enum));
}

function hasChildren(n) {
  return Boolean(
    (n.properties && n.properties.length) || (n.items && hasChildren(n.items)) || tupleNeedsList(n) ||
    variantsNeedList(n) || n.additional || n.cycle,
  );
}

/** The one-line facts about a schema: type, "or null", enum values, limits, default, example. */
export function annotations(n) {
  const parts = [h('span', { class: 'type' }, n.label)];
  if (n.nullable) parts.push(h('span', { class: 'tag tag-null' }, 'or null'));
  if (n.readOnly) parts.push(h('span', { class: 'tag' }, 'read-only'));
  if (n.writeOnly) parts.push(h('span', { class: 'tag' }, 'write-only'));
  if (n.deprecated) parts.push(h('span', { class: 'tag tag-warn' }, 'deprecated'));
  if (n.unresolved) parts.push(h('span', { class: 'tag tag-warn' }, 'unresolved reference'));
  const values = n.enum || (n.items && n.items.enum);
  if (values && values.length) {
    parts.push(h('span', { class: 'enum' }, n.enum ? 'one of ' : 'each one of ',
      values.map((v, i) => [i ? ', ' : '', h('code', {}, valueText(v))])));
  }
  for (const c of n.constraints) parts.push(h('span', { class: 'constraint' }, c));
  if (n.default !== undefined) parts.push(h('span', { class: 'default' }, 'default ', h('code', {}, valueText(n.default))));
  if (n.example !== undefined) parts.push(h('span', { class: 'example' }, 'example ', h('code', {}, valueText(n.example))));
  return h('span', { class: 'annotations' }, parts);
}

function describeText(n) {
  const text = n.description || (n.title && n.title !== n.refName ? n.title : '');
  return text ? h('div', { class: 'schema-desc' }, markdown(text)) : null;
}

function children(n, level) {
  if (n.cycle) return h('p', { class: 'muted schema-note' }, `Refers back to ${n.refName} (recursive).`);
  const out = [];
  if (n.properties && n.properties.length) {
    out.push(h('ul', { class: 'props' }, n.properties.map((p) => property(p, level))));
  }
  if (n.items && hasChildren(n.items)) {
    out.push(h('div', { class: 'schema-sub' }, h('span', { class: 'sub-label' }, 'Each item: ', annotations(n.items)),
      describeText(n.items), nested(n.items, level)));
  }
  if (tupleNeedsList(n)) {
    out.push(h('ol', { class: 'tuple', start: 0 }, n.tuple.map((t) => h('li', {}, annotations(t), describeText(t), nested(t, level)))));
  }
  if (variantsNeedList(n)) {
    out.push(h('div', { class: 'schema-sub' }, h('span', { class: 'sub-label' }, n.variantKind === 'oneOf' ? 'Exactly one of:' : 'Any of:'),
      h('ul', { class: 'variants' }, n.variants.map((v) => h('li', {}, annotations(v), describeText(v), nested(v, level))))));
  }
  if (n.additional) {
    out.push(h('div', { class: 'schema-sub' }, h('span', { class: 'sub-label' }, 'Any other key: ', annotations(n.additional)),
      describeText(n.additional), nested(n.additional, level)));
  }
  return out;
}

function nested(n, level) {
  if (!hasChildren(n)) return null;
  const inner = children(n, level + 1);
  if (level + 1 < OPEN_LEVELS) return h('div', { class: 'nested' }, inner);
  const what = n.refName || (n.items && n.items.refName) || 'fields';
  return h('details', { class: 'nested' }, h('summary', {}, `Show ${what}`), inner);
}

function property(p, level) {
  return h('li', { class: 'prop', dataset: { name: p.name } },
    h('div', { class: 'prop-head' },
      h('code', { class: 'prop-name' }, p.name),
      p.required ? h('span', { class: 'tag tag-req' }, 'required') : null,
      annotations(p.node)),
    describeText(p.node),
    nested(p.node, level));
}

/** A schema: its facts line, description and nested fields. */
export function schemaView(n) {
  return h('div', { class: 'schema' },
    h('div', { class: 'schema-head' }, annotations(n)),
    describeText(n),
    children(n, 0));
}
