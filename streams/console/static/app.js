// leadscore console: one script for every page; the view is chosen from location.pathname.
// Data is untrusted (lead ids, names): nodes are built with createElement and textContent only.
'use strict';

// ---- DOM helpers ------------------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

function appendAll(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child)); // strings become text nodes
  }
  return node;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  return appendAll(node, children);
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  return appendAll(node, children);
}

const viewNode = () => document.getElementById('view');

function replaceContent(node, ...children) {  // like replaceChildren, skipping null/false
  node.replaceChildren();
  return appendAll(node, children);
}

const setView = (...children) => replaceContent(viewNode(), ...children);

// ---- formatting ---------------------------------------------------------------------------

const TIME_OPTIONS = { dateStyle: 'short', timeStyle: 'short' };

function fmtTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, TIME_OPTIONS);
}

const timeEl = (iso) => el('time', { datetime: iso || null }, fmtTime(iso));

function fmtPct(value, digits = 0) {
  return value == null ? '—' : `${(value * 100).toFixed(digits)}%`;
}

function fmtPoints(points) {
  const rounded = Math.round(Number(points) * 10) / 10;
  if (!rounded) return '0';
  return (rounded > 0 ? '+' : '') + String(rounded);
}

function fmtNum(value, digits = 2) {
  return value == null ? '—' : String(Math.round(value * 10 ** digits) / 10 ** digits);
}

function factorLabel(name) {
  const page = /^page\.(.+)$/.exec(name || '');
  return page ? `${page[1]} page` : String(name);
}

function causeText(change) {
  switch (change.cause) {
    case 'event': return [change.event_type, change.event_id].filter(Boolean).join(' ') || 'event';
    case 'model': return 'model change';
    default: return String(change.cause);
  }
}

const leadHref = (id) => `/leads/${encodeURIComponent(id)}`;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, Number(v) || 0));

// ---- small shared widgets -----------------------------------------------------------------

const leadLink = (id) => el('a', { class: 'lead-link', href: leadHref(id) }, id);
const stagePill = (stage) => el('span', { class: `pill stage-${stage}` }, stage || '—');
const flagBadge = (flag) => el('span', { class: 'flag' }, flag);
const note = (text, cls = 'note') => el('p', { class: cls }, text);

function scoreBar(score) {
  return el('span', { class: 'score-bar', 'aria-hidden': 'true' },
    el('span', { class: 'score-fill', style: `width:${clamp(score, 0, 100)}%` }));
}

function scoreCell(score) {
  return el('span', { class: 'score' }, el('span', { class: 'score-num' }, score ?? '—'), scoreBar(score));
}

function yesNo(value) {
  if (value == null) return el('span', { class: 'muted' }, '—');
  return el('span', { class: value ? 'yes' : 'no' }, value ? 'yes' : 'no');
}

function table(attrs, caption, headers, rows) {
  return el('table', attrs,
    caption ? el('caption', {}, caption) : null,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows));
}

const row = (cells, attrs) => el('tr', attrs, cells.map((c) => el('td', {}, c)));

// ---- API access, errors and login -------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readJson(response) {
  try { return await response.json(); } catch (_) { return {}; }
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' }, ...options });
  } catch (_) {
    throw new ApiError(0, 'The console server is unreachable; retrying on the next update.');
  }
  if (response.ok) return response.status === 204 ? null : response.json();
  const body = await readJson(response);
  throw new ApiError(response.status, body.error || `${response.status} ${response.statusText}`);
}

async function quietApi(path) {  // optional data: any failure is just "not known"
  try { return await api(path); } catch (_) { return null; }
}

function handleError(err) {
  if (err.status === 401) return showLogin(err.message);
  if (err.status === 403) return showBlocked(err.message);
  if (!(err instanceof ApiError)) console.error(err);
  return showNotice(err.message || 'Something went wrong.');
}

function showNotice(text) {
  const view = viewNode();
  let box = document.getElementById('view-error');
  if (!box) {
    box = el('p', { id: 'view-error', class: 'notice error', role: 'alert' });
    view.prepend(box);
  }
  box.textContent = text;
}

function clearNotice() {
  document.getElementById('view-error')?.remove();
}

function showBlocked(message) {
  state.blocked = true;
  setView(
    el('h1', {}, 'Access denied'),
    el('p', { class: 'notice error', role: 'alert' }, message || 'This token may not see this page.'));
}

function showLogin(message) {
  state.blocked = true;
  const error = el('p', { class: 'error', role: 'alert', hidden: true });
  const input = el('input', { id: 'login-token', name: 'token', type: 'password', required: true, autocomplete: 'current-password' });
  const form = el('form', { id: 'login', class: 'card login', onsubmit: (e) => submitLogin(e, input, error) },
    el('h1', {}, 'Sign in'),
    el('p', { class: 'muted' }, message || 'This console needs an API token.'),
    el('label', { for: 'login-token' }, 'API token'),
    input,
    el('button', { type: 'submit' }, 'Sign in'),
    error);
  setView(form);
  input.focus();
}

async function submitLogin(event, input, error) {
  event.preventDefault();
  error.hidden = true;
  try {
    const response = await fetch('/api/login', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: input.value }),
    });
    if (response.status === 204) { location.reload(); return; }
    error.textContent = (await readJson(response)).error || `login failed (${response.status})`;
  } catch (_) {
    error.textContent = 'The console server is unreachable.';
  }
  error.hidden = false;
}

// ---- state, status line and live updates (SSE) -------------------------------------------

const state = {
  summary: null,          // GET /api/summary, counts updated by ticks
  sse: 'connecting',      // connecting | live | reconnecting
  blocked: false,         // login form or 403 shown: no more refreshes
  view: null,             // {refresh, interval, onAlert, lastRun, timer, busy, dirty}
  lastSummary: 0,
};

function renderStatus() {
  const s = state.summary;
  const parts = [];
  if (s) {
    parts.push(`${s.leads} leads`, `${s.accounts} accounts`, `model ${s.model_version || 'none'}`);
    if (s.caught_up === false) parts.push('catching up');
  }
  parts.push(state.sse);
  const status = document.getElementById('status');
  status.textContent = parts.join(' · ');
  status.dataset.sse = state.sse;
}

async function loadSummary() {
  state.lastSummary = Date.now();
  state.summary = await api('/api/summary');
  renderStatus();
}

function connectStream() {
  const source = new EventSource('/api/stream');
  source.addEventListener('open', () => { state.sse = 'live'; renderStatus(); });
  source.addEventListener('error', () => {
    state.sse = 'reconnecting';
    renderStatus();
    if (source.readyState === EventSource.CLOSED) setTimeout(connectStream, 5000); // refused: retry ourselves
  });
  source.addEventListener('tick', (e) => onTick(parseEvent(e)));
  source.addEventListener('alert', (e) => onAlert(parseEvent(e)));
}

function parseEvent(event) {
  try { return JSON.parse(event.data); } catch (_) { return null; }
}

function onTick(tick) {
  if (!tick) return;
  if (state.summary) {
    for (const key of ['leads', 'accounts', 'alerts']) if (tick[key] != null) state.summary[key] = tick[key];
    if (!state.summary.caught_up && Date.now() - state.lastSummary > 5000) loadSummary().catch(() => {});
  }
  state.sse = 'live';
  renderStatus();
  scheduleRefresh();
}

function onAlert(alert) {
  if (alert && state.view && state.view.onAlert && !state.blocked) state.view.onAlert(alert);
}

// Re-fetch the current view on ticks, at most once per view.interval, keeping the last tick.
function scheduleRefresh() {
  const view = state.view;
  if (!view || !view.refresh || state.blocked || view.timer) return;
  if (view.busy) { view.dirty = true; return; }
  const wait = Math.max(0, view.lastRun + view.interval - Date.now());
  view.timer = setTimeout(() => runRefresh(view), wait);
}

async function runRefresh(view) {
  view.timer = null;
  if (state.blocked || state.view !== view) return;
  view.busy = true;
  view.lastRun = Date.now();
  try {
    await view.refresh();
    clearNotice();
  } catch (err) {
    handleError(err);
  } finally {
    view.busy = false;
  }
  if (view.dirty) { view.dirty = false; scheduleRefresh(); }
}

// ---- alerts feed (leaderboard side panel, alerts page, lead page) ------------------------

function alertItem(alert) {
  const contact = alert.contact;
  const target = alert.kind === 'account'
    ? [el('a', { class: 'account-link', href: '/accounts' }, `account ${alert.account_id}`),
      (alert.top_leads || []).length ? el('span', { class: 'top-leads' }, ' (',
        alert.top_leads.map((l, i) => [i ? ', ' : '', leadLink(l.lead_id)]), ')') : null]
    : leadLink(alert.lead_id);
  return el('li', { class: `alert kind-${alert.kind}`, 'data-alert-id': alert.alert_id },
    el('div', { class: 'alert-head' },
      el('span', { class: `pill stage-${alert.threshold}` }, `${alert.threshold} ${alert.level ?? ''}`.trim()),
      el('span', { class: 'alert-score' }, `${alert.previous_score ?? '—'} → ${alert.score}`),
      target),
    el('div', { class: 'alert-meta muted' },
      timeEl(alert.occurred_at),
      contact ? [' · ', [contact.name, contact.job_title, contact.company].filter(Boolean).join(', ')] : null,
      contact && contact.email ? [' · ', el('span', { class: 'email' }, contact.email)] : null,
      alert.contactable === false ? [' ', el('span', { class: 'badge' }, 'not contactable')] : null));
}

function alertFeed(id, cap) {
  const list = el('ul', { id, class: 'alerts-feed', 'aria-live': 'polite' });
  const empty = note('no alerts yet', 'muted feed-empty');
  const sync = () => { empty.hidden = list.children.length > 0; };
  const fill = (alerts) => { list.replaceChildren(...alerts.slice(0, cap).map(alertItem)); sync(); };
  const prepend = (alert) => {
    const known = [...list.children].some((li) => li.dataset.alertId === String(alert.alert_id));
    if (known) return;
    list.prepend(alertItem(alert));
    while (list.children.length > cap) list.lastElementChild.remove();
    sync();
  };
  sync();
  return { list, empty, fill, prepend };
}

// ---- leaderboard view (/) ------------------------------------------------------------------

const FILTERS = [
  { key: 'stage', label: 'Stage', values: ['new', 'engaged', 'mql', 'sql', 'converted', 'disqualified'] },
  { key: 'grade', label: 'Grade', values: ['A', 'B', 'C', 'D'] },
  { key: 'bot', label: 'Bot flags', values: ['flagged', 'clean'] },
  { key: 'contactable', label: 'Contactable', values: ['yes', 'no'] },
];

function filterSelect(filter, current, onChange) {
  const id = `filter-${filter.key}`;
  const select = el('select', { id, name: filter.key, onchange: onChange },
    el('option', { value: '' }, 'any'),
    filter.values.map((v) => el('option', { value: v, selected: v === current }, v)));
  return el('div', { class: 'field' }, el('label', { for: id }, filter.label), select);
}

function leaderboardRow(lead, index) {
  return el('tr', { 'data-lead-id': lead.lead_id },
    el('td', { class: 'num' }, index + 1),
    el('td', { class: 'lead' }, leadLink(lead.lead_id)),
    el('td', {}, scoreCell(lead.score)),
    el('td', {}, el('span', { class: `grade grade-${lead.grade}` }, lead.grade)),
    el('td', {}, stagePill(lead.stage)),
    el('td', {}, (lead.bot_flags || []).map(flagBadge)),
    el('td', {}, yesNo(lead.contactable)),
    el('td', { class: 'factors' }, (lead.top_factors || []).map((f) =>
      el('span', { class: `factor ${f.points < 0 ? 'neg' : 'pos'}` }, `${factorLabel(f.factor)} ${fmtPoints(f.points)}`))));
}

function leaderboardView() {
  const params = new URLSearchParams(location.search);
  const filters = Object.fromEntries(FILTERS.map((f) => [f.key, params.get(f.key) || '']));
  const caption = el('caption', {}, 'Leads, best score first');
  const tbody = el('tbody');
  const leaderboard = el('table', { id: 'leaderboard' }, caption,
    el('thead', {}, el('tr', {}, ['#', 'Lead', 'Score', 'Grade', 'Stage', 'Bot flags', 'Contactable', 'Top factors']
      .map((h) => el('th', { scope: 'col' }, h)))),
    tbody);
  const emptySlot = el('div');
  const feed = alertFeed('alerts-feed', 10);
  let sequence = 0;

  async function refresh() {
    const mine = ++sequence;
    const query = new URLSearchParams({ ...filters, limit: '50' });
    const data = await api(`/api/leaderboard?${query}`);
    if (mine !== sequence) return; // a newer filter choice is on its way
    tbody.replaceChildren(...data.leads.map(leaderboardRow));
    caption.textContent = `Leads, best score first: ${data.matched} shown of ${data.total}`;
    replaceContent(emptySlot, data.leads.length ? null : el('p', { id: 'leaderboard-empty', class: 'muted' },
      data.total ? 'No lead matches these filters.' : 'No leads yet: scores appear as events arrive.'));
  }

  function onFilter(event) {
    filters[event.target.name] = event.target.value;
    const kept = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    history.replaceState(null, '', kept.toString() ? `/?${kept}` : '/');
    runRefresh(state.view);
  }

  setView(el('div', { class: 'board' },
    el('section', { class: 'board-main', 'aria-labelledby': 'leaderboard-heading' },
      el('h1', { id: 'leaderboard-heading' }, 'Leaderboard'),
      el('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => e.preventDefault() },
        FILTERS.map((f) => filterSelect(f, filters[f.key], onFilter))),
      leaderboard, emptySlot),
    el('aside', { class: 'board-side', 'aria-labelledby': 'feed-heading' },
      el('h2', { id: 'feed-heading' }, 'Latest alerts'), feed.list, feed.empty,
      el('a', { href: '/alerts' }, 'All alerts →'))));

  return {
    interval: 1000, refresh, onAlert: feed.prepend,
    load: () => Promise.all([refresh(), api('/api/alerts?limit=10').then((d) => feed.fill(d.alerts))]),
  };
}

// ---- lead view (/leads/<id>) -------------------------------------------------------------

function factorsChart(factors) {
  const items = [...factors].sort((a, b) => b.points - a.points);
  const W = 720, LABEL = 230, PAD = 52, ROW = 26, TOP = 8;
  const H = TOP * 2 + items.length * ROW;
  const maxPos = Math.max(0, ...items.map((f) => f.points));
  const maxNeg = Math.max(0, ...items.map((f) => -f.points));
  const scale = (W - LABEL - 2 * PAD) / ((maxPos + maxNeg) || 1);
  const zero = LABEL + PAD + maxNeg * scale;
  const chart = svg('svg', { id: 'factors-chart', class: 'chart', viewBox: `0 0 ${W} ${H}`, width: '100%',
    role: 'img', 'aria-label': 'Score factors in points' });
  items.forEach((f, i) => {
    const y = TOP + i * ROW, width = Math.abs(f.points) * scale, neg = f.points < 0;
    const x = neg ? zero - width : zero;
    const label = `${factorLabel(f.factor)} ${fmtPoints(f.points)}`;
    chart.append(
      svg('text', { class: 'label', x: LABEL, y: y + ROW / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, factorLabel(f.factor)),
      svg('rect', { class: `bar ${neg ? 'neg' : 'pos'}`, x, y: y + 5, width: Math.max(width, 1), height: ROW - 10 },
        svg('title', {}, label)),
      svg('text', { class: 'value', x: neg ? x - 5 : x + width + 5, y: y + ROW / 2,
        'text-anchor': neg ? 'end' : 'start', 'dominant-baseline': 'middle' }, fmtPoints(f.points)));
  });
  chart.append(svg('line', { class: 'axis', x1: zero, x2: zero, y1: TOP / 2, y2: H - TOP / 2 }));
  return chart;
}

function historyChart(changes, levels) {
  const points = changes.map((c) => ({ ...c, t: Date.parse(c.changed_at) })).filter((c) => !Number.isNaN(c.t));
  const W = 720, H = 250, L = 40, R = 64, T = 12, B = 30;
  const t0 = Math.min(...points.map((p) => p.t)), t1 = Math.max(...points.map((p) => p.t));
  const x = (t) => (t1 > t0 ? L + ((t - t0) / (t1 - t0)) * (W - L - R) : L + (W - L - R) / 2);
  const y = (s) => T + (1 - clamp(s, 0, 100) / 100) * (H - T - B);
  const chart = svg('svg', { id: 'history-chart', class: 'chart', viewBox: `0 0 ${W} ${H}`, width: '100%',
    role: 'img', 'aria-label': 'Score over time, 0 to 100' });
  for (const level of [0, 25, 50, 75, 100]) {
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(level), y2: y(level) }),
      svg('text', { class: 'tick', x: L - 6, y: y(level), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, level));
  }
  for (const [name, level] of Object.entries(levels || {})) {
    chart.append(svg('line', { class: `threshold threshold-${name}`, x1: L, x2: W - R, y1: y(level), y2: y(level) }),
      svg('text', { class: 'tick threshold-label', x: W - R + 6, y: y(level), 'dominant-baseline': 'middle' }, `${name} ${level}`));
  }
  if (points.length > 1) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
    chart.append(svg('path', { class: 'line', d }));
  }
  for (const p of points) {
    const title = `${fmtTime(p.changed_at)} · ${p.score} · ${p.cause}${p.event_type ? ` ${p.event_type}` : ''}`;
    chart.append(svg('circle', { class: `point cause-${p.cause}`, cx: x(p.t), cy: y(p.score), r: 4.5 }, svg('title', {}, title)));
  }
  if (points.length) {
    const ends = t1 > t0 ? [[t0, 'start'], [t1, 'end']] : [[t0, 'middle']];
    for (const [t, anchor] of ends) {
      chart.append(svg('text', { class: 'tick', x: x(t), y: H - 8, 'text-anchor': anchor }, fmtTime(new Date(t).toISOString())));
    }
  }
  return chart;
}

function historyTable(changes) {
  const rows = [...changes].reverse().map((c) => row([
    timeEl(c.changed_at), scoreCell(c.score), stagePill(c.stage),
    el('span', { title: c.occurred_at ? `event at ${fmtTime(c.occurred_at)}` : null }, causeText(c)),
  ]));
  return table({ id: 'history-table' }, 'Score changes, newest first', ['Time', 'Score', 'Stage', 'Cause'], rows);
}

function card(label, value) {
  return el('div', { class: 'card stat' }, el('div', { class: 'stat-label' }, label), el('div', { class: 'stat-value' }, value));
}

function botFlagsBlock(flags, help) {
  if (!flags.length) return el('div', { id: 'bot-flags' }, note('no bot flags', 'muted'));
  return el('ul', { id: 'bot-flags', class: 'flag-list' }, flags.map((f) =>
    el('li', {}, flagBadge(f), ' ', (help && help[f]) || '')));
}

function renderLead(leadId, data, levels) {
  if (state.blocked) return; // the login form or a refusal is showing
  const s = data.current || data.lead || {};
  const changes = (data.history && data.history.changes) || [];
  const factors = (data.current && data.current.factors) || (data.lead && data.lead.top_factors) || [];
  const alertsList = alertFeed('lead-alerts', 500);
  alertsList.fill(data.alerts || []);
  setView(
    data.worker_error ? el('p', { id: 'worker-error', class: 'notice warn', role: 'alert' },
      `Worker unavailable: ${data.worker_error}. Showing what the console knows.`) : null,
    el('div', { class: 'lead-head' },
      el('h1', { id: 'lead-title' }, leadId),
      el('div', { class: 'lead-score' }, el('span', { id: 'lead-score' }, s.score ?? '—'),
        el('span', { class: 'muted' }, ' / 100'), scoreBar(s.score))),
    el('div', { class: 'cards' },
      card('Fit', s.fit ?? '—'), card('Engagement', s.engagement ?? '—'), card('Validity', fmtPct(s.validity)),
      card('Grade', s.grade || '—'), card('Stage', stagePill(s.stage)), card('Contactable', yesNo(s.contactable)),
      card('Account', s.account_id ? el('a', { href: '/accounts' }, s.account_id) : '—'),
      card('Events counted', s.events_counted ?? '—'),
      card('Updated', timeEl(s.updated_at))),
    el('div', { class: 'lead-grid' },
      el('section', { class: 'panel' }, el('h2', {}, 'Why this score'),
        factors.length ? factorsChart(factors) : note('no factors known', 'muted'),
        el('h3', {}, 'Bot flags'), botFlagsBlock(s.bot_flags || [], data.bot_flag_help)),
      el('section', { class: 'panel' }, el('h2', {}, 'Score history'),
        changes.length ? historyChart(changes, levels) : note('no history known', 'muted'),
        changes.length ? historyTable(changes) : null)),
    el('section', { class: 'panel' }, el('h2', {}, 'Alerts for this lead'), alertsList.list, alertsList.empty));
  document.title = `${leadId} · leadscore`;
}

function leadView(leadId) {
  let levels = null;
  async function refresh() {
    try {
      renderLead(leadId, await api(`/api/leads/${encodeURIComponent(leadId)}`), levels);
    } catch (err) {
      if (err.status !== 404) throw err;
      state.view.refresh = null; // nothing to refresh
      setView(el('h1', { id: 'lead-title' }, leadId),
        el('p', { class: 'notice warn' }, `Unknown lead: ${err.message}.`), el('a', { href: '/' }, '← Leaderboard'));
    }
  }
  async function load() {
    const model = await quietApi('/api/model');
    levels = model && model.model && model.model.thresholds ? model.model.thresholds.levels : null;
    await refresh();
  }
  return { interval: 3000, refresh, load };
}

// ---- alerts view (/alerts) -----------------------------------------------------------------

function alertsView() {
  const feed = alertFeed('alerts-feed', 200);
  setView(el('h1', {}, 'Alerts'),
    note('Newest first; new alerts appear at the top as they happen.', 'muted'), feed.list, feed.empty);
  return { onAlert: feed.prepend, load: async () => feed.fill((await api('/api/alerts?limit=200')).alerts) };
}

// ---- accounts view (/accounts) -------------------------------------------------------------

function accountRow(account, index) {
  return el('tr', { 'data-account-id': account.account_id },
    el('td', { class: 'num' }, index + 1),
    el('td', {}, account.account_id),
    el('td', {}, scoreCell(account.score)),
    el('td', {}, stagePill(account.stage)),
    el('td', { class: 'num' }, account.fit), el('td', { class: 'num' }, account.engagement),
    el('td', { class: 'num' }, `${account.engaged_people} / ${account.people}`),
    el('td', {}, (account.roles || []).join(', ') || '—'),
    el('td', { class: 'top-leads' }, (account.top_leads || []).map((l) =>
      el('span', { class: 'top-lead' }, leadLink(l.lead_id), ` ${l.score}`))),
    el('td', {}, timeEl(account.updated_at)));
}

function accountsView() {
  const slot = el('div');
  async function refresh() {
    const data = await api('/api/accounts?limit=50');
    const accounts = table({ id: 'accounts' }, `Accounts, best score first: ${data.accounts.length} shown of ${data.total}`,
      ['#', 'Account', 'Score', 'Stage', 'Fit', 'Engagement', 'Engaged / people', 'Roles', 'Top leads', 'Updated'],
      data.accounts.map(accountRow));
    replaceContent(slot, accounts, data.accounts.length ? null : el('p', { id: 'accounts-empty', class: 'muted' },
      'no accounts yet: accounts appear when leads carry an account_id or a business email domain'));
  }
  setView(el('h1', {}, 'Accounts'), slot);
  return { interval: 1000, refresh, load: refresh };
}

// ---- model view (/model): model, calibration report, model diff ---------------------------

function dl(pairs) {
  return el('dl', { class: 'facts' }, pairs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '—')]));
}

function liftChart(rows) {
  const W = 720, H = 260, L = 44, R = 12, T = 20, B = 40;
  const top = Math.max(1, ...rows.map((r) => r.lift || 0)) * 1.15;
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const band = (W - L - R) / Math.max(rows.length, 1);
  const chart = svg('svg', { id: 'lift-chart', class: 'chart', viewBox: `0 0 ${W} ${H}`, width: '100%',
    role: 'img', 'aria-label': 'Conversion lift per score decile; decile 1 is the top-scored tenth' });
  const step = top > 4 ? 1 : 0.5;
  for (let v = 0; v <= top; v += step) {
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg('text', { class: 'tick', x: L - 6, y: y(v), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, `${v}×`));
  }
  rows.forEach((r, i) => {
    const x = L + i * band + band * 0.15, lift = r.lift || 0;
    chart.append(
      svg('rect', { class: 'bar', x, y: y(lift), width: band * 0.7, height: y(0) - y(lift) },
        svg('title', {}, `decile ${r.decile}: ${r.leads} leads, ${fmtPct(r.rate, 1)} converted, lift ${fmtNum(lift)}`)),
      svg('text', { class: 'value', x: x + band * 0.35, y: y(lift) - 5, 'text-anchor': 'middle' }, fmtNum(lift, 1)),
      svg('text', { class: 'tick', x: x + band * 0.35, y: H - B + 16, 'text-anchor': 'middle' }, r.decile));
  });
  chart.append(svg('line', { class: 'baseline', x1: L, x2: W - R, y1: y(1), y2: y(1) }),
    svg('text', { class: 'tick', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' }, 'score decile (1 = top-scored tenth)'));
  return chart;
}

function modelSection(model) {
  if (!model) return el('section', {}, el('h1', {}, 'Model'), note('no model loaded'));
  const activities = Object.entries((model.engagement && model.engagement.activities) || {});
  const halfLife = model.engagement && model.engagement.half_life_days;
  const levels = Object.entries((model.thresholds && model.thresholds.levels) || {});
  const bots = model.bots || {};
  return el('section', { class: 'model' },
    el('h1', {}, 'Model ', el('span', { id: 'model-version', class: 'version' }, model.model_version || '—')),
    dl([['Fit weight', model.weights && model.weights.fit], ['Engagement weight', model.weights && model.weights.engagement],
      ['Engagement half-life', halfLife != null ? `${halfLife} days` : null]]),
    table({ id: 'thresholds' }, `Thresholds (hysteresis ${model.thresholds ? model.thresholds.hysteresis : '—'})`,
      ['Threshold', 'Score level'], levels.map(([name, level]) => row([stagePill(name), level]))),
    table({ id: 'activities' }, 'Engagement activities', ['Activity', 'Points', 'Cap', 'Half-life (days)'],
      activities.map(([name, a]) => row([factorLabel(name), fmtPoints(a.points), a.cap,
        a.half_life_days != null ? a.half_life_days : `${halfLife ?? '—'} (default)`], { 'data-activity': name }))),
    table({ id: 'bot-factors' }, `Bot flags: validity multipliers (fast submit under ${bots.fast_submit_seconds ?? '—'} s)`,
      ['Flag', 'Validity ×'], Object.entries(bots.factors || {}).map(([flag, f]) => row([flagBadge(flag), `×${f}`]))),
    el('details', {}, el('summary', {}, 'Whole model as JSON'), el('pre', {}, JSON.stringify(model, null, 2))));
}

function calibrationSection(report) {
  const section = el('section', { id: 'calibration', class: 'panel' }, el('h2', {}, 'Calibration'));
  if (!report) {
    return appendAll(section, [note('no calibration report: run leadscore calibrate --report FILE and set LEADSCORE_CONSOLE_CALIBRATION_REPORT')]);
  }
  const activities = Object.entries(report.activities || {}).sort((a, b) => (b[1].lift || 0) - (a[1].lift || 0));
  return appendAll(section, [
    dl([['Model', report.model_version], ['Rows train / holdout', `${report.rows_train} / ${report.rows_holdout}`],
      ['Control rate', fmtPct(report.control_rate, 1)], ['Holdout control rate', fmtPct(report.holdout_control_rate, 1)],
      ['AUC holdout', fmtNum(report.auc_holdout, 3)], ['AUC equal points', fmtNum(report.auc_equal_points, 3)],
      ['Top decile rate', fmtPct(report.top_decile_rate, 1)], ['Top decile lift', fmtNum(report.top_decile_lift)]]),
    (report.warnings || []).length ? el('ul', { class: 'warnings' }, report.warnings.map((w) => el('li', {}, w))) : null,
    el('h3', {}, 'Lift per score decile'),
    liftChart(report.lift || []),
    table({ class: 'calibration-activities' }, 'Activities: conversion rate and lift against control',
      ['Activity', 'Leads', 'Converted', 'Rate', 'Lift', 'Points', 'Cap', 'Verdict'],
      activities.map(([name, a]) => row([factorLabel(name), a.leads, a.converted, fmtPct(a.rate, 1), fmtNum(a.lift),
        fmtPoints(a.points), a.cap, a.beats_control ? 'beats control' : a.below_control ? 'below control' : '—']))),
  ]);
}

function movesTable(caption, moves) {
  return table({ class: 'moves' }, caption, ['From', 'To', 'Leads'],
    (moves || []).map((m) => row([m.from, m.to, m.leads])));
}

function moversTable(caption, movers) {
  const pair = (p) => (Array.isArray(p) ? `${p[0]} → ${p[1]}` : '—');
  return table({ class: 'movers' }, caption, ['Lead', 'Score', 'Stage', 'Grade'],
    (movers || []).map((m) => row([leadLink(m.lead_id), pair(m.score), pair(m.stage), pair(m.grade)])));
}

function diffSection(diff) {
  const section = el('section', { id: 'model-diff', class: 'panel' }, el('h2', {}, 'Model diff'));
  if (!diff) {
    return appendAll(section, [note('no model diff: run leadscore model diff --json > FILE and set LEADSCORE_CONSOLE_MODEL_DIFF')]);
  }
  const alerts = diff.alerts || {};
  const names = [...new Set([...Object.keys(alerts.current || {}), ...Object.keys(alerts.candidate || {})])];
  return appendAll(section, [
    el('p', {}, el('strong', {}, diff.current_version), ' → ', el('strong', {}, diff.candidate_version)),
    dl([['Leads', diff.leads], ['Score changed', diff.score_changed], ['Stage changed', diff.stage_changed],
      ['Grade changed', diff.grade_changed]]),
    table({ class: 'diff-alerts' }, 'Alerts per threshold', ['Threshold', 'Current', 'Candidate'],
      names.map((n) => row([n, (alerts.current || {})[n] ?? 0, (alerts.candidate || {})[n] ?? 0]))),
    el('div', { class: 'two' }, movesTable('Stage moves', diff.stage_moves), movesTable('Grade moves', diff.grade_moves)),
    el('div', { class: 'two' }, moversTable('Biggest moves up', diff.up), moversTable('Biggest moves down', diff.down)),
  ]);
}

function modelView() {
  async function load() {
    const data = await api('/api/model');
    if (!state.blocked) setView(modelSection(data.model), calibrationSection(data.calibration), diffSection(data.diff));
  }
  return { load };
}

// ---- routing and start-up ------------------------------------------------------------------

function notFoundView() {
  setView(el('h1', {}, 'Not found'),
    el('p', { class: 'notice warn' }, `No console page at ${location.pathname}.`), el('a', { href: '/' }, '← Leaderboard'));
  return {};
}

function route(path) {
  if (path === '/' || path === '/index.html') return ['Leaderboard', leaderboardView];
  const lead = /^\/leads\/(.+)$/.exec(path);
  if (lead) {
    try {
      const id = decodeURIComponent(lead[1]);
      return ['Lead', () => leadView(id)];
    } catch (_) { return ['Not found', notFoundView]; }
  }
  const pages = { '/alerts': ['Alerts', alertsView], '/accounts': ['Accounts', accountsView], '/model': ['Model', modelView] };
  return pages[path.replace(/\/+$/, '')] || ['Not found', notFoundView];
}

function markNav() {
  const section = '/' + (location.pathname.split('/')[1] || '');
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === section) link.setAttribute('aria-current', 'page');
  }
}

async function start() {
  markNav();
  renderStatus();
  // Asked first, without a token: a refused API call would be logged by the browser as an
  // error on every first visit.
  const session = await quietApi('/api/session');
  if (session && session.login_required) return showLogin();
  const [title, makeView] = route(location.pathname);
  document.title = `${title} · leadscore`;
  const view = Object.assign({ interval: 1000, lastRun: Date.now(), timer: null, busy: false, dirty: false }, makeView());
  state.view = view;
  try {
    await Promise.all([loadSummary(), view.load ? view.load() : null]);
  } catch (err) {
    handleError(err);
  }
  if (!state.blocked) connectStream();
}

document.addEventListener('DOMContentLoaded', start);
