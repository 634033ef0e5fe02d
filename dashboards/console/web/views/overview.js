// The overview: events over time by topic, open alerts by severity, top
// users by transfers, the sinks' state and lag, and the quarantine's
// size. Counts come from the stats API, which answers ranges of whole
// hours and days from the store's rollups.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h, replace, count } from '../dom.js';
import { timeWindow, buckets } from '../range.js';

const SEVERITIES = ['critical', 'high', 'medium', 'low'];
// Open alerts are counted from this many pages of the alerts list at most.
const ALERT_PAGES = 5;
const ALERT_PAGE = 1000;
const QUARANTINE_PAGE = 1000;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563'];

export async function render(root, ctx) {
  const { api, state, session, now } = ctx;
  const w = timeWindow(state, now);
  const span = { since: w.since.toISOString(), until: w.until.toISOString() };

  const [topics, transfers, alerts, sinks, quarantine] = await Promise.allSettled([
    eventsByTopic(api, span, w),
    api.get('/audit/v1/stats', { ...span, event: 'file.transfer', by: 'user', top: '10' }),
    openAlerts(api),
    api.get('/audit/v1/sinks'),
    session.role === 'admin' ? api.get('/audit/v1/quarantine', { limit: String(QUARANTINE_PAGE) }) : Promise.resolve(null),
  ]);
  if (!ctx.current()) return;

  const chart = h('div', { class: 'chart', 'data-chart': 'events-by-topic' });
  replace(root,
    h('h1', {}, 'Overview'),
    h('p', { class: 'window' }, w.label, ': ', h('time', { 'data-since': span.since }, span.since), ' to ',
      h('time', { 'data-until': span.until }, span.until), ' (UTC)'),
    h('div', { class: 'grid' },
      panel('events', 'Events by topic', topics, (t) => eventsPanel(t, chart), 'wide'),
      panel('alerts', 'Open alerts', alerts, alertsPanel),
      panel('top-users', 'Top users by transfers', transfers, topUsersPanel),
      panel('sinks', 'Sinks', sinks, sinksPanel),
      panel('quarantine', 'Quarantine', quarantine, quarantinePanel)));
  if (topics.status === 'fulfilled') drawChart(chart, topics.value, w);
}

// panel is a section with a title and what body makes of a settled
// call: its value, or the error it failed with.
function panel(name, title, settled, body, wide) {
  let content;
  if (settled.status === 'rejected') {
    content = h('p', { class: 'error', role: 'alert', 'data-error': name }, settled.reason.message);
  } else {
    content = body(settled.value);
  }
  return h('section', { class: wide ? 'panel wide' : 'panel', 'data-panel': name }, h('h2', {}, title), content);
}

// eventsByTopic counts the range's events per topic, then each topic's
// time series.
async function eventsByTopic(api, span, w) {
  const totals = await api.get('/audit/v1/stats', { ...span, by: 'topic', top: '50' });
  const top = totals.top || [];
  const series = await Promise.all(top.map((t) =>
    api.get('/audit/v1/stats', { ...span, topic: t.value, bucket: w.bucket.param })));
  return { total: totals.total, top, series };
}

function eventsPanel(t, chart) {
  return [
    h('p', { class: 'big' }, count(t.total, { 'data-metric': 'events-total' }), ' events'),
    chart,
    h('table', { 'data-table': 'topics' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Topic'), h('th', { scope: 'col', class: 'n' }, 'Events'))),
      h('tbody', {}, t.top.length === 0 ? h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No events in this range.')) :
        t.top.map((c) => h('tr', { 'data-topic': c.value }, h('td', {}, c.value), h('td', { class: 'n' }, count(c.count)))))),
  ];
}

function drawChart(el, t, w) {
  if (t.top.length === 0) {
    el.replaceChildren();
    return;
  }
  const xs = buckets(w.since, w.until, w.bucket.ms);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs.map((x) => x / 1000)];
  t.series.forEach((s) => {
    const ys = new Array(xs.length).fill(0);
    for (const b of s.buckets || []) {
      const i = index.get(Date.parse(b.start));
      if (i !== undefined) ys[i] = b.count;
    }
    data.push(ys);
  });
  const opts = {
    width: Math.max(320, el.clientWidth || 800),
    height: 240,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }],
    series: [{ label: 'Time' }, ...t.top.map((c, i) => ({
      label: c.value, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: false },
    }))],
  };
  el.replaceChildren();
  new uPlot(opts, data, el);
}

// openAlerts counts the open alerts by severity, from at most
// ALERT_PAGES pages; more says there were more.
async function openAlerts(api) {
  const by = {};
  let total = 0;
  let cursor = '';
  for (let page = 0; page < ALERT_PAGES; page++) {
    const params = { state: 'open', limit: String(ALERT_PAGE) };
    if (cursor) params.cursor = cursor;
    const res = await api.get('/audit/v1/alerts', params);
    for (const a of res.alerts || []) {
      by[a.severity] = (by[a.severity] || 0) + 1;
      total++;
    }
    cursor = res.next_cursor || '';
    if (!cursor) return { by, total, more: false };
  }
  return { by, total, more: true };
}

function alertsPanel(a) {
  const names = [...SEVERITIES, ...Object.keys(a.by).filter((s) => !SEVERITIES.includes(s)).sort()];
  return [
    h('p', { class: 'big' }, count(a.total, { 'data-metric': 'alerts-open' }), a.more ? '+' : '', ' open'),
    h('ul', { class: 'severities' }, names.map((s) =>
      h('li', { class: 'sev sev-' + s.replace(/[^a-z]/g, ''), 'data-severity': s }, h('span', { class: 'label' }, s), ' ',
        count(a.by[s] || 0, { 'data-metric': 'alerts-open-' + s })))),
  ];
}

function topUsersPanel(st) {
  const top = st.top || [];
  return [
    h('p', { class: 'big' }, count(st.total, { 'data-metric': 'transfers-total' }), ' transfers'),
    h('table', { 'data-table': 'top-users' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col', class: 'n' }, 'Transfers'))),
      h('tbody', {}, top.length === 0 ? h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No transfers in this range.')) :
        top.map((c) => h('tr', { 'data-user': c.value }, h('td', { class: 'user' }, c.value), h('td', { class: 'n' }, count(c.count)))))),
  ];
}

function sinksPanel(res) {
  const sinks = res.sinks || [];
  if (sinks.length === 0) return h('p', { class: 'empty', 'data-metric': 'sinks-none' }, 'No sinks are configured.');
  return h('table', { 'data-table': 'sinks' },
    h('thead', {}, h('tr', {}, ['Sink', 'Kind', 'State', 'Lag', 'Dead letters'].map((c, i) =>
      h('th', { scope: 'col', class: i >= 3 ? 'n' : undefined }, c)))),
    h('tbody', {}, sinks.map((s) => h('tr', { 'data-sink': s.name },
      h('td', {}, s.name), h('td', {}, s.kind),
      h('td', {}, h('span', { class: 'state state-' + String(s.state).replace(/[^a-z]/g, ''), 'data-state': s.state }, s.state)),
      h('td', { class: 'n' }, s.lag_error ? h('span', { class: 'error', title: s.lag_error }, '?') : count(s.lag, { 'data-metric': 'sink-lag' })),
      h('td', { class: 'n' }, count(s.dead_lettered || 0))))));
}

function quarantinePanel(res) {
  if (res === null) return h('p', { class: 'empty', 'data-metric': 'quarantine-hidden' }, 'Only admins see the quarantine.');
  const n = (res.events || []).length;
  return h('p', { class: 'big' }, count(n, { 'data-metric': 'quarantine-size' }), n >= QUARANTINE_PAGE ? '+' : '', ' waiting');
}
