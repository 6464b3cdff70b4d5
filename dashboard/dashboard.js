/*
 * callgate supervisor dashboard: plain browser JS, no build step, no framework, no network beyond
 * its own origin. Watched on a wall screen for a whole shift, so:
 * - it never shows old figures as if they were current (stale banner + dimmed data after 5 s);
 * - it keeps trying on its own (WebSocket /stats, polling /api/stats every 2 s while the socket is
 *   down, reconnecting with capped backoff) and needs no one to press reload;
 * - it renders with textContent only (list names and alert messages come from configuration);
 * - nothing grows over a shift: tables are replaced, the chart's data is swapped in place.
 */
(function () {
  'use strict';

  var STALE_AFTER_MS = 5000;
  var POLL_EVERY_MS = 2000;
  /** Server pushes every second: a socket silent this long is half-open; drop it and reconnect. */
  var SOCKET_SILENCE_MS = 6000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  /** After a 401, keep checking slowly in case the token is restored server-side. */
  var DENIED_RETRY_MS = 30000;
  var DAY_MS = 86400000;

  var token = new URLSearchParams(location.search).get('token');
  var query = token === null ? '' : '?token=' + encodeURIComponent(token);

  // ---------- small helpers ----------

  function $(id) {
    return document.getElementById(id);
  }

  /** h('td', { class: 'n', 'data-x': 1 }, 'text', childNode) */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] === undefined || attrs[k] === null || attrs[k] === false) continue;
        el.setAttribute(k, String(attrs[k]));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null) continue;
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  var intFmt = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
  function fmtInt(v) {
    v = num(v);
    return v === null ? '—' : intFmt.format(v);
  }

  /** A rate with one decimal, or two below 1 % (small rates matter). No checks: no rate. */
  function fmtRate(rate, checks) {
    rate = num(rate);
    if (rate === null || num(checks) === 0) return '—';
    var pct = rate * 100;
    return (pct > 0 && pct < 1 ? pct.toFixed(2) : pct.toFixed(1)) + '%';
  }

  function fmtCompact(v) {
    v = num(v);
    if (v === null) return '—';
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 1 : 2) + ' M';
    if (v >= 1e4) return (v / 1e3).toFixed(0) + ' k';
    return intFmt.format(v);
  }

  function parseTime(iso) {
    if (typeof iso !== 'string') return null;
    var t = Date.parse(iso);
    return isNaN(t) ? null : t;
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  /** Local wall-clock time: supervisors read the dashboard in their own time zone. */
  function fmtClock(t) {
    var d = new Date(t);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  function fmtDate(t) {
    var d = new Date(t);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
  }

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  /** "2 Dec", or "2 Dec 2025" outside the current year: short enough for a table cell. */
  function fmtDay(t, now) {
    var d = new Date(t);
    var s = d.getDate() + ' ' + MONTHS[d.getMonth()];
    return d.getFullYear() === new Date(now).getFullYear() ? s : s + ' ' + d.getFullYear();
  }

  function sameDay(a, b) {
    return fmtDate(a) === fmtDate(b);
  }

  /** "14:05" today, "2025-01-14 14:05" otherwise. */
  function fmtWhen(t, now) {
    if (t === null) return '—';
    return sameDay(t, now) ? fmtClock(t) : fmtDay(t, now) + ' ' + fmtClock(t);
  }

  function fmtDuration(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    if (s < 60) return s + ' s';
    var m = Math.round(s / 60);
    if (m < 60) return m + ' min';
    var hr = Math.round(m / 60);
    if (hr < 48) return hr + ' h';
    return Math.round(hr / 24) + ' d';
  }

  function fmtAgo(t, now) {
    return t === null ? '—' : fmtDuration(now - t) + ' ago';
  }

  function fmtIn(t, now) {
    if (t === null) return '';
    return t >= now ? 'in ' + fmtDuration(t - now) : fmtDuration(now - t) + ' ago';
  }

  function arr(v) {
    return Array.isArray(v) ? v : [];
  }

  function obj(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  }

  // ---------- rendering ----------

  var latest = null; // last stats received
  var latestAt = null; // client clock when received (server clock may differ)

  function renderAlerts(stats) {
    var alerts = arr(stats.alerts).slice();
    var rank = { critical: 0, warning: 1 };
    alerts.sort(function (a, b) {
      var ra = rank[a.severity] === undefined ? 2 : rank[a.severity];
      var rb = rank[b.severity] === undefined ? 2 : rank[b.severity];
      return ra - rb || String(a.raisedAt).localeCompare(String(b.raisedAt));
    });
    var now = Date.now();
    var items = alerts.map(function (a) {
      var sev = a.severity === 'critical' ? 'critical' : 'warning';
      var raised = parseTime(a.raisedAt);
      return h(
        'li',
        { 'data-alert-id': a.id, 'data-severity': sev, 'data-kind': a.kind, class: 'alert alert-' + sev },
        h('span', { class: 'alert-sev' }, sev === 'critical' ? 'CRITICAL' : 'WARNING'),
        h('span', { class: 'alert-msg' }, typeof a.message === 'string' ? a.message : String(a.kind)),
        h('span', { class: 'alert-meta' }, (a.list ? a.list + ' · ' : '') + (raised === null ? '' : 'since ' + fmtWhen(raised, now))),
      );
    });
    $('alerts').replaceChildren.apply($('alerts'), items);
    $('alerts-empty').hidden = items.length > 0;

    // Block rate turns colour only when an alert is about it.
    var rateAlert = null;
    alerts.forEach(function (a) {
      if (typeof a.kind === 'string' && a.kind.indexOf('block_rate') === 0 && rateAlert !== 'critical') rateAlert = a.severity === 'critical' ? 'critical' : 'warning';
    });
    ['kpi-rate-1m', 'kpi-rate-15m'].forEach(function (id) {
      if (rateAlert === null) $(id).removeAttribute('data-alert');
      else $(id).setAttribute('data-alert', rateAlert);
    });
  }

  function renderKpis(stats) {
    var w = obj(stats.windows);
    var w1 = obj(w['1m']);
    var w15 = obj(w['15m']);
    var w1h = obj(w['1h']);
    var w1d = obj(w['1d']);
    setValue('block-rate-1m', fmtRate(w1.blockRate, w1.checks), w1.blockRate);
    $('block-rate-1m-sub').textContent = fmtInt(w1.blocked) + ' blocked of ' + fmtInt(w1.checks);
    setValue('block-rate-15m', fmtRate(w15.blockRate, w15.checks), w15.blockRate);
    $('block-rate-15m-sub').textContent = fmtInt(w15.blocked) + ' blocked of ' + fmtInt(w15.checks);
    setValue('checks-1m', fmtInt(w1.checks), w1.checks);
    var perMin15 = num(w15.checks) === null ? null : Math.round(w15.checks / 15);
    $('checks-1m-sub').textContent = 'avg ' + fmtInt(perMin15) + '/min over 15 min';
    setValue('block-rate-1h', fmtRate(w1h.blockRate, w1h.checks), w1h.blockRate);
    setValue('block-rate-1d', fmtRate(w1d.blockRate, w1d.checks), w1d.blockRate);
    setValue('checks-1h', fmtInt(w1h.checks), w1h.checks);
    setValue('checks-1d', fmtInt(w1d.checks), w1d.checks);

    var reasons = Object.keys(obj(w15.byReason)).map(function (r) {
      return { reason: r, count: num(w15.byReason[r]) || 0 };
    });
    reasons.sort(function (a, b) {
      return b.count - a.count || a.reason.localeCompare(b.reason);
    });
    var total = reasons.reduce(function (s, r) {
      return s + r.count;
    }, 0);
    var shown = reasons.slice(0, 6);
    var items = shown.map(function (r) {
      var share = total > 0 ? r.count / total : 0;
      var bar = h('span', { class: 'bar' });
      bar.style.width = (share * 100).toFixed(1) + '%';
      return h(
        'li',
        { 'data-reason': r.reason, 'data-count': r.count },
        h('span', { class: 'reason-name' }, r.reason),
        h('span', { class: 'reason-bar' }, bar),
        h('span', { class: 'reason-count' }, fmtInt(r.count)),
        h('span', { class: 'reason-share' }, Math.round(share * 100) + '%'),
      );
    });
    if (items.length === 0) items.push(h('li', { class: 'muted' }, 'nothing blocked'));
    $('reasons-15m').replaceChildren.apply($('reasons-15m'), items);
  }

  /** The formatted text, plus the raw value in data-value for tests and for anyone inspecting. */
  function setValue(id, text, raw) {
    var el = $(id);
    el.textContent = text;
    if (num(raw) === null) el.removeAttribute('data-value');
    else el.setAttribute('data-value', String(raw));
  }

  function renderCampaigns(stats) {
    var rows = arr(stats.campaigns).slice();
    rows.sort(function (a, b) {
      return (num(b.checks) || 0) - (num(a.checks) || 0) || String(a.campaign).localeCompare(String(b.campaign));
    });
    var trs = rows.map(function (c) {
      // Share of this campaign's blocks: comparable across campaigns of different sizes.
      var blocked = num(c.blocked) || 0;
      var reasons = arr(c.topReasons)
        .slice(0, 2)
        .map(function (r) {
          var n = num(r.count);
          return r.reason + ' ' + (blocked > 0 && n !== null ? Math.round((n / blocked) * 100) + '%' : fmtInt(n));
        })
        .join(' · ');
      return h(
        'tr',
        { 'data-campaign': c.campaign },
        h('td', { class: 'l name' }, c.campaign),
        h('td', { 'data-col': 'checks' }, fmtInt(c.checks)),
        h('td', { 'data-col': 'blocked' }, fmtInt(c.blocked)),
        h('td', { 'data-col': 'rate', class: 'strong' }, fmtRate(c.blockRate, c.checks)),
        h('td', { 'data-col': 'reasons', class: 'l muted' }, reasons || '—'),
      );
    });
    if (trs.length === 0) trs.push(h('tr', { class: 'empty' }, h('td', { colspan: 5, class: 'l muted' }, 'no checks in the last 15 minutes')));
    var tbody = $('campaigns').tBodies[0];
    tbody.replaceChildren.apply(tbody, trs);
  }

  var FRESHNESS_TEXT = { fresh: 'fresh', ageing: 'ageing', stale: 'STALE', none: '' };

  function renderLists(stats) {
    var now = Date.now();
    var trs = arr(stats.lists).map(function (l) {
      var freshness = FRESHNESS_TEXT.hasOwnProperty(l.freshness) ? l.freshness : 'none';
      var source = parseTime(l.sourceDate);
      var loaded = parseTime(l.loadedAt);
      var staleAt = parseTime(l.staleAt);
      var next = parseTime(l.nextRefresh);
      // Age counts from the source's own date (what staleness is measured from), not from the load.
      var ageDays = source === null ? null : Math.floor((now - source) / DAY_MS);
      return h(
        'tr',
        { 'data-list': l.name, 'data-freshness': freshness, 'data-kind': l.kind, class: 'fresh-' + freshness },
        h('td', { class: 'l name' }, l.name, freshness === 'ageing' || freshness === 'stale' ? h('span', { class: 'tag tag-' + freshness }, FRESHNESS_TEXT[freshness]) : null),
        h('td', { class: 'l muted' }, l.kind),
        h('td', { 'data-col': 'count', 'data-value': num(l.count) }, fmtCompact(l.count)),
        h('td', { 'data-col': 'generation', class: 'muted' }, l.generation === undefined || l.generation === null ? '—' : String(l.generation)),
        h(
          'td',
          { 'data-col': 'source-date', class: 'l' },
          source === null ? (loaded === null ? 'not loaded' : '—') : fmtDay(source, now),
        ),
        h('td', { 'data-col': 'age', class: 'age', 'data-value': ageDays }, ageDays === null ? '—' : ageDays + ' d'),
        h('td', { 'data-col': 'stale-at', class: 'l stale-at' }, staleAt === null ? 'never' : fmtDay(staleAt, now) + ' · ' + fmtIn(staleAt, now)),
        h('td', { 'data-col': 'intraday' }, fmtInt(l.intradayAdditions)),
        h('td', { 'data-col': 'next-refresh', class: 'l muted' }, next === null ? '—' : fmtWhen(next, now) + ' · ' + fmtIn(next, now)),
      );
    });
    if (trs.length === 0) trs.push(h('tr', { class: 'empty' }, h('td', { colspan: 9, class: 'l muted' }, 'no lists')));
    var tbody = $('lists').tBodies[0];
    tbody.replaceChildren.apply(tbody, trs);
  }

  function renderSidecars(stats) {
    var now = Date.now();
    var rows = arr(stats.sidecars).slice();
    // Down first: that is what a supervisor must see.
    rows.sort(function (a, b) {
      return (a.up === false ? 0 : 1) - (b.up === false ? 0 : 1) || String(a.id).localeCompare(String(b.id));
    });
    var trs = rows.map(function (s) {
      var up = s.up !== false;
      var seen = parseTime(s.lastSeen);
      var p99 = num(s.p99Ms);
      return h(
        'tr',
        { 'data-sidecar': s.id, 'data-up': up ? 'true' : 'false', class: up ? 'up' : 'down' },
        h('td', { class: 'l name' }, s.id, h('span', { class: 'mode', 'data-col': 'mode' }, s.mode || '')),
        h('td', { 'data-col': 'state', class: 'l state' }, up ? 'up' : 'DOWN'),
        h('td', { 'data-col': 'last-seen' }, fmtAgo(seen, now)),
        h('td', { 'data-col': 'checks' }, fmtInt(s.checks1m)),
        h('td', { 'data-col': 'blocked' }, fmtInt(s.blocked1m)),
        h('td', { 'data-col': 'p99' }, p99 === null ? '—' : (p99 < 10 ? p99.toFixed(2) : p99.toFixed(0)) + ' ms'),
      );
    });
    if (trs.length === 0) trs.push(h('tr', { class: 'empty' }, h('td', { colspan: 7, class: 'l muted' }, 'no sidecar reporting')));
    var tbody = $('sidecars').tBodies[0];
    tbody.replaceChildren.apply(tbody, trs);
  }

  // ---------- chart ----------

  var plot = null;

  function chartSize() {
    var el = $('chart');
    return { width: Math.max(200, el.clientWidth), height: Math.max(120, el.clientHeight) };
  }

  function chartFontPx() {
    return parseFloat(getComputedStyle(document.body).fontSize) || 16;
  }

  var chartFont = null;
  var chartLast = null;

  function chartData(stats) {
    var series = arr(stats.series);
    var generated = parseTime(stats.generatedAt);
    var xs = [];
    var rate = [];
    var checks = [];
    series.forEach(function (p) {
      var t = num(p.t);
      if (t === null) return;
      // The minute in progress is partial: its low count would read as a drop. The KPIs cover it.
      if (generated !== null && t + 60000 > generated) return;
      var c = num(p.checks) || 0;
      var b = num(p.blocked) || 0;
      xs.push(t / 1000);
      checks.push(c);
      rate.push(c > 0 ? (b / c) * 100 : null);
    });
    return [xs, rate, checks];
  }

  function makePlot(data) {
    if (typeof uPlot !== 'function') return null;
    var size = chartSize();
    var grid = { stroke: 'rgba(255,255,255,0.07)', width: 1 };
    var ticks = { stroke: 'rgba(255,255,255,0.15)', width: 1, size: 6 };
    // Axis text follows the page's font size, which follows the screen width (1080p to 4K walls).
    var fs = chartFontPx();
    var axisFont = Math.round(fs * 0.85) + 'px system-ui, sans-serif';
    var opts = {
      width: size.width,
      height: size.height,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      scales: {
        x: { time: true },
        pct: {
          auto: true,
          range: function (u, min, max) {
            return [0, Math.max(5, Math.ceil(((max || 0) * 1.15) / 5) * 5)];
          },
        },
        n: {
          range: function (u, min, max) {
            return [0, Math.max(10, (max || 0) * 1.1)];
          },
        },
      },
      axes: [
        { stroke: '#9aa0a6', font: axisFont, grid: grid, ticks: ticks, space: Math.round(fs * 5), size: Math.round(fs * 2.2), values: function (u, splits) { return splits.map(function (s) { return fmtClock(s * 1000); }); } },
        {
          scale: 'pct',
          stroke: '#e8eaed',
          font: axisFont,
          grid: grid,
          ticks: ticks,
          size: Math.round(fs * 3.4),
          space: Math.round(fs * 2.6),
          values: function (u, splits) {
            return splits.map(function (s) { return s + '%'; });
          },
        },
        {
          scale: 'n',
          side: 1,
          stroke: '#7d8590',
          font: axisFont,
          grid: { show: false },
          ticks: ticks,
          size: Math.round(fs * 4),
          space: Math.round(fs * 2.6),
          values: function (u, splits) {
            return splits.map(function (s) { return fmtCompact(s); });
          },
        },
      ],
      series: [
        {},
        { label: 'block rate', scale: 'pct', stroke: '#f1f3f4', width: Math.max(2, Math.round(fs / 6)), points: { show: false }, spanGaps: false },
        {
          label: 'checks',
          scale: 'n',
          stroke: 'rgba(125,140,160,0.0)',
          fill: 'rgba(125,140,160,0.35)',
          paths: uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined,
          points: { show: false },
        },
      ],
    };
    // Bars first so the rate line is drawn over them.
    opts.series = [opts.series[0], opts.series[2], opts.series[1]];
    return new uPlot(opts, [data[0], data[2], data[1]], $('chart'));
  }

  function renderChart(stats) {
    var data = chartData(stats);
    chartLast = data;
    if (plot === null) {
      chartFont = chartFontPx();
      plot = makePlot(data);
    } else plot.setData([data[0], data[2], data[1]]);
  }

  // The chart's box changes with the window and with the number of alerts above it.
  var resizeTimer = null;
  function onChartResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      if (plot === null) return;
      if (chartFontPx() !== chartFont && chartLast !== null) {
        // Fonts and axis widths are fixed at creation: rebuild for the new scale.
        plot.destroy();
        plot = null;
        chartFont = chartFontPx();
        plot = makePlot(chartLast);
        return;
      }
      var size = chartSize();
      if (size.width !== plot.width || size.height !== plot.height) plot.setSize(size);
    }, 100);
  }
  if (typeof ResizeObserver === 'function') new ResizeObserver(onChartResize).observe($('chart'));
  else window.addEventListener('resize', onChartResize);

  // ---------- applying a snapshot ----------

  function section(name, fn, stats) {
    // One malformed section must not blank the rest of the wall screen.
    try {
      fn(stats);
    } catch (err) {
      console.error('dashboard: cannot render ' + name, err);
    }
  }

  function apply(stats) {
    if (stats === null || typeof stats !== 'object') return;
    latest = stats;
    latestAt = Date.now();
    $('scope').textContent = stats.scope === 'fleet' ? 'fleet' : stats.scope === 'process' ? 'this process only' : '—';
    $('scope').setAttribute('data-scope', String(stats.scope));
    section('alerts', renderAlerts, stats);
    section('key figures', renderKpis, stats);
    section('campaigns', renderCampaigns, stats);
    section('lists', renderLists, stats);
    section('sidecars', renderSidecars, stats);
    section('chart', renderChart, stats);
    tick();
  }

  // ---------- connection ----------

  var STATE_TEXT = {
    connecting: 'connecting…',
    live: 'live',
    polling: 'live (polling)',
    lost: 'connection lost — retrying',
    denied: 'access denied',
  };
  var state = 'connecting';
  var socket = null;
  var socketOpen = false;
  var socketTimer = null; // reconnect
  var silenceTimer = null;
  var backoffMs = BACKOFF_MIN_MS;
  var pollTimer = null;
  var polling = false;

  function setState(s) {
    if (state === s) return;
    state = s;
    var el = $('connection-state');
    el.setAttribute('data-state', s);
    document.body.setAttribute('data-connection', s);
    $('denied').hidden = s !== 'denied';
    tick();
  }

  function statsUrl() {
    return 'api/stats' + query;
  }

  function socketUrl() {
    var u = new URL('stats' + query, location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  function openSocket() {
    socketTimer = null;
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      socketFailed();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      if (socket !== ws) return;
      socketOpen = true;
      armSilence(ws);
    };
    ws.onmessage = function (ev) {
      if (socket !== ws) return;
      var data;
      try {
        data = JSON.parse(ev.data);
      } catch (err) {
        console.error('dashboard: bad frame', err);
        return;
      }
      backoffMs = BACKOFF_MIN_MS;
      stopPolling();
      setState('live');
      armSilence(ws);
      apply(data);
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socketFailed();
    };
    ws.onerror = function () {
      // onclose follows; nothing to do here.
    };
  }

  function armSilence(ws) {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(function () {
      if (socket === ws) ws.close();
      if (socket === ws) socketFailed();
    }, SOCKET_SILENCE_MS);
  }

  function socketFailed() {
    clearTimeout(silenceTimer);
    if (socket !== null) {
      var ws = socket;
      socket = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch (err) {
        /* already closing */
      }
    }
    socketOpen = false;
    if (state === 'live') setState('polling');
    startPolling();
    scheduleSocket();
  }

  function scheduleSocket() {
    if (socketTimer !== null || state === 'denied') return;
    // Full jitter: a fleet of wall screens must not reconnect in lock-step after a restart.
    var wait = Math.round(backoffMs / 2 + Math.random() * (backoffMs / 2));
    backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
    socketTimer = setTimeout(openSocket, wait);
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    poll();
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  /** One GET /api/stats; applies the data. Resolves 'ok' | 'denied' | 'failed', never rejects. */
  function fetchStats() {
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var abortTimer = ctrl
      ? setTimeout(function () {
          ctrl.abort();
        }, POLL_EVERY_MS * 2)
      : null;
    return fetch(statsUrl(), { cache: 'no-store', credentials: 'same-origin', signal: ctrl ? ctrl.signal : undefined })
      .then(function (res) {
        if (res.status === 401 || res.status === 403) return 'denied';
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json().then(function (data) {
          if (polling) apply(data);
          return 'ok';
        });
      })
      .catch(function () {
        return 'failed';
      })
      .then(function (r) {
        clearTimeout(abortTimer);
        return r;
      });
  }

  function poll() {
    pollTimer = null;
    if (!polling) return;
    fetchStats().then(function (r) {
      if (!polling) return;
      if (r === 'denied') {
        deny();
        return next(DENIED_RETRY_MS);
      }
      if (r === 'ok') {
        if (state === 'denied') {
          // Access restored (token re-enabled server-side): back to the socket.
          backoffMs = BACKOFF_MIN_MS;
          state = 'polling';
          scheduleSocket();
        }
        if (!socketOpen) setState('polling');
      } else if (latest === null || dataAgeMs() > STALE_AFTER_MS) {
        setState('lost');
      }
      next(POLL_EVERY_MS);
    });
  }

  function next(ms) {
    if (!polling) return;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  function deny() {
    setState('denied');
    if (socket !== null) {
      var ws = socket;
      socket = null;
      socketOpen = false;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close();
    }
    clearTimeout(silenceTimer);
    clearTimeout(socketTimer);
    socketTimer = null;
    backoffMs = BACKOFF_MIN_MS;
  }

  function dataAgeMs() {
    return latestAt === null ? Infinity : Date.now() - latestAt;
  }

  // ---------- once a second: ages, stale warning ----------

  function tick() {
    var age = dataAgeMs();
    var stale = age > STALE_AFTER_MS;
    if (stale && (state === 'live' || state === 'polling')) setState('lost');
    $('connection-state').textContent = STATE_TEXT[state];
    var denied = state === 'denied';
    $('last-updated').textContent = denied ? '' : latestAt === null ? 'waiting for data' : 'updated ' + fmtDuration(age) + ' ago';
    $('stale-warning').hidden = denied || !stale || latestAt === null;
    $('stale-seconds').textContent = latestAt === null ? '' : String(Math.floor(age / 1000));
    document.body.toggleAttribute('data-stale', stale && latestAt !== null);
    if (latest !== null && !stale) {
      // Relative ages ("last seen 3 s ago") move with the clock, not only with new data.
      section('sidecars', renderSidecars, latest);
    }
  }

  setInterval(tick, 1000);
  // Poll from the start: it fills the screen before the socket's first push and tells a 401 (which a
  // browser hides on a WebSocket handshake) from a dead server; the first socket message stops it.
  startPolling();
  openSocket();
})();
