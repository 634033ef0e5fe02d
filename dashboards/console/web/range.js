// The time range and auto-refresh every view applies, kept in the URL's
// query string so that a view can be shared by link:
//
//   ?range=24h                          the last 24 hours (15m ... 90d)
//   ?from=2026-12-01T00:00:00Z&to=...   an absolute range (RFC 3339)
//   &refresh=1m                         reload the data every minute
//
// A view asks timeWindow() for the times to query and the bucket width of
// its time series; whole hours and days let the store answer from its
// rollups instead of its events.

const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const RANGES = [
  { key: '15m', label: 'Last 15 minutes', ms: 15 * MINUTE },
  { key: '1h', label: 'Last hour', ms: HOUR },
  { key: '6h', label: 'Last 6 hours', ms: 6 * HOUR },
  { key: '24h', label: 'Last 24 hours', ms: DAY },
  { key: '7d', label: 'Last 7 days', ms: 7 * DAY },
  { key: '30d', label: 'Last 30 days', ms: 30 * DAY },
  { key: '90d', label: 'Last 90 days', ms: 90 * DAY },
];

export const DEFAULT_RANGE = '24h';

export const REFRESHES = [
  { key: 'off', label: 'Auto-refresh off', ms: 0 },
  { key: '30s', label: 'Every 30 seconds', ms: 30e3 },
  { key: '1m', label: 'Every minute', ms: MINUTE },
  { key: '5m', label: 'Every 5 minutes', ms: 5 * MINUTE },
];

// The widest absolute range a view may ask for.
const MAX_SPAN = 366 * DAY;

// parseState reads the range and refresh of a query string. A value it
// cannot read falls back to the default, with a message in `problem`.
export function parseState(search) {
  const q = new URLSearchParams(search);
  const st = { range: DEFAULT_RANGE, from: null, to: null, refresh: 'off', problem: '' };
  const refresh = q.get('refresh');
  if (refresh !== null) {
    if (REFRESHES.some((r) => r.key === refresh)) st.refresh = refresh;
    else st.problem = `unknown refresh "${refresh}"`;
  }
  const from = q.get('from');
  const to = q.get('to');
  if (from !== null || to !== null) {
    const f = parseTime(from);
    const t = parseTime(to);
    if (f === null || t === null) {
      st.problem = 'from and to must both be times like 2026-12-01T00:00:00Z';
    } else if (t <= f || t - f > MAX_SPAN) {
      st.problem = 'to must be after from, at most 366 days later';
    } else {
      st.range = 'custom';
      st.from = new Date(f);
      st.to = new Date(t);
      return st;
    }
  }
  const range = q.get('range');
  if (range !== null) {
    if (RANGES.some((r) => r.key === range)) st.range = range;
    else st.problem = `unknown range "${range}"`;
  }
  return st;
}

// parseTime reads an RFC 3339 time (or null); null when it is not one.
function parseTime(s) {
  if (s === null || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

// toSearch writes st back as a query string, keeping other parameters
// of base.
export function toSearch(st, base) {
  const q = new URLSearchParams(base || '');
  q.delete('range');
  q.delete('from');
  q.delete('to');
  q.delete('refresh');
  if (st.range === 'custom') {
    q.set('from', st.from.toISOString());
    q.set('to', st.to.toISOString());
  } else if (st.range !== DEFAULT_RANGE) {
    q.set('range', st.range);
  }
  if (st.refresh !== 'off') q.set('refresh', st.refresh);
  const s = q.toString();
  return s ? '?' + s : '';
}

export function refreshMillis(st) {
  return (REFRESHES.find((r) => r.key === st.refresh) || REFRESHES[0]).ms;
}

// bucketFor is the width of a time series' buckets over span ms: about
// 50 to 400 points.
export function bucketFor(span) {
  if (span <= HOUR) return { ms: MINUTE, param: '1m' };
  if (span <= 6 * HOUR) return { ms: 5 * MINUTE, param: '5m' };
  if (span <= 2 * DAY) return { ms: HOUR, param: '1h' };
  if (span <= 8 * DAY) return { ms: 6 * HOUR, param: '6h' };
  return { ms: DAY, param: '1d' };
}

// timeWindow returns what a view queries for st at now: since and until
// (Dates), the bucket, and a label. Ranges of a day or more are widened
// to whole hours, a week or more to whole days (UTC), which the store's
// rollups answer.
export function timeWindow(st, now) {
  let since;
  let until;
  if (st.range === 'custom') {
    since = st.from.getTime();
    until = st.to.getTime();
  } else {
    const r = RANGES.find((x) => x.key === st.range) || RANGES.find((x) => x.key === DEFAULT_RANGE);
    until = now.getTime();
    since = until - r.ms;
  }
  const span = until - since;
  const unit = span >= 7 * DAY ? DAY : span >= DAY ? HOUR : 0;
  if (unit) {
    since = Math.floor(since / unit) * unit;
    until = Math.ceil(until / unit) * unit;
  }
  const bucket = bucketFor(until - since);
  return { since: new Date(since), until: new Date(until), bucket, label: label(st) };
}

function label(st) {
  if (st.range === 'custom') return 'Absolute range';
  return (RANGES.find((r) => r.key === st.range) || {}).label || st.range;
}

// buckets lists the starts (ms) of the buckets of width ms that cover
// [since, until), aligned as the store aligns them (to the epoch).
export function buckets(since, until, ms) {
  const out = [];
  for (let t = Math.floor(since.getTime() / ms) * ms; t < until.getTime(); t += ms) out.push(t);
  return out;
}
