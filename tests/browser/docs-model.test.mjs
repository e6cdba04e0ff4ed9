// Unit tests for www/docs-model.js (the docs page's OpenAPI reading), run with: node --test

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  resolvePointer, deref, describeSchema, exampleOf, operations, groupByTag, accessOf,
  requestBodyOf, responsesOf, isNullSchema,
} from '../../www/docs-model.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/openapi-sample.json', import.meta.url), 'utf8'));
const propsOf = (node) => Object.fromEntries(node.properties.map((p) => [p.name, p]));

test('JSON pointers: escapes, misses and external references', () => {
  const doc = { a: { 'x/y': { '~z': 1 } }, list: [10, 20] };
  assert.equal(resolvePointer(doc, '#/a/x~1y/~0z'), 1);
  assert.equal(resolvePointer(doc, '#/a/x%7E1y/~0z'), 1, 'percent-encoded fragment');
  assert.equal(resolvePointer(doc, '#/list/1'), 20);
  assert.equal(resolvePointer(doc, '#'), doc);
  assert.equal(resolvePointer(doc, '#/nope/deeper'), undefined);
  assert.equal(resolvePointer(doc, 'other.json#/a'), undefined);
  assert.equal(resolvePointer(doc, '#/a/toString'), undefined, 'no inherited properties');
  assert.equal(deref({ x: { $ref: '#/x' } }, { $ref: '#/x' }), undefined, 'a $ref loop ends');
});

test('nullable in all its spellings', () => {
  const doc = { components: { schemas: { M: { type: 'string', enum: ['a', 'b'] } } } };
  const cases = [
    { type: ['string', 'null'] },
    { type: 'string', nullable: true },
    { anyOf: [{ type: 'string' }, { type: 'null' }] },
    { oneOf: [{ type: 'null' }, { type: 'string' }] },
  ];
  for (const s of cases) {
    const n = describeSchema(doc, s);
    assert.equal(n.nullable, true, JSON.stringify(s));
    assert.equal(n.label, 'string', JSON.stringify(s));
  }
  const e = describeSchema(doc, { anyOf: [{ $ref: '#/components/schemas/M' }, { type: 'null' }], description: 'mode' });
  assert.deepEqual([e.nullable, e.refName, e.enum, e.description], [true, 'M', ['a', 'b'], 'mode']);
  const en = describeSchema(doc, { enum: ['x', null] });
  assert.deepEqual([en.nullable, en.enum], [true, ['x']]);
  assert.equal(describeSchema(doc, { type: 'string' }).nullable, false);
  assert.ok(isNullSchema({ const: null }) && !isNullSchema({ type: 'string' }) && !isNullSchema(null));
});

test('references, nesting, arrays, tuples and cycles', () => {
  const resp = responsesOf(fixture, fixture.paths['/captures'].post)[0];
  assert.equal(resp.status, '201');
  const capture = resp.contents[0].schema;
  assert.equal(capture.refName, 'ImageCaptureResponse');
  const p = propsOf(capture);
  assert.equal(p.image_id.required, true);
  assert.deepEqual(p.status.node.enum, ['uploaded', 'queued']);
  assert.equal(p.image_url.node.nullable, true);
  assert.equal(p.image_url.node.label, 'string (uri)');
  const camera = propsOf(propsOf(p.metadata.node).camera_properties.node);
  assert.equal(camera.unit_cell_size.node.label, '[integer, integer]');
  assert.equal(camera.unit_cell_size.node.nullable, true);

  const validation = describeSchema(fixture, { $ref: '#/components/schemas/HTTPValidationError' });
  const detail = propsOf(validation).detail.node;
  assert.equal(detail.label, 'array of ValidationError');
  assert.deepEqual(detail.items.properties.map((x) => x.name), ['loc', 'msg', 'type', 'input']);

  const doc = { components: { schemas: { Node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/components/schemas/Node' } } } } } } };
  const tree = describeSchema(doc, { $ref: '#/components/schemas/Node' });
  const child = propsOf(tree).children.node.items;
  assert.equal(child.cycle, true);
  assert.equal(child.refName, 'Node');
  const missing = describeSchema(doc, { $ref: '#/components/schemas/Gone' });
  assert.equal(missing.unresolved, true);
  // A deep but acyclic document is cut off instead of growing without bound.
  let deep = { type: 'string' };
  for (let i = 0; i < 50; i++) deep = { type: 'object', properties: { x: deep } };
  let n = describeSchema({}, deep);
  let levels = 0;
  while (n.properties) { n = n.properties[0].node; levels++; }
  assert.ok(n.truncated && levels < 20, `stopped after ${levels} levels`);
});

test('allOf merges the parts; additionalProperties and const', () => {
  const doc = { components: { schemas: {
    Base: { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } },
  } } };
  const n = describeSchema(doc, { allOf: [{ $ref: '#/components/schemas/Base' }, { properties: { name: { type: 'string' } }, required: ['name'] }] });
  assert.deepEqual(n.properties.map((p) => [p.name, p.required]), [['id', true], ['name', true]]);
  const single = describeSchema(doc, { allOf: [{ $ref: '#/components/schemas/Base' }], description: 'wrapped' });
  assert.deepEqual([single.refName, single.description], ['Base', 'wrapped']);
  const map = describeSchema(fixture, { $ref: '#/components/schemas/CameraControlsView' });
  assert.equal(propsOf(map).controls.node.additional.refName, 'CameraControlInfo');
  const mode = propsOf(describeSchema(fixture, { $ref: '#/components/schemas/StreamView' })).mode.node;
  assert.deepEqual(mode.enum, ['youtube']);
  assert.equal(describeSchema(doc, { anyOf: [{ type: 'integer' }, { type: 'string' }] }).label, 'integer | string');
});

test('constraints and example bodies', () => {
  const n = describeSchema(fixture, { $ref: '#/components/schemas/FocusRequest' });
  assert.deepEqual(propsOf(n).lens_position.node.constraints, ['≥ 0', '≤ 32']);
  assert.deepEqual(exampleOf(n), { mode: 'manual', lens_position: null });
  const patch = describeSchema(fixture, { $ref: '#/components/schemas/CameraControlsPatch' });
  assert.deepEqual(exampleOf(patch), { controls: { ExposureTime: 10000 } });
  assert.deepEqual(exampleOf(describeSchema(fixture, { $ref: '#/components/schemas/YoutubeStreamConfig' })),
    { stream_key: 'string', broadcast_key: 'string' });
  assert.deepEqual(exampleOf(describeSchema({}, { type: 'array', items: { type: 'integer' } })), [0]);
  const body = requestBodyOf(fixture, fixture.paths['/captures'].post);
  assert.equal(body.required, false);
  assert.deepEqual(exampleOf(body.contents[0].schema), { product_id: 1, description: 'string' });
});

test('operations: parameters merged, ids unique, grouped by tag', () => {
  const ops = operations(fixture);
  assert.equal(ops.length, 17);
  const hls = ops.find((o) => o.path === '/preview/hls/{hls_path}');
  assert.deepEqual(hls.parameters.map((p) => `${p.in}:${p.name}`),
    ['path:hls_path', 'query:_HLS_msn', 'query:_HLS_part', 'query:_HLS_skip']);
  assert.equal(new Set(ops.map((o) => o.id)).size, ops.length);
  const clash = operations({ paths: { '/a/b': { get: {} }, '/a-b': { get: {} } } });
  assert.notEqual(clash[0].id, clash[1].id);

  const groups = groupByTag(fixture, ops);
  assert.deepEqual(groups.map((g) => g.name), ['preview', 'camera', 'captures', 'streams', 'system', 'Other']);
  assert.deepEqual(groups.at(-1).ops.map((o) => o.path), ['/time', '/pairing/state']);
  assert.equal(groups.reduce((n, g) => n + g.ops.length, 0), ops.length, 'each operation once');
  assert.deepEqual(operations({}), []);
  assert.deepEqual(operations({ paths: { '/x': null, '/y': { get: 'bad' } } }), []);
});

test('access: none, API key, local network, alternatives', () => {
  const op = (path, method) => fixture.paths[path][method];
  assert.deepEqual(accessOf(fixture, op('/time', 'get')), { kind: 'none', text: 'None', headers: [] });
  assert.deepEqual(accessOf(fixture, op('/camera', 'get')), { kind: 'key', text: 'X-API-Key header', headers: ['X-API-Key'] });
  assert.equal(accessOf(fixture, op('/preview/start', 'post')).kind, 'local');
  const doc = {
    security: [{ key: [] }, { cookie: [] }],
    components: { securitySchemes: {
      key: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      cookie: { type: 'apiKey', in: 'cookie', name: 'relab_session' },
    } },
  };
  const both = accessOf(doc, {});
  assert.equal(both.text, 'X-API-Key header or relab_session cookie');
  assert.deepEqual(both.headers, ['X-API-Key']);
  assert.equal(accessOf(doc, { security: [{}, { key: [] }] }).kind, 'none', 'optional auth');
  assert.equal(accessOf(doc, { security: [{ unknown: [] }] }).text, 'unknown');
});

test('responses sorted by status, shared responses resolved', () => {
  const rs = responsesOf(fixture, fixture.paths['/preview/hls/{hls_path}'].get);
  assert.deepEqual(rs.map((r) => r.status), ['200', '400', '404', '503']);
  assert.deepEqual(rs[0].contents.map((c) => c.type), ['application/vnd.apple.mpegurl', 'video/mp4']);
  assert.equal(rs[0].contents[1].schema.label, 'binary');
  assert.deepEqual(rs[0].headers, ['Cache-Control']);
  assert.equal(rs[1].contents[0].schema.refName, 'HTTPError');
  const odd = responsesOf({}, { responses: { default: {}, '5XX': {}, 201: {} } });
  assert.deepEqual(odd.map((r) => r.status), ['201', '5XX', 'default']);
});
