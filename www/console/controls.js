// Camera controls, generated from GET /camera/controls: number ranges become sliders with a
// number field, enums selects, booleans switches. Changes go out with PATCH /camera/controls
// through one sender (debounced, one request in flight, coalesced); focus has its own card
// section on PUT /camera/focus. An error (422, 429) shows next to the control it concerns.

import { h } from '../dom.js';
import { sender } from './sender.js';

// Shown in the focus section, not as plain controls. AfTrigger is an action, not a setting.
const FOCUS = new Set(['AfMode', 'LensPosition', 'AfTrigger']);
// libcamera's meaning: while AeEnable is on, the sensor picks exposure time and gain itself, so
// those sliders do nothing (the synthetic camera behaves the same). The API does not list this,
// so it is written down here; a camera without these names just has no such link.
const GOVERNED = { AeEnable: ['ExposureTime', 'AnalogueGain'], AwbEnable: ['ColourGains'] };
const LABELS = {
  AeEnable: 'Auto exposure',
  AwbEnable: 'Auto white balance',
  ExposureTime: 'Exposure time (µs)',
  ExposureValue: 'Exposure compensation (EV)',
  AnalogueGain: 'Gain',
  AwbMode: 'White balance mode',
  AeExposureMode: 'Exposure mode',
  AeMeteringMode: 'Metering mode',
  AeConstraintMode: 'Exposure constraint',
  NoiseReductionMode: 'Noise reduction',
  AfRange: 'Focus range',
  AfSpeed: 'Focus speed',
  LensPosition: 'Lens position (dioptres)',
};
// Shown first; every other control goes under "More controls" (closed at first).
const ORDER = ['AeEnable', 'AwbEnable', 'ExposureTime', 'AnalogueGain', 'ExposureValue',
  'Brightness', 'Contrast', 'Saturation'];

const label = (name) => LABELS[name] || name.replace(/([a-z])([A-Z])/g, '$1 $2');
const slug = (name) => `ctl-${name.replace(/[^A-Za-z0-9]/g, '')}`;

/** A slider's scale: linear, or logarithmic for ranges over three decades (exposure in µs). */
function scaleOf(info) {
  const min = Number(info.minimum);
  const max = Number(info.maximum);
  const integer = info.value_type === 'integer';
  if (min > 0 && max / min >= 1000) {
    const lo = Math.log(min);
    const hi = Math.log(max);
    return {
      steps: 1000,
      toSlider: (v) => Math.round(((Math.log(Math.max(min, v)) - lo) / (hi - lo)) * 1000),
      fromSlider: (s) => {
        const v = Math.exp(lo + (s / 1000) * (hi - lo));
        return integer ? Math.round(v) : Number(v.toPrecision(3));
      },
      step: integer ? 1 : 'any',
    };
  }
  const span = max - min;
  const step = integer ? Math.max(1, Math.round(span / 500)) : niceStep(span / 400);
  return {
    steps: null,
    toSlider: (v) => v,
    fromSlider: (s) => (integer ? Math.round(s) : Number(Number(s).toFixed(decimals(step)))),
    step,
  };
}

function niceStep(x) {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5]) if (m * p >= x) return m * p;
  return 10 * p;
}

const decimals = (step) => Math.max(0, -Math.floor(Math.log10(step)));

/** One control's row: its input(s), its error line, and how to set it from a value. */
function controlRow(name, info, onInput) {
  const id = slug(name);
  const error = h('p', { class: 'form-error control-error', id: `${id}-error`, role: 'status', 'data-error-for': name });
  const common = { id, name, 'aria-describedby': `${id}-error`, 'data-control': name };
  const t = info.value_type;

  if (t === 'boolean') {
    const input = h('input', { ...common, type: 'checkbox', role: 'switch' });
    input.addEventListener('change', () => onInput(name, input.checked, true));
    const row = h('div', { class: 'control control-switch' },
      h('label', { for: id }, input, h('span', {}, label(name))), error);
    return { row, error, inputs: [input], set: (v) => { input.checked = Boolean(v); } };
  }

  if (t === 'enum' || (t === 'string' && Array.isArray(info.options))) {
    const select = h('select', common, (info.options || []).map((o) => h('option', { value: o }, o)));
    select.addEventListener('change', () => onInput(name, select.value, true));
    const row = h('div', { class: 'control' }, h('label', { for: id }, label(name)), select, error);
    return { row, error, inputs: [select], set: (v) => { select.value = String(v); } };
  }

  if ((t === 'integer' || t === 'number') && info.minimum !== null && info.maximum !== null) {
    const scale = scaleOf(info);
    const slider = h('input', {
      ...common, type: 'range',
      min: scale.steps ? 0 : info.minimum,
      max: scale.steps ? scale.steps : info.maximum,
      step: scale.steps ? 1 : scale.step,
    });
    const number = h('input', {
      type: 'number', id: `${id}-value`, min: info.minimum, max: info.maximum,
      step: scale.step, inputmode: 'decimal', 'aria-label': `${label(name)} value`,
      'aria-describedby': `${id}-error`, 'data-control-value': name,
    });
    const fromSlider = () => scale.fromSlider(Number(slider.value));
    slider.addEventListener('input', () => { number.value = fromSlider(); onInput(name, fromSlider(), false); });
    slider.addEventListener('change', () => onInput(name, fromSlider(), true));
    number.addEventListener('change', () => {
      const v = Number(number.value);
      if (number.value === '' || !Number.isFinite(v)) return;
      slider.value = scale.toSlider(v);
      onInput(name, t === 'integer' ? Math.round(v) : v, true);
    });
    const row = h('div', { class: 'control control-range' },
      h('label', { for: id }, label(name)),
      h('div', { class: 'range-line' }, slider, number),
      error);
    return {
      row, error, inputs: [slider, number],
      set: (v) => { slider.value = scale.toSlider(Number(v)); number.value = v; },
    };
  }

  // Arrays and unbounded values: shown, not edited here (the API takes them).
  const value = h('code', {}, '—');
  const row = h('div', { class: 'control' }, h('span', { class: 'control-name' }, label(name)), value, error);
  return { row, error, inputs: [], set: (v) => { value.textContent = JSON.stringify(v); } };
}

/** The control a 422's sentence is about, if it names one of `names`. */
function blame(detail, names) {
  const hit = names.filter((n) => new RegExp(`\\b${n}\\b`).test(detail));
  return hit.length ? hit : names;
}

export async function mount(root, ctx) {
  const body = root.querySelector('[data-body]');
  const signIn = h('p', { class: 'needs-login' }, 'Sign in to adjust the camera.');
  const content = h('div', { class: 'controls-content' });
  body.replaceChildren(signIn, content);

  let rows = new Map();
  let specs = {};
  let loaded = false;

  function showError(names, text) {
    for (const n of names) { const r = rows.get(n); if (r) r.error.textContent = text; }
  }
  function clearErrors(names) { showError(names, ''); }

  function applyGoverned(values) {
    for (const [auto, governed] of Object.entries(GOVERNED)) {
      const on = values[auto];
      for (const n of governed) {
        const r = rows.get(n);
        if (!r) continue;
        for (const input of r.inputs) input.disabled = Boolean(on);
        r.row.classList.toggle('governed', Boolean(on));
      }
    }
  }

  const current = {};
  function setValues(values, skip = []) {
    for (const [n, v] of Object.entries(values)) {
      if (!rows.has(n) || skip.includes(n)) continue;
      current[n] = v;
      rows.get(n).set(v);
    }
    applyGoverned(current);
  }

  function failed(names, answer) {
    if (ctx.api.needsLogin(answer)) { ctx.session.lost(); return; }
    showError(blame(answer.detail, names), answer.detail);
  }

  const patch = sender((controls) => ctx.api.send('PATCH', '/camera/controls', { controls }), {
    onAnswer(sent, answer) {
      const names = Object.keys(sent);
      if (answer.ok) {
        clearErrors(names);
        // Only switches and selects follow the answer: a slider keeps what the user set
        // (the camera reports the exposure it really used, which may be shorter).
        const echo = {};
        for (const n of names) if (specs[n] && specs[n].value_type !== 'integer' && specs[n].value_type !== 'number') echo[n] = answer.data.values[n];
        setValues(echo, patch.pendingNames());
        root.dataset.applied = String(Number(root.dataset.applied || 0) + 1);
      } else {
        failed(names, answer);
        reload();
      }
    },
    onWait(seconds, sent) {
      showError(Object.keys(sent), `Too many changes: the camera takes more in ${seconds} s.`);
    },
  });

  function onInput(name, value, soon) {
    current[name] = value;
    if (GOVERNED[name]) applyGoverned(current);
    patch.set({ [name]: value }, soon);
  }

  // Focus: PUT /camera/focus with a mode and, in manual, a lens position.
  function focusSection(controls, values) {
    if (!controls.AfMode) return null;
    const lens = controls.LensPosition;
    const error = h('p', { class: 'form-error control-error', id: 'focus-error', role: 'status' });
    const modes = ['continuous', 'auto', 'manual'];
    const select = h('select', { id: 'focus-mode', 'aria-describedby': 'focus-error' },
      modes.map((m) => h('option', { value: m }, m)));
    select.value = modes.includes(values.AfMode) ? values.AfMode : 'continuous';
    const once = h('button', { type: 'button', class: 'secondary small', 'data-focus-once': '' }, 'Focus once');
    let lensRow = null;
    const focus = sender((req) => ctx.api.send('PUT', '/camera/focus', req), {
      onAnswer(_, answer) {
        if (answer.ok) error.textContent = '';
        else if (ctx.api.needsLogin(answer)) ctx.session.lost();
        else error.textContent = answer.detail;
      },
      onWait(seconds) { error.textContent = `Too many changes: the camera takes more in ${seconds} s.`; },
    });
    const sync = () => {
      if (lensRow) for (const input of lensRow.inputs) input.disabled = select.value !== 'manual';
      once.hidden = select.value !== 'auto';
    };
    select.addEventListener('change', () => {
      sync();
      const req = { mode: select.value };
      if (select.value === 'manual' && lensRow) req.lens_position = Number(lensRow.inputs[1].value);
      focus.set(req, true);
    });
    once.addEventListener('click', () => focus.set({ mode: 'auto', trigger_cycle: true }, true));
    const parts = [h('div', { class: 'control' }, h('label', { for: 'focus-mode' }, 'Focus mode'), select, once)];
    if (lens) {
      lensRow = controlRow('LensPosition', lens, (_, v, soon) => {
        focus.set({ mode: 'manual', lens_position: v, trigger_cycle: false }, soon);
      });
      lensRow.set(values.LensPosition ?? lens.default);
      parts.push(lensRow.row);
    }
    parts.push(error);
    sync();
    return h('fieldset', { class: 'focus' }, h('legend', {}, 'Focus'), parts);
  }

  async function reload() {
    const r = await ctx.api.get('/camera/controls');
    if (!r.ok) {
      if (ctx.api.needsLogin(r)) ctx.session.lost();
      else content.replaceChildren(h('p', { class: 'form-error' }, r.detail));
      return;
    }
    if (loaded) { setValues(r.data.values, patch.pendingNames()); return; }
    loaded = true;
    build(r.data);
  }

  function build(view) {
    specs = view.controls || {};
    const names = Object.keys(specs).filter((n) => !FOCUS.has(n) && !specs[n].read_only);
    names.sort((a, b) => {
      const ia = ORDER.indexOf(a); const ib = ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    rows = new Map(names.map((n) => [n, controlRow(n, specs[n], onInput)]));
    if (!names.length) {
      content.replaceChildren(h('p', { class: 'muted' }, 'This camera has no controls picamd can change.'));
      return;
    }
    const reset = h('button', { type: 'button', class: 'secondary', 'data-reset': '' }, 'Reset to defaults');
    reset.addEventListener('click', () => {
      const defaults = {};
      for (const n of names) if (specs[n].default !== null) defaults[n] = specs[n].default;
      setValues(defaults);
      patch.set(defaults, true);
    });
    const main = names.filter((n) => ORDER.includes(n));
    const more = names.filter((n) => !ORDER.includes(n));
    const isSwitch = (n) => specs[n].value_type === 'boolean';
    content.replaceChildren(...[
      h('div', { class: 'control-switches' }, main.filter(isSwitch).map((n) => rows.get(n).row)),
      h('div', { class: 'control-list' }, main.filter((n) => !isSwitch(n)).map((n) => rows.get(n).row)),
      more.length ? h('details', { class: 'more-controls' }, h('summary', {}, `More controls (${more.length})`),
        more.map((n) => rows.get(n).row)) : null,
      focusSection(view.controls, view.values),
      h('p', { class: 'hint' }, 'Changes apply as you move a control: about once a second while it moves, and when you let go.'),
      h('div', { class: 'actions' }, reset),
    ].filter(Boolean));
    setValues(view.values);
  }

  ctx.session.onChange(({ known, authed }) => {
    signIn.hidden = !known || authed;
    content.hidden = !authed;
    if (authed) reload();
    else { loaded = false; content.replaceChildren(); }
  });
}
