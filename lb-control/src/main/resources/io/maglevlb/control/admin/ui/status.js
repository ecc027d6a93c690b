// maglevd status page: reads GET status (JSON) and GET metrics (Prometheus text) every few seconds and draws
// them. No framework, nothing loaded from elsewhere. Every value from the daemon goes into the page as text
// (textContent), never as markup, so a backend name cannot inject anything.
// Token: when the admin API answers 401, the page asks for the bearer token, keeps it in sessionStorage (this
// tab only, gone when the tab closes) and sends it as "Authorization: Bearer ..." with its own requests.
'use strict';
(() => {
  const REFRESH_MS = 3000;
  const TOKEN_KEY = 'maglevd.token';
  // Counters shown as per-second rates, summed over every series of the VIP (and backend).
  const VIP_RATES = [
    ['new flows/s', ['maglev_connections_total']],
    ['packets/s', ['maglev_packets_total']],
    ['in B/s', ['maglev_bytes_total'], 'client_to_backend'],
    ['out B/s', ['maglev_bytes_total'], 'backend_to_client'],
    ['refused+dropped/s', ['maglev_connections_refused_total', 'maglev_datagrams_dropped_total',
      'maglev_packet_drops_total']],
  ];
  let previous = null; // { at: ms, values: Map }
  let timer = null;

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function authHeaders() {
    const t = sessionStorage.getItem(TOKEN_KEY);
    return t ? { Authorization: 'Bearer ' + t } : {};
  }

  async function get(path) {
    const r = await fetch(path, { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
    if (r.status === 401) {
      const e = new Error('the admin API wants a bearer token');
      e.unauthorized = true;
      throw e;
    }
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r;
  }

  // Prometheus text -> Map "name\0vip\0backend\0direction" -> value (summed over other labels).
  function parseMetrics(text) {
    const values = new Map();
    const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const l of text.split('\n')) {
      if (!l.startsWith('maglev_')) continue;
      const m = line.exec(l);
      if (!m) continue;
      const v = Number(m[3]);
      if (!Number.isFinite(v)) continue;
      const labels = {};
      for (const lm of (m[2] || '').matchAll(label)) labels[lm[1]] = lm[2];
      if (labels.vip === undefined) continue;
      const b = labels.backend || '';
      const d = labels.direction || '';
      const keys = new Set([[m[1], labels.vip, '', ''], [m[1], labels.vip, '', d], [m[1], labels.vip, b, ''],
        [m[1], labels.vip, b, d]].map((k) => k.join('\0')));
      for (const key of keys) values.set(key, (values.get(key) || 0) + v);
    }
    return values;
  }

  function rate(now, names, vip, backend, direction) {
    if (!previous || !now) return null;
    const dt = (now.at - previous.at) / 1000;
    if (dt <= 0) return null;
    let sum = 0;
    let seen = false;
    for (const n of names) {
      const key = [n, vip, backend || '', direction || ''].join('\0');
      if (!now.values.has(key) || !previous.values.has(key)) continue;
      const d = now.values.get(key) - previous.values.get(key);
      if (d < 0) return null; // counter reset (restart)
      sum += d;
      seen = true;
    }
    return seen ? sum / dt : null;
  }

  function human(n) {
    if (n === null || n === undefined) return '–';
    const units = ['', 'k', 'M', 'G', 'T'];
    let i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (n >= 100 || i === 0 && Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1)) + units[i];
  }

  function fact(parent, name, value, title) {
    const s = el('span', null, name + ' ');
    const b = el('b', null, value);
    if (title) b.title = title;
    s.appendChild(b);
    parent.appendChild(s);
  }

  function announceText(a) {
    if (!a) return null;
    if (a.announced) return 'announced ' + (a.address || '') + (a.reason ? ' (' + a.reason + ')' : '');
    return (a.operatorWithdrawn ? 'withdrawn by operator' : 'not announced') + (a.reason ? ': ' + a.reason : '');
  }

  function cell(tr, label, cls, content) {
    const td = el('td', cls);
    td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  }

  function renderVip(v, metrics) {
    const sec = el('section', 'vip');
    sec.dataset.vip = v.name;
    const head = el('div', 'vip-head');
    head.appendChild(el('h2', null, v.name));
    head.appendChild(el('span', 'mono', v.listen));
    head.appendChild(el('span', 'badge kind', v.protocol + ' · ' + v.mode));
    const up = v.backendsInTable > 0;
    head.appendChild(el('span', 'badge ' + (up ? 'up' : 'down'),
      up ? v.backendsInTable + ' of ' + v.backends.length + ' in table' : 'no backend in table'));
    sec.appendChild(head);

    const facts = el('div', 'facts');
    fact(facts, 'table', 'gen ' + v.generation + ' · ' + v.digest.slice(0, 12), 'digest ' + v.digest
      + ', ' + v.tableSize + ' slots');
    if (v.activeFlows !== null && v.activeFlows !== undefined) fact(facts, 'active flows', human(v.activeFlows));
    const announce = announceText(v.announce);
    if (announce) fact(facts, 'announce', announce);
    for (const [name, families, direction] of VIP_RATES) {
      const r = rate(metrics, families, v.name, '', direction);
      if (r !== null) fact(facts, name, human(r));
    }
    sec.appendChild(facts);

    const table = el('table');
    const thead = el('thead');
    const hr = el('tr');
    for (const [h, cls] of [['backend'], ['weight', 'num'], ['health'], ['drained'], ['slot share'],
      ['active', 'num'], ['flows/s', 'num'], ['B/s', 'num']]) hr.appendChild(el('th', cls, h));
    thead.appendChild(hr);
    table.appendChild(thead);
    const tbody = el('tbody');
    for (const b of v.backends) {
      const tr = el('tr', b.drained ? 'drained' : b.healthy ? 'up' : 'down');
      tr.dataset.backend = b.name;
      const name = el('div');
      name.appendChild(el('b', null, b.name));
      name.appendChild(el('span', 'reason mono', b.address));
      cell(tr, 'backend', null, name);
      cell(tr, 'weight', 'num', b.weight);
      const health = el('div');
      health.appendChild(el('span', 'badge ' + (b.healthy ? 'up' : 'down'), b.healthy ? 'up' : 'down'));
      health.appendChild(el('span', 'reason', b.health + (b.lastCheck ? ' · last check ' + b.lastCheck : '')));
      cell(tr, 'health', 'health', health);
      cell(tr, 'drained', null, b.drained ? el('span', 'badge drained', 'drained') : el('span', 'muted', 'no'));
      const share = el('div', 'share');
      const pct = v.tableSize > 0 ? 100 * b.slots / v.tableSize : 0;
      const bar = el('div', 'bar');
      const fill = el('span');
      fill.style.width = pct.toFixed(2) + '%';
      bar.appendChild(fill);
      bar.title = b.slots + ' of ' + v.tableSize + ' slots';
      share.appendChild(bar);
      share.appendChild(el('span', 'pct', pct.toFixed(1) + '%'));
      cell(tr, 'slot share', null, share);
      cell(tr, 'active', 'num', b.activeFlows === null || b.activeFlows === undefined ? '–' : human(b.activeFlows));
      cell(tr, 'flows/s', 'num', human(rate(metrics, ['maglev_backend_connections_total'], v.name, b.name)));
      cell(tr, 'B/s', 'num', human(rate(metrics, ['maglev_backend_bytes_total'], v.name, b.name)));
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    sec.appendChild(table);
    return sec;
  }

  function render(status, metrics) {
    const down = status.vips.filter((v) => v.backendsInTable === 0).length;
    $('summary').textContent = status.vips.length + ' VIP' + (status.vips.length === 1 ? '' : 's')
      + (down ? ' · ' + down + ' with no backend' : '') + ' · version ' + status.version + ' · pid ' + status.pid;
    const main = $('vips');
    const sections = status.vips.map((v) => renderVip(v, metrics));
    main.replaceChildren(...sections);
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function askForToken(message) {
    clearTimeout(timer);
    timer = null;
    $('vips').replaceChildren();
    $('summary').textContent = '';
    $('forget').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  async function refresh() {
    timer = null;
    try {
      const [statusReply, metricsReply] = await Promise.all([get('status'), get('metrics')]);
      const status = await statusReply.json();
      const metrics = { at: Date.now(), values: parseMetrics(await metricsReply.text()) };
      render(status, metrics);
      previous = metrics;
      $('error').hidden = true;
      $('login').hidden = true;
      $('forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      if (e.unauthorized) {
        const had = sessionStorage.getItem(TOKEN_KEY);
        sessionStorage.removeItem(TOKEN_KEY);
        askForToken(had ? 'That token was refused.' : '');
        return;
      }
      $('error').hidden = false;
      $('error').textContent = 'Cannot read maglevd: ' + e.message + ' (showing the last answer; retrying)';
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      $('login').hidden = true;
      previous = null;
      refresh();
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      previous = null;
      askForToken('');
    });
    refresh();
  });
})();
