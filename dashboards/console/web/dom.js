// Building the document without markup: every value becomes a text node
// or an attribute set through the DOM, never HTML, so that a value from
// an event (a user name, a path, a sink name) is shown, not run.

// Attributes h may set from a value. Event handlers go through `on`, and
// links through `href`, which takes only same-origin paths.
const plainAttributes = new Set(['class', 'id', 'title', 'role', 'type', 'name', 'value', 'for', 'colspan', 'scope',
  'aria-label', 'aria-live', 'aria-current', 'aria-busy', 'min', 'max', 'step', 'placeholder', 'hidden', 'selected',
  'disabled', 'checked']);

// h returns a new element: attrs sets attributes (plain ones, data-*,
// href), `on` its event listeners; children are nodes, or values shown as
// text (null and undefined are skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
    } else if (k === 'href') {
      el.setAttribute('href', safeHref(v));
    } else if (plainAttributes.has(k) || k.startsWith('data-')) {
      el.setAttribute(k, v === true ? '' : String(v));
    } else {
      throw new Error('h: attribute not allowed: ' + k);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// safeHref keeps a link on this server: a path beginning with one "/",
// else "#".
export function safeHref(v) {
  const s = String(v);
  return s.startsWith('/') && !s.startsWith('//') && !s.startsWith('/\\') ? s : '#';
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// formatCount writes an integer with thousands separators.
export function formatCount(n) {
  return Number(n).toLocaleString('en-US');
}

// count is an element showing n, for people (text) and tests
// (data-value).
export function count(n, attrs) {
  return h('span', { class: 'num', 'data-value': String(n), ...attrs }, formatCount(n));
}
