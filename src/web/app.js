/* netcanary status page.
 *
 * Fetches api/v1/matrix (relative, so the page also works behind
 * `kubectl proxy` and path prefixes) every 5 s and renders it. Every piece of
 * data reaches the DOM through textContent or an attribute, never as HTML:
 * target names and error texts come from the config and the network.
 * The CSP allows only this origin; this script requests nothing else. */
(function () {
  'use strict';

  const API = 'api/v1/matrix';
  const REFRESH_MS = 5000;
  const FETCH_TIMEOUT_MS = 4000;

  /* One entry per state a cell can show. `rank`: lower is worse (the detail
   * pane opens on the worst row when nothing is selected). */
  const STATES = {
    leak: { sym: '✗', label: 'LEAK', rank: 0 },
    blocked: { sym: '✗', label: 'blocked', rank: 1 },
    inconclusive: { sym: '?', label: 'inconclusive', rank: 2 },
    unverified: { sym: '~', label: 'unverified', rank: 3 },
    pending: { sym: '…', label: 'pending', rank: 4 },
    unsupported: { sym: '–', label: 'unsupported', rank: 5 },
    met: { sym: '✓', label: 'met', rank: 6 },
  };
  const STATE_ORDER = ['leak', 'blocked', 'inconclusive', 'unverified', 'pending', 'unsupported', 'met'];

  const EXPLAIN = {
    leak: 'Expected deny, but a packet got through: a security leak.',
    blocked: 'Expected allow, but the traffic was denied: an outage, or a policy that is too strict.',
    inconclusive: 'The probe could not decide (the name did not resolve, or a local error). This is not a match.',
    unverified: 'Denied as expected, but nothing of this agent reached the same address and port recently, ' +
      'so "denied" may only mean the target is down.',
    pending: 'No confirmed verdict yet: the row needs more agreeing probes.',
    unsupported: 'This build cannot probe this protocol yet; the row never counts as met.',
    met: 'The expectation holds.',
  };

  const $ = (id) => document.getElementById(id);

  let lastDoc = null;      /* the last matrix document rendered */
  let lastOkAt = 0;        /* Date.now() of the last successful fetch */
  let pinnedKey = keyFromHash(); /* row chosen by click or URL hash */
  let hoverKey = null;     /* row under the pointer / keyboard focus */
  let rowsByKey = new Map();
  let revealPinned = pinnedKey !== null; /* scroll to the detail pane after the first render */

  /* ---- small helpers ---- */

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function rowKey(row) {
    return String(row.from) + '/' + String(row.to);
  }

  function keyFromHash() {
    const h = location.hash.replace(/^#/, '');
    if (!h) return null;
    try {
      return decodeURIComponent(h);
    } catch (e) {
      return null;
    }
  }

  function classify(row) {
    if (row.supported === false) return 'unsupported';
    if (row.mismatch === 'unexpected_allow') return 'leak';
    if (row.mismatch === 'unexpected_deny') return 'blocked';
    if (row.met) return row.verified ? 'met' : 'unverified';
    if (row.verdict === 'unknown') return 'pending';
    return 'inconclusive';
  }

  function stateText(st) {
    return STATES[st].sym + ' ' + STATES[st].label;
  }

  /* Milliseconds with a precision that suits loopback and WAN latencies alike. */
  function fmtMs(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '–';
    const ms = seconds * 1000;
    if (ms < 1) return ms.toFixed(3) + ' ms';
    if (ms < 10) return ms.toFixed(2) + ' ms';
    if (ms < 100) return ms.toFixed(1) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return seconds.toFixed(2) + ' s';
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  /* Local wall-clock time of a Unix timestamp in seconds. */
  function fmtClock(ts) {
    const d = new Date(ts * 1000);
    const today = new Date();
    const time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (d.toDateString() === today.toDateString()) return time;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
  }

  function fmtAgo(ts) {
    const s = Date.now() / 1000 - ts;
    if (s < 1) return 'just now';
    if (s < 90) return Math.round(s) + ' s ago';
    if (s < 90 * 60) return Math.round(s / 60) + ' min ago';
    if (s < 48 * 3600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function fmtWhen(ts) {
    if (typeof ts !== 'number') return 'never';
    return fmtClock(ts) + ' (' + fmtAgo(ts) + ')';
  }

  function fmtSeconds(s) {
    if (typeof s !== 'number') return '–';
    return s < 1 ? Math.round(s * 1000) + ' ms' : (Math.round(s * 100) / 100) + ' s';
  }

  /* Does this address's verdict break the row's expectation? */
  function addrBreaks(row, a) {
    return (row.expect === 'allow' && a.verdict === 'denied') || (row.expect === 'deny' && a.verdict === 'allowed');
  }

  /* Outcomes whose duration says nothing about the network path. */
  const NO_LATENCY = new Set(['dns_error', 'local_error']);

  /* The cell's last line: what the probes saw and how long it took, e.g.
   * "connected · 0.12 ms", "3× timeout · max 2.00 s", "dns_error". */
  function outcomeSummary(row) {
    const addrs = Array.isArray(row.addresses) ? row.addresses : [];
    if (addrs.length === 0) return '';
    const counts = new Map();
    let max = -1;
    for (const a of addrs) {
      counts.set(a.outcome, (counts.get(a.outcome) || 0) + 1);
      if (!NO_LATENCY.has(a.outcome) && typeof a.duration_seconds === 'number' && a.duration_seconds > max)
        max = a.duration_seconds;
    }
    const parts = [];
    if (counts.size === 1) {
      const n = addrs.length;
      parts.push((n > 1 ? n + '× ' : '') + addrs[0].outcome);
    } else {
      parts.push(Array.from(counts, ([o, n]) => n + ' ' + o).join(', '));
    }
    if (max >= 0) parts.push((addrs.length > 1 ? 'max ' : '') + fmtMs(max));
    return parts.join(' · ');
  }

  function evidenceText(row) {
    if (row.supported === false) return 'expect ' + row.expect + ' · not probed';
    let t = 'expect ' + row.expect + ' · ' + (row.verdict === 'unknown' ? 'no verdict yet' : 'saw ' + row.verdict);
    if (row.observed && row.observed !== row.verdict) t += ' (last probe: ' + row.observed + ')';
    return t;
  }

  /* ---- header ---- */

  function renderHeader(doc) {
    $('identity').textContent = doc.identity;
    $('version').textContent = doc.version;

    const cfg = doc.config || {};
    const cfgEl = $('config');
    clear(cfgEl);
    const errEl = $('config-error');
    if (cfg.last_reload_successful === false) {
      cfgEl.appendChild(el('span', 'chip st-leak', '✗ reload failed'));
      errEl.textContent = 'Config reload failed, the previous config keeps running: ' +
        (cfg.last_reload_error || 'no error text');
      errEl.hidden = false;
    } else {
      cfgEl.appendChild(el('span', 'chip st-met', '✓ ok'));
      errEl.textContent = '';
      errEl.hidden = true;
    }
    if (typeof cfg.last_reload_success_timestamp === 'number')
      cfgEl.appendChild(el('span', 'aside', (cfg.last_reload_successful === false ? ' last good ' : ' loaded ') +
        fmtClock(cfg.last_reload_success_timestamp)));
    cfgEl.title = 'source: ' + (cfg.source || 'embedded default');

    const readyEl = $('ready');
    clear(readyEl);
    if (doc.ready) readyEl.appendChild(el('span', 'chip st-met', '✓ ready'));
    else readyEl.appendChild(el('span', 'chip st-pending', '… not ready (first round running)'));
  }

  function renderSummary(rows, counts) {
    const ul = $('summary');
    clear(ul);
    for (const st of STATE_ORDER) {
      if (!counts[st]) continue;
      const li = el('li', 'chip st-' + st);
      li.appendChild(el('strong', null, counts[st]));
      li.appendChild(document.createTextNode(' ' + stateText(st)));
      ul.appendChild(li);
    }
    if (rows.length === 0) ul.appendChild(el('li', 'chip st-pending', 'no rows'));
  }

  /* ---- the grid: one row per target ("to"), one column per identity ("from") ---- */

  function uniq(list) {
    const seen = new Set();
    const out = [];
    for (const v of list) if (!seen.has(v)) { seen.add(v); out.push(v); }
    return out;
  }

  /* Sets a property or attribute only when it changes: a refresh of an
   * unchanged matrix then touches (and re-lays out) nothing. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function setAttr(node, name, value) {
    if (value === null) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
    } else if (node.getAttribute(name) !== value) {
      node.setAttribute(name, value);
    }
  }

  /* Fills one cell (built by makeCell) with the row's current state. */
  function fillCell(ref, row, st) {
    const lat = outcomeSummary(row);
    const ev = evidenceText(row);
    setAttr(ref.td, 'class', 'cell st-' + st);
    setAttr(ref.td, 'data-state', st);
    setText(ref.state, stateText(st));
    setText(ref.ev, ev);
    setText(ref.lat, lat);
    ref.lat.hidden = !lat;
    setAttr(ref.b, 'title', row.from + ' → ' + row.to + ' (' + row.protocol + '): ' + stateText(st) + '. ' + ev +
      (lat ? '. ' + lat : '') + '. Last change: ' + fmtWhen(row.last_change) + '.');
    setAttr(ref.b, 'aria-label', row.from + ' to ' + row.to + ': ' + STATES[st].label + ', ' + ev);
    setAttr(ref.b, 'aria-pressed', ref.key === pinnedKey ? 'true' : null);
  }

  function makeCell(key, from) {
    const td = el('td', 'cell');
    td.dataset.from = from;
    const b = el('button', 'cellbtn');
    b.type = 'button';
    b.dataset.key = key;
    const ref = { key, td, b, state: el('span', 'state'), ev: el('span', 'ev'), lat: el('span', 'lat') };
    b.appendChild(ref.state);
    b.appendChild(ref.ev);
    b.appendChild(ref.lat);
    td.appendChild(b);
    return ref;
  }

  let gridShape = null;      /* the row keys and protocols the grid was built for */
  let cellRefs = new Map();  /* row key -> its cell's elements */

  function renderGrid(rows, states) {
    const table = $('grid');
    const shape = rows.map((r) => rowKey(r) + '\u0000' + r.protocol).join('\n');
    if (shape === gridShape) {
      for (const r of rows) {
        const key = rowKey(r);
        fillCell(cellRefs.get(key), r, states.get(key));
      }
      return;
    }

    const froms = uniq(rows.map((r) => String(r.from)));
    const tos = uniq(rows.map((r) => String(r.to)));
    const protoOf = new Map();
    for (const r of rows) if (!protoOf.has(String(r.to))) protoOf.set(String(r.to), String(r.protocol));

    const focusedKey = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.key : undefined;

    const headRow = el('tr');
    headRow.appendChild(el('th', 'corner', 'to ↓ · from →'));
    headRow.firstChild.scope = 'col';
    for (const f of froms) {
      const th = el('th', 'from', f);
      th.scope = 'col';
      headRow.appendChild(th);
    }
    const thead = table.tHead;
    clear(thead);
    thead.appendChild(headRow);

    const refs = new Map();
    const tbody = el('tbody');
    for (const to of tos) {
      const tr = el('tr');
      const th = el('th', 'to');
      th.scope = 'row';
      th.appendChild(el('span', 'name', to));
      th.appendChild(el('span', 'proto', protoOf.get(to)));
      tr.appendChild(th);
      for (const from of froms) {
        const key = from + '/' + to;
        const row = rowsByKey.get(key);
        if (!row) {
          const td = el('td', 'cell st-none');
          td.dataset.from = from;
          td.appendChild(el('span', 'none', '·'));
          td.title = from + ' → ' + to + ': not in the matrix';
          tr.appendChild(td);
          continue;
        }
        const ref = makeCell(key, from);
        fillCell(ref, row, states.get(key));
        refs.set(key, ref);
        tr.appendChild(ref.td);
      }
      tbody.appendChild(tr);
    }
    table.replaceChild(tbody, table.tBodies[0]);
    table.classList.toggle('multi-from', froms.length > 1);
    $('grid-empty').hidden = rows.length > 0;
    gridShape = shape;
    cellRefs = refs;

    if (focusedKey && refs.has(focusedKey)) refs.get(focusedKey).b.focus({ preventScroll: true });
  }

  /* ---- detail pane ---- */

  function kv(dl, k, v, cls) {
    dl.appendChild(el('dt', null, k));
    dl.appendChild(el('dd', cls || null, v));
  }

  function worstKey(rows, states) {
    let best = null;
    let bestRank = Infinity;
    for (const r of rows) {
      const k = rowKey(r);
      const rank = STATES[states.get(k)].rank;
      if (rank < bestRank) { bestRank = rank; best = k; }
    }
    return best;
  }

  function renderDetail() {
    const pane = $('detail');
    clear(pane);
    pane.appendChild(el('h2', null, 'Detail')).id = 'detail-title';
    if (!lastDoc) {
      pane.appendChild(el('p', 'hint', 'Waiting for the first answer of api/v1/matrix…'));
      return;
    }
    const rows = lastDoc.rows;
    const states = new Map(rows.map((r) => [rowKey(r), classify(r)]));
    let key = hoverKey || pinnedKey;
    let how = hoverKey ? 'hover' : 'pinned';
    if (!key || !rowsByKey.has(key)) {
      key = worstKey(rows, states);
      how = 'auto';
    }
    if (!key) {
      pane.appendChild(el('p', 'hint', 'No rows.'));
      return;
    }
    const row = rowsByKey.get(key);
    const st = states.get(key);

    const title = el('p', 'detail-route');
    title.appendChild(el('span', 'from', row.from));
    title.appendChild(document.createTextNode(' → '));
    title.appendChild(el('span', 'to', row.to));
    title.appendChild(el('span', 'proto', row.protocol));
    pane.appendChild(title);
    pane.appendChild(el('p', 'chip big st-' + st, stateText(st)));
    pane.dataset.key = key;
    pane.dataset.state = st;
    pane.appendChild(el('p', 'explain', row.supported === false && row.error ? row.error : EXPLAIN[st]));
    if (how === 'auto')
      pane.appendChild(el('p', 'hint', 'Showing the worst row. Select a cell to pin another one.'));

    const dl = el('dl', 'kv');
    kv(dl, 'expect', row.expect);
    kv(dl, 'verdict', row.verdict + (row.confirm ? ' (confirmed by ' + row.confirm +
      (row.confirm === 1 ? ' probe)' : ' agreeing probes)') : ''));
    kv(dl, 'last probe saw', row.observed);
    kv(dl, 'verified', row.verified ? 'yes' : 'no');
    const mm = row.mismatches || {};
    kv(dl, 'mismatches', (mm.unexpected_allow || 0) + ' unexpected allow, ' + (mm.unexpected_deny || 0) +
      ' unexpected deny', (mm.unexpected_allow || mm.unexpected_deny) ? 'warn' : null);
    kv(dl, 'rounds', row.rounds);
    kv(dl, 'last probe', fmtWhen(row.last_probe));
    kv(dl, 'last change', fmtWhen(row.last_change));
    if (typeof row.interval_seconds === 'number')
      kv(dl, 'schedule', 'every ' + fmtSeconds(row.interval_seconds) + ', timeout ' + fmtSeconds(row.timeout_seconds));
    pane.appendChild(dl);

    const addrs = Array.isArray(row.addresses) ? row.addresses : [];
    pane.appendChild(el('h3', null, addrs.length === 1 ? '1 address' : addrs.length + ' addresses'));
    if (addrs.length === 0) {
      pane.appendChild(el('p', 'hint', row.supported === false ? 'never probed' : 'no result yet'));
      return;
    }
    const wrap = el('div', 'table-scroll');
    const t = el('table', 'addrs');
    const hr = el('tr');
    for (const h of ['address', 'outcome → verdict', 'latency']) hr.appendChild(el('th', null, h));
    t.appendChild(el('thead')).appendChild(hr);
    const tb = el('tbody');
    for (const a of addrs) {
      const breaks = addrBreaks(row, a);
      const tr = el('tr', breaks ? 'breaks' : null);
      tr.appendChild(el('td', 'addr', a.address === null ? '(none)' : a.address));
      const oc = el('td', 'outcome');
      oc.appendChild(el('span', 'oc', a.outcome));
      oc.appendChild(el('span', 'vd', (breaks ? '✗ ' : '→ ') + a.verdict));
      if (a.error) oc.appendChild(el('span', 'err', a.error));
      tr.appendChild(oc);
      tr.appendChild(el('td', 'num', fmtMs(a.duration_seconds)));
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    wrap.appendChild(t);
    pane.appendChild(wrap);
  }

  /* ---- DNS panel: one card per row of protocol "dns", one line per server ---- */

  function renderDns(rows, states) {
    const box = $('dns');
    clear(box);
    const dns = rows.filter((r) => r.protocol === 'dns');
    if (dns.length === 0) {
      box.appendChild(el('p', 'empty', 'no DNS targets'));
      return;
    }
    const list = el('div', 'dns-list');
    for (const r of dns) {
      const st = states.get(rowKey(r));
      const card = el('div', 'dns-target');
      card.dataset.to = r.to;
      card.dataset.state = st;
      const head = el('div', 'dns-head');
      head.appendChild(el('span', 'name', r.to));
      head.appendChild(el('span', 'chip st-' + st, stateText(st)));
      head.appendChild(el('span', 'from', 'from ' + r.from + ' · expect ' + r.expect));
      card.appendChild(head);
      const addrs = Array.isArray(r.addresses) ? r.addresses : [];
      if (addrs.length === 0) {
        card.appendChild(el('p', 'hint', r.supported === false ? (r.error || 'not supported') : 'no result yet'));
      } else {
        const t = el('table', 'servers');
        const hr = el('tr');
        for (const h of ['server', 'outcome', 'latency']) hr.appendChild(el('th', null, h));
        t.appendChild(el('thead')).appendChild(hr);
        const tb = el('tbody');
        for (const a of addrs) {
          const tr = el('tr', addrBreaks(r, a) ? 'breaks' : null);
          tr.appendChild(el('td', 'addr', a.address === null ? '(none)' : a.address));
          const oc = el('td', 'outcome', a.outcome);
          if (a.error) oc.appendChild(el('span', 'err', a.error));
          tr.appendChild(oc);
          tr.appendChild(el('td', 'num', fmtMs(a.duration_seconds)));
          tb.appendChild(tr);
        }
        t.appendChild(tb);
        card.appendChild(t);
      }
      list.appendChild(card);
    }
    box.appendChild(list);
  }

  /* ---- the whole page ---- */

  function render(doc) {
    if (!doc || typeof doc !== 'object' || !Array.isArray(doc.rows))
      throw new Error('api/v1/matrix: unexpected document (no "rows" array)');
    const rows = doc.rows;
    rowsByKey = new Map(rows.map((r) => [rowKey(r), r]));
    const states = new Map();
    const counts = {};
    for (const r of rows) {
      const st = classify(r);
      states.set(rowKey(r), st);
      counts[st] = (counts[st] || 0) + 1;
    }
    lastDoc = doc;
    renderHeader(doc);
    renderSummary(rows, counts);
    renderGrid(rows, states);
    renderDns(rows, states);
    renderDetail();

    const bad = (counts.leak || 0) + (counts.blocked || 0);
    if (revealPinned) {
      revealPinned = false;
      if (rowsByKey.has(pinnedKey) && window.matchMedia('(max-width: 900px)').matches)
        $('detail').scrollIntoView({ block: 'start' });
    }
    document.title = (bad ? '✗ ' + bad + ' · ' : (counts.inconclusive ? '? ' : '✓ ')) + 'netcanary ' + doc.identity;
    $('main').classList.remove('loading');
  }

  function setBanner(text) {
    const b = $('banner');
    b.textContent = text || '';
    b.hidden = !text;
    $('main').classList.toggle('stale', Boolean(text) && lastDoc !== null);
  }

  function reportFailure(err) {
    const why = err && err.name === 'AbortError' ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s'
      : (err && err.message) || String(err);
    if (lastDoc) {
      const age = Math.round((Date.now() - lastOkAt) / 1000);
      setBanner('⚠ Stale: the last update failed (' + why + '). Showing data from ' +
        fmtClock(lastOkAt / 1000) + ', ' + age + ' s old. Retrying every ' + REFRESH_MS / 1000 + ' s.');
    } else {
      setBanner('⚠ Error: cannot load the matrix from ' + API + ' (' + why + '). Retrying every ' +
        REFRESH_MS / 1000 + ' s.');
      const p = $('detail').querySelector('.hint');
      if (p) p.textContent = 'No data: ' + why;
    }
    $('updated').textContent = lastOkAt ? fmtClock(lastOkAt / 1000) + ' (failing)' : 'never (failing)';
  }

  async function refresh() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const resp = await fetch(API, { cache: 'no-store', signal: ctl.signal, headers: { Accept: 'application/json' } });
      if (!resp.ok) throw new Error('HTTP ' + resp.status + (resp.statusText ? ' ' + resp.statusText : ''));
      const doc = await resp.json();
      render(doc);
      lastOkAt = Date.now();
      $('updated').textContent = fmtClock(lastOkAt / 1000);
      setBanner(null);
    } catch (err) {
      reportFailure(err);
    } finally {
      clearTimeout(timer);
      setTimeout(refresh, REFRESH_MS);
    }
  }

  /* ---- interaction: hover/focus previews a cell, click pins it (and the URL hash) ---- */

  function cellKey(ev) {
    const b = ev.target && ev.target.closest ? ev.target.closest('button.cellbtn') : null;
    return b ? b.dataset.key : null;
  }

  function pin(key) {
    pinnedKey = key;
    history.replaceState(null, '', key ? '#' + encodeURIComponent(key) : location.pathname + location.search);
    for (const ref of cellRefs.values()) setAttr(ref.b, 'aria-pressed', ref.key === key ? 'true' : null);
    renderDetail();
  }

  function init() {
    const grid = $('grid');
    grid.addEventListener('click', (ev) => {
      const k = cellKey(ev);
      if (!k) return;
      hoverKey = null;
      pin(k === pinnedKey ? null : k);
      if (k && window.matchMedia('(max-width: 900px)').matches)
        $('detail').scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
    grid.addEventListener('mouseover', (ev) => {
      const k = cellKey(ev);
      if (k && k !== hoverKey) { hoverKey = k; renderDetail(); }
    });
    grid.addEventListener('mouseleave', () => {
      if (hoverKey) { hoverKey = null; renderDetail(); }
    });
    grid.addEventListener('focusin', (ev) => {
      const k = cellKey(ev);
      if (k && k !== hoverKey) { hoverKey = k; renderDetail(); }
    });
    grid.addEventListener('focusout', (ev) => {
      if (hoverKey && !grid.contains(ev.relatedTarget)) { hoverKey = null; renderDetail(); }
    });
    window.addEventListener('hashchange', () => {
      pinnedKey = keyFromHash();
      renderDetail();
    });
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
