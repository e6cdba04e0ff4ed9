// Builds DOM nodes from data: text always goes in as text nodes, never as HTML.

/**
 * h('a', { href: '/x', class: 'link', dataset: { id: '1' }, on: { click: fn } }, 'text', child)
 * Children may be strings, numbers, nodes, arrays of them, or null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (name === 'hidden' || name === 'open' || name === 'disabled' || name === 'required') el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Only web and same-site links; anything else (javascript:, data:) stays text. */
export function safeHref(url) {
  const u = String(url).trim();
  return /^(https?:\/\/|\/(?!\/)|#)/i.test(u) ? u : null;
}

/**
 * A small, safe subset of Markdown for API descriptions: paragraphs, "- " lists, `code`,
 * **bold** and [links](https://…). Everything else is shown as written.
 */
export function markdown(text) {
  const frag = document.createDocumentFragment();
  const blocks = String(text || '').replace(/\r\n?/g, '\n').split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (!lines.length) continue;
    if (lines.every((l) => /^\s*[-*] /.test(l))) {
      frag.append(h('ul', {}, lines.map((l) => h('li', {}, inline(l.replace(/^\s*[-*] /, ''))))));
    } else {
      frag.append(h('p', {}, inline(lines.join(' '))));
    }
  }
  return frag;
}

function inline(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h('code', {}, m[1]));
    else if (m[2] !== undefined) out.push(h('strong', {}, m[2]));
    else {
      const href = safeHref(m[4]);
      out.push(href ? h('a', { href, rel: 'noopener noreferrer' }, m[3]) : `${m[3]} (${m[4]})`);
    }
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
