// The console's entry: reads who is signed in from the page, builds the
// time-range picker, loads the view's module and renders it, again on
// every change of the range and on each auto-refresh tick.

import { API } from './api.js';
import { h, replace } from './dom.js';
import { RANGES, REFRESHES, parseState, toSearch, refreshMillis } from './range.js';

// The views' modules by name (the body's data-view, set by the server).
const views = {
  overview: () => import('./views/overview.js'),
};

const body = document.body;
const session = { user: body.dataset.user, role: body.dataset.role, csrf: body.dataset.csrf };
const signIn = () => location.assign('/signin?return_to=' + encodeURIComponent(location.pathname + location.search));
const api = new API(session.csrf, signIn);
const root = document.getElementById('view');

let state = parseState(location.search);
let timer = 0;
let generation = 0;
let view = null;

// render draws the view for the current state. A render that a newer one
// overtook leaves the page to the newer one.
async function render() {
  const mine = ++generation;
  root.setAttribute('aria-busy', 'true');
  try {
    await view.render(root, { api, state, session, now: new Date(), current: () => mine === generation });
  } catch (e) {
    if (mine === generation) replace(root, h('p', { class: 'error', role: 'alert' }, 'The view could not load: ' + e.message));
  } finally {
    if (mine === generation) {
      root.setAttribute('aria-busy', 'false');
      body.dataset.rendered = String(mine);
    }
  }
}

function schedule() {
  clearInterval(timer);
  const ms = refreshMillis(state);
  if (ms > 0) timer = setInterval(render, ms);
}

// navigate applies a new state: the URL, the links, the picker, the data.
function navigate(next) {
  state = next;
  const search = toSearch(state, location.search);
  history.pushState(null, '', location.pathname + search);
  sync();
  schedule();
  render();
}

// sync shows state in the picker and carries it in the view links.
function sync() {
  const search = toSearch(state, '');
  for (const a of document.querySelectorAll('a[data-view-link]')) {
    a.setAttribute('href', a.pathname + search);
  }
  picker.range.value = state.range;
  picker.refresh.value = state.refresh;
  picker.custom.hidden = state.range !== 'custom';
  if (state.range === 'custom') {
    picker.from.value = toLocalInput(state.from);
    picker.to.value = toLocalInput(state.to);
  }
  picker.problem.textContent = state.problem;
}

// Times in the picker are UTC, as the events' are.
function toLocalInput(d) {
  return d.toISOString().slice(0, 16);
}

function fromLocalInput(v) {
  return v ? new Date(v + ':00Z') : null;
}

const picker = buildPicker();

function buildPicker() {
  const range = h('select', { id: 'range', 'aria-label': 'Time range', on: { change: onRange } },
    RANGES.map((r) => h('option', { value: r.key }, r.label)), h('option', { value: 'custom' }, 'Absolute range…'));
  const from = h('input', { id: 'from', type: 'datetime-local', 'aria-label': 'From (UTC)' });
  const to = h('input', { id: 'to', type: 'datetime-local', 'aria-label': 'To (UTC)' });
  const apply = h('button', { type: 'button', id: 'apply', on: { click: onApply } }, 'Apply');
  const custom = h('span', { class: 'custom', hidden: true }, from, ' to ', to, ' UTC ', apply);
  const refresh = h('select', { id: 'refresh', 'aria-label': 'Auto-refresh', on: { change: onRefresh } },
    REFRESHES.map((r) => h('option', { value: r.key }, r.label)));
  const problem = h('span', { class: 'problem', role: 'status' });
  replace(document.getElementById('timerange'), range, custom, refresh, problem);
  return { range, from, to, custom, refresh, problem };
}

function onRange() {
  const v = picker.range.value;
  if (v === 'custom') {
    // Start from the window shown now, for the user to adjust.
    const now = Date.now();
    const r = RANGES.find((x) => x.key === state.range);
    const from = state.range === 'custom' ? state.from : new Date(now - (r ? r.ms : 86400e3));
    const to = state.range === 'custom' ? state.to : new Date(now);
    picker.from.value = toLocalInput(from);
    picker.to.value = toLocalInput(to);
    picker.custom.hidden = false;
    return;
  }
  navigate({ ...state, range: v, from: null, to: null, problem: '' });
}

function onApply() {
  const from = fromLocalInput(picker.from.value);
  const to = fromLocalInput(picker.to.value);
  if (!from || !to || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from) {
    picker.problem.textContent = 'Choose a start before the end.';
    return;
  }
  navigate({ ...state, range: 'custom', from, to, problem: '' });
}

function onRefresh() {
  navigate({ ...state, refresh: picker.refresh.value });
}

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await api.post('/auth/signout');
  } finally {
    location.assign('/signin');
  }
});

window.addEventListener('popstate', () => {
  state = parseState(location.search);
  sync();
  schedule();
  render();
});

async function start() {
  const load = views[body.dataset.view];
  if (!load) {
    replace(root, h('p', { class: 'error', role: 'alert' }, 'No such view: ' + body.dataset.view));
    return;
  }
  view = await load();
  sync();
  schedule();
  await render();
}

start();
