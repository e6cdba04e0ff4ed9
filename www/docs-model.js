// Reading an OpenAPI 3.x document into plain data for the docs page: operations by tag, who may
// call them, and schemas with their references resolved. No DOM here (tested under Node).

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Deep enough for any real payload; stops runaway documents.
const MAX_DEPTH = 12;

/** The value at a local JSON pointer (`#/components/schemas/X`), or undefined. */
export function resolvePointer(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined; // no external documents
  let node = doc;
  let fragment = ref.slice(1);
  try {
    fragment = decodeURIComponent(fragment);
  } catch (_) { /* use it as written */ }
  if (fragment === '') return node;
  if (!fragment.startsWith('/')) return undefined;
  for (const raw of fragment.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Follows `$ref`s of a parameter, body, response or scheme (not a schema) to the object itself. */
export function deref(doc, obj) {
  const seen = new Set();
  while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
    if (seen.has(obj.$ref)) return undefined;
    seen.add(obj.$ref);
    obj = resolvePointer(doc, obj.$ref);
  }
  return obj && typeof obj === 'object' ? obj : undefined;
}

function refName(ref) {
  const last = String(ref).split('/').pop() || ref;
  return last.replace(/~1/g, '/').replace(/~0/g, '~');
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `{type: "null"}`, `{enum: [null]}` or `{const: null}`: the "or null" half of a nullable. */
export function isNullSchema(s) {
  if (!isObject(s)) return false;
  if (s.type === 'null') return true;
  if (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === 'null') return true;
  if (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null) return true;
  return 'const' in s && s.const === null;
}

function blank() {
  return {
    label: 'any', types: [], format: null, nullable: false, enum: null, description: '',
    title: '', constraints: [], properties: null, items: null, tuple: null, variants: null,
    variantKind: null, additional: null, refName: null, cycle: false, truncated: false,
    unresolved: false, deprecated: false, readOnly: false, writeOnly: false,
    default: undefined, example: undefined,
  };
}

/**
 * A schema as a tree of plain nodes (see blank()): `$ref`s resolved (a reference back into
 * itself becomes `cycle`), nullable forms folded into `nullable`, allOf merged.
 */
export function describeSchema(doc, schema) {
  return describe(doc, schema, [], 0);
}

function describe(doc, schema, stack, depth) {
  const node = blank();
  if (schema === false) return { ...node, label: 'nothing' };
  if (!isObject(schema)) return node;
  if (depth > MAX_DEPTH) return { ...node, label: 'object', truncated: true };

  if (typeof schema.$ref === 'string') {
    const name = refName(schema.$ref);
    if (stack.includes(schema.$ref)) return { ...node, label: name, refName: name, cycle: true };
    const target = resolvePointer(doc, schema.$ref);
    if (target === undefined) return { ...node, label: name, refName: name, unresolved: true };
    const inner = describe(doc, target, [...stack, schema.$ref], depth);
    if (!inner.cycle) inner.refName = name;
    if (inner.refName && (inner.types.includes('object') || inner.properties)) inner.label = name;
    // OpenAPI 3.1 allows siblings next to $ref: they describe this use of the type.
    applyAnnotations(inner, schema);
    if (schema.nullable === true) inner.nullable = true;
    return inner;
  }

  // allOf: merge the parts into one object (how model inheritance is usually written).
  if (Array.isArray(schema.allOf) && schema.allOf.length) {
    const { allOf, ...own } = schema;
    if (allOf.length === 1 && !own.properties && !own.type) {
      const inner = describe(doc, allOf[0], stack, depth);
      applyAnnotations(inner, own);
      if (own.nullable === true) inner.nullable = true;
      return inner;
    }
    return describe(doc, mergeAllOf(doc, allOf, own, stack), stack, depth + 1);
  }

  // anyOf / oneOf: a null alternative means nullable; a single alternative left is the type.
  const altsKey = Array.isArray(schema.anyOf) ? 'anyOf' : Array.isArray(schema.oneOf) ? 'oneOf' : null;
  if (altsKey) {
    const alts = schema[altsKey];
    const real = alts.filter((s) => !isNullSchema(s));
    const nullable = real.length < alts.length;
    const { [altsKey]: _dropped, ...own } = schema;
    if (real.length === 1 && !own.properties && !own.type) {
      const inner = describe(doc, real[0], stack, depth + 1);
      applyAnnotations(inner, own);
      if (nullable || own.nullable === true) inner.nullable = true;
      return inner;
    }
    const n = describe(doc, own, stack, depth);
    n.variants = real.map((s) => describe(doc, s, stack, depth + 1));
    n.variantKind = altsKey;
    n.nullable = n.nullable || nullable;
    if (!n.types.length && !n.properties) n.label = n.variants.map(shortLabel).join(' | ') || 'null';
    return n;
  }

  let types = Array.isArray(schema.type) ? schema.type.filter((t) => typeof t === 'string')
    : typeof schema.type === 'string' ? [schema.type] : [];
  if (types.includes('null') || schema.nullable === true) node.nullable = true;
  types = types.filter((t) => t !== 'null');
  if (!types.length && isObject(schema.properties)) types = ['object'];
  if (!types.length && (schema.items !== undefined || Array.isArray(schema.prefixItems))) types = ['array'];
  node.types = types;
  node.format = typeof schema.format === 'string' ? schema.format : null;

  if (Array.isArray(schema.enum)) {
    if (schema.enum.includes(null)) node.nullable = true;
    node.enum = schema.enum.filter((v) => v !== null);
  } else if ('const' in schema) {
    if (schema.const === null) node.nullable = true;
    else node.enum = [schema.const];
  }

  if (isObject(schema.properties)) {
    const required = Array.isArray(schema.required) ? schema.required : [];
    node.properties = Object.entries(schema.properties).map(([name, s]) => ({
      name,
      required: required.includes(name),
      node: describe(doc, s, stack, depth + 1),
    }));
  }
  if (schema.additionalProperties === true || isObject(schema.additionalProperties)) {
    node.additional = describe(doc, schema.additionalProperties, stack, depth + 1);
  }
  if (Array.isArray(schema.prefixItems)) {
    node.tuple = schema.prefixItems.map((s) => describe(doc, s, stack, depth + 1));
  } else if (schema.items !== undefined && schema.items !== false) {
    node.items = describe(doc, schema.items, stack, depth + 1);
  }

  node.constraints = constraintsOf(schema);
  applyAnnotations(node, schema);
  node.label = labelOf(node, schema);
  return node;
}

function mergeAllOf(doc, parts, own, stack) {
  const merged = { ...own, properties: { ...(own.properties || {}) }, required: [...(own.required || [])] };
  const seen = new Set(stack);
  const visit = (part) => {
    let p = part;
    while (isObject(p) && typeof p.$ref === 'string' && !seen.has(p.$ref)) {
      seen.add(p.$ref);
      p = resolvePointer(doc, p.$ref);
    }
    if (!isObject(p) || typeof p.$ref === 'string') return;
    if (Array.isArray(p.allOf)) p.allOf.forEach(visit);
    if (isObject(p.properties)) Object.assign(merged.properties, p.properties);
    if (Array.isArray(p.required)) merged.required.push(...p.required);
    for (const key of ['type', 'description', 'title', 'additionalProperties']) {
      if (merged[key] === undefined && p[key] !== undefined) merged[key] = p[key];
    }
  };
  parts.forEach(visit);
  if (!Object.keys(merged.properties).length) delete merged.properties;
  return merged;
}

function applyAnnotations(node, schema) {
  if (typeof schema.description === 'string' && schema.description) node.description = schema.description;
  if (typeof schema.title === 'string' && schema.title) node.title = schema.title;
  if ('default' in schema) node.default = schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) node.example = schema.examples[0];
  else if ('example' in schema) node.example = schema.example;
  if (schema.deprecated === true) node.deprecated = true;
  if (schema.readOnly === true) node.readOnly = true;
  if (schema.writeOnly === true) node.writeOnly = true;
}

function constraintsOf(s) {
  const out = [];
  const num = (v) => typeof v === 'number' && Number.isFinite(v);
  if (num(s.minimum)) out.push(`${s.exclusiveMinimum === true ? '>' : '≥'} ${s.minimum}`);
  if (num(s.exclusiveMinimum)) out.push(`> ${s.exclusiveMinimum}`);
  if (num(s.maximum)) out.push(`${s.exclusiveMaximum === true ? '<' : '≤'} ${s.maximum}`);
  if (num(s.exclusiveMaximum)) out.push(`< ${s.exclusiveMaximum}`);
  if (num(s.multipleOf)) out.push(`multiple of ${s.multipleOf}`);
  if (num(s.minLength)) out.push(`min length ${s.minLength}`);
  if (num(s.maxLength)) out.push(`max length ${s.maxLength}`);
  if (typeof s.pattern === 'string') out.push(`pattern ${s.pattern}`);
  if (num(s.minItems)) out.push(`min items ${s.minItems}`);
  if (num(s.maxItems)) out.push(`max items ${s.maxItems}`);
  if (s.uniqueItems === true) out.push('unique items');
  if (num(s.minProperties)) out.push(`min properties ${s.minProperties}`);
  if (num(s.maxProperties)) out.push(`max properties ${s.maxProperties}`);
  if (typeof s.contentMediaType === 'string') out.push(`content ${s.contentMediaType}`);
  return out;
}

function shortLabel(node) {
  return node.refName || node.label;
}

function labelOf(node, schema) {
  if (node.tuple) return `[${node.tuple.map(shortLabel).join(', ')}]`;
  const labels = node.types.map((t) => {
    if (t === 'array') return node.items ? `array of ${shortLabel(node.items)}` : 'array';
    if (t === 'object') return node.refName || 'object';
    if (t === 'string' && (node.format === 'binary' || typeof schema.contentMediaType === 'string')) {
      return 'binary';
    }
    return node.format ? `${t} (${node.format})` : t;
  });
  if (labels.length) return labels.join(' | ');
  if (node.enum) return 'enum';
  return 'any';
}

/** A value in the shape of the schema, to start a request body from. */
export function exampleOf(node, depth = 0) {
  if (!node || depth > 6) return null;
  if (node.example !== undefined) return node.example;
  if (node.default !== undefined) return node.default;
  if (node.enum && node.enum.length) return node.enum[0];
  if (node.cycle || node.truncated) return null;
  if (node.variants && node.variants.length) return exampleOf(node.variants[0], depth + 1);
  if (node.tuple) return node.tuple.map((n) => exampleOf(n, depth + 1));
  const type = node.types[0];
  if (node.properties || type === 'object') {
    const out = {};
    for (const p of node.properties || []) {
      if (p.node.readOnly) continue;
      out[p.name] = exampleOf(p.node, depth + 1);
    }
    return out;
  }
  if (type === 'array') return node.items ? [exampleOf(node.items, depth + 1)] : [];
  if (node.nullable && !type) return null;
  switch (type) {
    case 'string': return node.format === 'date-time' ? '2026-01-01T00:00:00Z' : 'string';
    case 'integer': return 0;
    case 'number': return 0;
    case 'boolean': return false;
    default: return null;
  }
}

// ------------------------------------------------------------------ operations

function anchorFor(method, path) {
  const slug = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `op-${slug}`;
}

/** Every operation, in document order, with path-level and operation-level parameters merged. */
export function operations(doc) {
  const out = [];
  const ids = new Set();
  const paths = isObject(doc && doc.paths) ? doc.paths : {};
  for (const [path, rawItem] of Object.entries(paths)) {
    const item = deref(doc, rawItem);
    if (!item) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      let id = anchorFor(method, path);
      for (let n = 2; ids.has(id); n++) id = `${anchorFor(method, path)}-${n}`;
      ids.add(id);
      out.push({ method, path, op, id, parameters: mergeParameters(doc, item.parameters, op.parameters) });
    }
  }
  return out;
}

function mergeParameters(doc, pathLevel, opLevel) {
  const byKey = new Map();
  for (const list of [pathLevel, opLevel]) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const p = deref(doc, raw);
      if (!p || typeof p.name !== 'string' || typeof p.in !== 'string') continue;
      byKey.set(`${p.in}:${p.name}`, p);
    }
  }
  const order = { path: 0, query: 1, header: 2, cookie: 3 };
  return [...byKey.values()].sort((a, b) => (order[a.in] ?? 9) - (order[b.in] ?? 9));
}

/** Operations grouped under their first tag: document tag order first, "Other" last. */
export function groupByTag(doc, ops) {
  const described = new Map();
  for (const t of Array.isArray(doc && doc.tags) ? doc.tags : []) {
    if (isObject(t) && typeof t.name === 'string') described.set(t.name, t.description || '');
  }
  const groups = new Map([...described.keys()].map((name) => [name, []]));
  const other = [];
  for (const o of ops) {
    const tag = Array.isArray(o.op.tags) && typeof o.op.tags[0] === 'string' ? o.op.tags[0] : null;
    if (tag === null) other.push(o);
    else {
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(o);
    }
  }
  const out = [...groups].filter(([, list]) => list.length)
    .map(([name, list]) => ({ name, description: described.get(name) || '', ops: list }));
  if (other.length) out.push({ name: 'Other', description: '', ops: other });
  return out;
}

// ------------------------------------------------------------------ access

function schemeLabel(doc, name) {
  const schemes = doc && doc.components && doc.components.securitySchemes;
  const s = deref(doc, schemes && schemes[name]);
  if (!s) return { text: name, header: null, key: false };
  if (s.type === 'apiKey') {
    const where = s.in === 'header' ? 'header' : s.in === 'cookie' ? 'cookie' : 'query parameter';
    return { text: `${s.name} ${where}`, header: s.in === 'header' ? s.name : null, key: true };
  }
  if (s.type === 'http') {
    const scheme = String(s.scheme || '').toLowerCase();
    return { text: scheme === 'bearer' ? 'Bearer token' : `HTTP ${s.scheme || 'auth'}`, header: null, key: false };
  }
  return { text: s.type ? `${name} (${s.type})` : name, header: null, key: false };
}

/**
 * Who may call an operation. `kind` is `none`, `key` (an API key is needed), `local` (no key,
 * but only from the local network: `x-picamd-auth: local`) or `other`.
 * `headers` are the API-key header names Try it should fill in.
 */
export function accessOf(doc, op) {
  const local = op['x-picamd-auth'] === 'local' || op['x-local-network'] === true;
  const reqs = Array.isArray(op.security) ? op.security
    : Array.isArray(doc && doc.security) ? doc.security : [];
  const valid = reqs.filter(isObject);
  if (!valid.length || valid.some((r) => Object.keys(r).length === 0)) {
    return local
      ? { kind: 'local', text: 'Local network only (no key)', headers: [] }
      : { kind: 'none', text: 'None', headers: [] };
  }
  const headers = new Set();
  let key = false;
  const alternatives = valid.map((r) => Object.keys(r).map((name) => {
    const s = schemeLabel(doc, name);
    if (s.header) headers.add(s.header);
    key = key || s.key;
    return s.text;
  }).join(' + '));
  const text = alternatives.join(' or ') + (local ? ' (local network only)' : '');
  return { kind: key ? 'key' : 'other', text, headers: [...headers] };
}

// ------------------------------------------------------------------ bodies and responses

function contentList(doc, content) {
  if (!isObject(content)) return [];
  return Object.entries(content).map(([type, media]) => ({
    type,
    schema: isObject(media) && media.schema !== undefined ? describeSchema(doc, media.schema) : null,
    example: isObject(media) ? media.example : undefined,
  }));
}

export function requestBodyOf(doc, op) {
  const body = deref(doc, op.requestBody);
  if (!body) return null;
  return {
    required: body.required === true,
    description: typeof body.description === 'string' ? body.description : '',
    contents: contentList(doc, body.content),
  };
}

export function responsesOf(doc, op) {
  if (!isObject(op.responses)) return [];
  const rank = (code) => (/^\d{3}$/.test(code) ? Number(code) : /^\dXX$/i.test(code) ? Number(code[0]) * 100 + 99 : 1000);
  return Object.entries(op.responses)
    .map(([status, raw]) => {
      const r = deref(doc, raw) || {};
      return {
        status,
        description: typeof r.description === 'string' ? r.description : '',
        contents: contentList(doc, r.content),
        headers: isObject(r.headers) ? Object.keys(r.headers) : [],
      };
    })
    .sort((a, b) => rank(a.status) - rank(b.status));
}
