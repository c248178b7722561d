// The Mesh dashboard: draws the control plane's snapshots (/dashboard/events, one a second) as a service graph and
// tables. Plain JavaScript and SVG, no dependencies. Everything from the snapshot is inserted as text, never as HTML.
'use strict';

(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const base = location.pathname.replace(/\/+$/, '');
  const BOX_WIDTH = 200, HEADER = 34, ROW = 28, PAD = 8, COLUMN_GAP = 190, BOX_GAP = 22, BAND_GAP = 18, BAND_PAD = 26;
  const SPLIT_COLORS = ['#2b6cb0', '#d97706', '#7c3aed', '#0f766e', '#be185d', '#4d7c0f'];
  let latest = null;
  let selected = null;
  const openServices = new Set();

  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') element.className = value;
      else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? '' : String(value));
    }
    append(element, children);
    return element;
  }

  function s(tag, attrs, ...children) {
    const element = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, String(value));
    }
    append(element, children);
    return element;
  }

  function append(element, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
  }

  const fmtRps = (x) => x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  const fmtPct = (x) => x === null || x === undefined ? '–' : (x * 100).toFixed(x >= 0.1 || x === 0 ? 0 : 1) + ' %';
  const fmtMs = (x) => x === null || x === undefined ? '–' : (x < 10 ? x.toFixed(1) : x.toFixed(0)) + ' ms';
  const fmtWeight = (x) => x === null || x === undefined ? '–' : x + ' %';
  const destinationName = (edge, services) => (services.get(edge.service)?.name ?? edge.host) + (edge.subset ? ' ' + edge.subset : '');

  function lockIcon(x, y) {
    return s('g', { class: 'lock', transform: `translate(${x},${y})` },
      s('title', {}, 'mutual TLS'),
      s('path', { d: 'M3 6V4a3 3 0 0 1 6 0v2' }),
      s('rect', { x: 1, y: 6, width: 10, height: 7, rx: 1.5 }));
  }

  // ---- Graph -------------------------------------------------------------------------------------------------------

  function layout(snapshot) {
    const boxes = [];          // { id, kind, ns, title, sub, workloads:[{id,name,connected}], service }
    const boxOfWorkload = new Map();
    for (const ns of snapshot.namespaces) {
      for (const service of ns.services) {
        const box = { id: service.id, kind: 'service', ns: ns.name, title: service.name, service,
          sub: service.external ? 'not in the configuration' : service.ports.join(', '),
          workloads: service.workloads.map(w => ({ id: w.id, name: w.name, connected: w.connected, endpoints: w.endpoints.length })) };
        boxes.push(box);
        for (const w of box.workloads) if (!boxOfWorkload.has(w.id)) boxOfWorkload.set(w.id, box);
      }
      for (const w of ns.workloads) {
        const box = { id: 'wl:' + w.id, kind: 'lone', ns: ns.name, title: w.name, sub: 'client only', workloads: [{ id: w.id, name: w.name, connected: w.connected, endpoints: 0 }] };
        boxes.push(box);
        boxOfWorkload.set(w.id, box);
      }
    }

    const byId = new Map(boxes.map(b => [b.id, b]));
    // Columns: the longest chain of calls leading to a box (bounded, so cycles end).
    const depth = new Map(boxes.map(b => [b.id, 0]));
    const links = [];
    for (const edge of snapshot.edges) {
      const from = boxOfWorkload.get(edge.source);
      const to = byId.get(edge.service);
      if (from && to && from !== to) links.push([from.id, to.id]);
    }
    for (let i = 0; i < boxes.length; i++) {
      let changed = false;
      for (const [from, to] of links) {
        if (depth.get(to) < depth.get(from) + 1 && depth.get(from) + 1 < boxes.length) { depth.set(to, depth.get(from) + 1); changed = true; }
      }
      if (!changed) break;
    }

    const columns = Math.max(1, ...[...depth.values()].map(d => d + 1));
    const namespaces = [...new Set(boxes.map(b => b.ns))];
    const bands = [];
    let y = 10;
    for (const ns of namespaces) {
      const heights = new Array(columns).fill(BAND_PAD);
      for (const box of boxes.filter(b => b.ns === ns)) {
        const column = depth.get(box.id);
        box.x = 30 + column * (BOX_WIDTH + COLUMN_GAP);
        box.y = y + heights[column];
        box.height = HEADER + Math.max(1, box.workloads.length) * ROW + PAD;
        if (box.kind === 'lone') box.height = HEADER + ROW + PAD;
        heights[column] += box.height + BOX_GAP;
      }
      const height = Math.max(...heights) - BOX_GAP + 10;
      bands.push({ ns, y, height });
      y += height + BAND_GAP;
    }

    const width = 30 + columns * (BOX_WIDTH + COLUMN_GAP) - COLUMN_GAP + 40;
    const anchor = new Map(); // workload id -> {left, right} points
    for (const box of boxes) {
      box.workloads.forEach((w, i) => {
        const cy = box.y + HEADER + i * ROW + ROW / 2 - 2;
        anchor.set(w.id, { lx: box.x + 6, rx: box.x + BOX_WIDTH - 6, y: cy, box });
      });
    }
    return { boxes, byId, bands, width, height: y, anchor };
  }

  function drawGraph(snapshot, services) {
    const svg = document.getElementById('graph');
    const empty = document.getElementById('graph-empty');
    const g = layout(snapshot);
    svg.replaceChildren();
    svg.setAttribute('width', g.width);
    svg.setAttribute('height', Math.max(g.height, 60));
    svg.setAttribute('viewBox', `0 0 ${g.width} ${Math.max(g.height, 60)}`);

    const defs = s('defs');
    for (const [name, color] of [['healthy', '#2e9d4f'], ['degraded', '#d99a00'], ['failing', '#d63232'], ['idle', '#a3acb5']]) {
      defs.appendChild(s('marker', { id: 'arrow-' + name, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0 0 L10 5 L0 10 z', fill: color })));
    }
    svg.appendChild(defs);

    for (const band of g.bands) {
      svg.appendChild(s('rect', { class: 'ns-band', x: 6, y: band.y, width: g.width - 12, height: band.height, rx: 8 }));
      svg.appendChild(s('text', { class: 'ns-label', x: 16, y: band.y + 17 }, 'namespace ' + band.ns));
    }

    for (const box of g.boxes) {
      const group = s('g', { class: box.kind === 'service' ? 'service' : 'lone', 'data-id': box.id, 'data-name': box.title,
        onclick: () => select(box.kind === 'service' ? box.id : null) });
      group.appendChild(s('rect', { class: 'service-box' + (box.service?.external ? ' external' : '') + (selected === box.id ? ' selected' : ''),
        x: box.x, y: box.y, width: BOX_WIDTH, height: box.height, rx: 6 }));
      group.appendChild(s('text', { class: 'service-title', x: box.x + 10, y: box.y + 16 }, box.title));
      group.appendChild(s('text', { class: 'service-sub', x: box.x + 10, y: box.y + 28 }, box.sub));
      box.workloads.forEach((w, i) => {
        const wy = box.y + HEADER + i * ROW;
        group.appendChild(s('g', { class: 'workload' + (w.connected ? ' connected' : ''), 'data-workload': w.id },
          s('title', {}, w.id + (w.connected ? ' — connected to the control plane' : '') + (w.endpoints ? ` — ${w.endpoints} endpoint(s)` : '')),
          s('rect', { x: box.x + 6, y: wy, width: BOX_WIDTH - 12, height: ROW - 4, rx: 4 }),
          s('circle', { class: 'dot', cx: box.x + 16, cy: wy + (ROW - 4) / 2, r: 3.5 }),
          s('text', { x: box.x + 26, y: wy + 16 }, w.name)));
      });
      svg.appendChild(group);
    }

    const labels = [];
    for (const edge of snapshot.edges) {
      const from = g.anchor.get(edge.source);
      let to;
      if (edge.target && g.anchor.has(edge.target)) { const a = g.anchor.get(edge.target); to = { x: a.lx, y: a.y }; }
      else { const box = g.byId.get(edge.service); if (!box) continue; to = { x: box.x, y: box.y + 16 }; }
      if (!from) continue;
      const start = { x: from.rx, y: from.y };
      const forward = to.x > start.x + 20;
      const bend = forward ? Math.max(60, (to.x - start.x) / 2) : 120;
      const c1 = { x: start.x + bend, y: start.y };
      const c2 = { x: to.x - bend, y: to.y };
      const d = `M${start.x} ${start.y} C${c1.x} ${c1.y} ${c2.x} ${c2.y} ${to.x} ${to.y}`;
      const mid = bezier(start, c1, c2, to, 0.5);
      const group = s('g', { class: 'edge ' + edge.health, 'data-edge': edge.id, 'data-source': edge.sourceWorkload,
        'data-destination': destinationName(edge, services), 'data-rps': edge.rps, 'data-error-rate': edge.errorRate ?? '',
        'data-share': edge.share ?? '', 'data-health': edge.health, 'data-mtls': String(edge.mtls) });
      const width = edge.rps > 0 ? Math.min(7, 1.5 + Math.log10(1 + edge.rps) * 2.2) : 1.5;
      group.appendChild(s('path', { d, 'stroke-width': width.toFixed(2), 'marker-end': `url(#arrow-${edge.health})` }));
      labels.push({ group, mid, edge });
      svg.appendChild(group);
    }

    // Labels last, so they sit above every line; nudged apart when two would overlap.
    const placed = [];
    for (const { group, mid, edge } of labels) {
      const line1 = `${fmtRps(edge.rps)} rps` + (edge.share !== null && edge.share !== undefined && edge.share < 0.9995 ? ` · ${fmtPct(edge.share)}` : '');
      const line2 = `err ${fmtPct(edge.errorRate)}`;
      const line3 = `p50 ${fmtMs(edge.p50Ms)} · p99 ${fmtMs(edge.p99Ms)}`;
      const w = 118, hgt = 44;
      let x = mid.x - w / 2, y = mid.y - hgt / 2;
      for (let i = 0; i < 20 && placed.some(p => Math.abs(p.x - x) < w && Math.abs(p.y - y) < hgt + 2); i++) y += hgt / 2 + 2;
      placed.push({ x, y });
      const label = s('g', { class: 'edge-label' },
        s('rect', { x, y, width: w, height: hgt }),
        s('text', { x: x + 6, y: y + 13 }, line1),
        s('text', { class: 'err', x: x + 6, y: y + 26 }, line2),
        s('text', { x: x + 6, y: y + 39 }, line3));
      if (edge.mtls) label.appendChild(lockIcon(x + w - 16, y + 3));
      group.appendChild(label);
    }

    const anyWorkload = g.boxes.length > 0;
    empty.hidden = snapshot.edges.length > 0 && anyWorkload;
    empty.textContent = !anyWorkload ? 'No services yet: the configuration declares none.'
      : snapshot.loadReporting ? 'No traffic reported yet: clients report their load every few seconds.'
        : 'No traffic reported: start the control plane with --load-reporting true so clients report their load.';
  }

  function bezier(p0, p1, p2, p3, t) {
    const u = 1 - t;
    return {
      x: u * u * u * p0.x + 3 * u * u * t * p1.x + 3 * u * t * t * p2.x + t * t * t * p3.x,
      y: u * u * u * p0.y + 3 * u * u * t * p1.y + 3 * u * t * t * p2.y + t * t * t * p3.y,
    };
  }

  // ---- Tables ------------------------------------------------------------------------------------------------------

  function drawEdges(snapshot, services) {
    const body = document.querySelector('#edges tbody');
    const rows = snapshot.edges.map(edge => h('tr', { 'data-edge': edge.id, 'data-source': edge.sourceWorkload,
      'data-destination': destinationName(edge, services), 'data-rps': edge.rps, 'data-error-rate': edge.errorRate ?? '',
      'data-share': edge.share ?? '', 'data-health': edge.health, 'data-mtls': String(edge.mtls) },
      h('td', {}, edge.sourceWorkload, h('span', { class: 'none' }, ' · ' + edge.sourceNamespace)),
      h('td', {}, destinationName(edge, services), edge.port ? h('span', { class: 'none' }, ' :' + edge.port) : null),
      h('td', { class: 'num' }, fmtRps(edge.rps)),
      h('td', { class: 'num' }, fmtPct(edge.share)),
      h('td', { class: 'num' }, fmtWeight(edge.weight)),
      h('td', { class: 'num' }, fmtPct(edge.errorRate)),
      h('td', { class: 'num' }, fmtMs(edge.p50Ms)),
      h('td', { class: 'num' }, fmtMs(edge.p99Ms)),
      h('td', {}, edge.mtls ? 'mTLS' : 'plaintext'),
      h('td', {}, h('span', { class: 'pill ' + edge.health }, edge.health))));
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 10, class: 'none' }, 'No traffic reported yet.')));
    body.replaceChildren(...rows);
  }

  function drawServices(snapshot) {
    const container = document.getElementById('services');
    const cards = [];
    for (const ns of snapshot.namespaces) {
      for (const service of ns.services) {
        const kv = h('div', { class: 'kv' });
        const row = (key, ...value) => { kv.appendChild(h('div', {}, key)); kv.appendChild(h('div', {}, ...value)); };
        row('Host', h('span', { class: 'mono' }, service.host));
        if (service.declaredBy) row('Declared by', h('span', { class: 'mono' }, service.declaredBy));
        row('Ports', service.ports.join(', ') || '–');
        const endpoints = [];
        for (const w of service.workloads) {
          for (const e of w.endpoints) {
            endpoints.push(h('div', { class: 'mono' }, `${w.name}  ${e.address} (${e.ports})  `,
              h('span', { class: 'pill ' + (e.health === 'HEALTHY' ? 'yes' : 'no') }, e.health),
              `  mTLS ${e.mtlsMode}` + (e.locality ? `  ${e.locality}` : '')));
          }
        }
        row('Endpoints', endpoints.length ? endpoints : h('span', { class: 'none' }, 'none'));
        row('mTLS (PeerAuthentication)', service.mtlsMode ?? '–',
          ...service.peerAuthentications.map(p => h('div', { class: 'mono' }, `${p.name} (${p.scope}): ${p.mode} — ${p.declaredBy}`)));
        row('VirtualService', service.virtualService ? routes(service.virtualService) : h('span', { class: 'none' }, 'none (round robin over every endpoint)'));
        row('DestinationRule', service.destinationRule
          ? [h('div', { class: 'mono' }, service.destinationRule.declaredBy),
            h('div', {}, `subsets: ${service.destinationRule.subsets.map(x => x.name + ' {' + Object.entries(x.labels).map(([k, v]) => k + '=' + v).join(',') + '}').join(', ') || 'none'}; `
              + `load balancer ${service.destinationRule.loadBalancer}` + (service.destinationRule.tlsMode ? `; TLS ${service.destinationRule.tlsMode}` : ''))]
          : h('span', { class: 'none' }, 'none'));
        row('AuthorizationPolicy', service.authorizationPolicies.length
          ? service.authorizationPolicies.map(p => h('div', { class: 'mono' }, `${p.name}: ${p.action}, ${p.rules} rule(s) — ${p.declaredBy}`))
          : h('span', { class: 'none' }, 'none (every caller allowed)'));
        const card = h('details', { class: 'service', 'data-service': service.id, open: openServices.has(service.id) || selected === service.id,
          ontoggle: (e) => { if (e.target.open) openServices.add(service.id); else openServices.delete(service.id); } },
          h('summary', {}, service.name, h('small', {}, `${ns.name} · ${service.workloads.length} workload(s)` + (service.virtualService ? ' · routed' : '') + (service.mtlsMode === 'STRICT' ? ' · mTLS STRICT' : ''))),
          kv);
        cards.push(card);
      }
    }
    container.replaceChildren(...cards);
  }

  function routes(vs) {
    const items = [h('div', { class: 'mono' }, vs.declaredBy)];
    vs.rules.forEach((rule, i) => {
      const bar = h('span', { class: 'split' }, ...rule.destinations.map((d, j) =>
        h('span', { style: `width:${d.percent}%;background:${SPLIT_COLORS[j % SPLIT_COLORS.length]}`, title: `${d.name} ${d.subset ?? ''} ${d.percent} %` })));
      const text = rule.destinations.map(d => `${d.name}${d.subset ? ' ' + d.subset : ''} ${d.percent} %`).join(', ')
        || (rule.redirect ? 'redirect' : rule.directResponse ? 'direct response' : 'no destination');
      items.push(h('div', { class: 'rule', 'data-rule': i }, `${rule.name ? rule.name + ': ' : ''}${rule.match} → `, bar, text,
        rule.fault ? h('span', { class: 'nack' }, '  fault: ' + rule.fault) : null,
        rule.timeout ? `  timeout ${rule.timeout}` : null, rule.retries ? `  retries ${rule.retries}` : null));
    });
    return items;
  }

  function drawClients(snapshot) {
    const body = document.querySelector('#clients tbody');
    const rows = snapshot.clients.map(c => h('tr', { 'data-node': c.nodeId, 'data-connected': String(c.connected) },
      h('td', { class: 'mono' }, c.nodeId),
      h('td', {}, c.workload || '–', h('span', { class: 'none' }, ' · ' + c.namespace)),
      h('td', {}, h('span', { class: 'pill ' + (c.connected ? 'yes' : 'no') }, c.connected ? 'connected' : 'disconnected'),
        ' ', h('span', { class: 'none' }, c.connected ? `${c.protocol} since ${new Date(c.connectedAt).toLocaleTimeString()}` : `at ${new Date(c.disconnectedAt).toLocaleTimeString()}`)),
      h('td', {}, ...c.types.map(t => h('span', { class: 'type ' + t.status, title: `${t.status}; sent ${t.sentVersion ?? '–'}; ${t.resources} resource(s)` },
        `${t.type} ${t.ackedVersion ?? '–'}` + (t.status === 'ACKED' ? ' ✓' : ' ' + t.status)))),
      h('td', {}, c.lastNack ? h('span', { class: 'nack' }, `${c.lastNack.message} (stays on ${c.lastNack.version || 'nothing'}, ${new Date(c.lastNack.at).toLocaleTimeString()})`) : h('span', { class: 'none' }, 'none'))));
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 5, class: 'none' }, 'No client is connected.')));
    body.replaceChildren(...rows);
  }

  function errorItem(e) {
    return h('li', { class: 'config-error' }, h('span', { class: 'origin' }, e.origin),
      e.resource ? [': ', h('span', { class: 'resource' }, e.resource)] : null,
      e.field ? [': ', h('span', { class: 'field' }, e.field)] : null,
      ': ', h('span', { class: 'message' }, e.message));
  }

  function drawErrors(snapshot) {
    const section = document.getElementById('errors');
    section.hidden = snapshot.errors.length === 0;
    section.replaceChildren(
      h('h2', {}, `Configuration rejected: ${snapshot.errors.length} error(s) — the last good configuration (version ${snapshot.version}) keeps serving`),
      h('ul', {}, ...snapshot.errors.map(errorItem)));
    const notes = document.getElementById('notes');
    const items = [...snapshot.warnings, ...snapshot.notApplied];
    notes.hidden = items.length === 0;
    document.getElementById('warnings').replaceChildren(...items.map(errorItem));
  }

  function select(id) {
    selected = selected === id ? null : id;
    if (selected) openServices.add(selected);
    if (latest) render(latest);
    const card = selected && document.querySelector(`details.service[data-service="${CSS.escape(selected)}"]`);
    if (card) card.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function render(snapshot) {
    latest = snapshot;
    const services = new Map();
    let workloads = 0;
    for (const ns of snapshot.namespaces) {
      for (const service of ns.services) { services.set(service.id, service); workloads += service.workloads.length; }
      workloads += ns.workloads.length;
    }
    const connected = snapshot.clients.filter(c => c.connected).length;
    document.getElementById('summary').textContent =
      `configuration version ${snapshot.version} · ${services.size} services · ${workloads} workloads · ${connected} connected clients · `
      + `${snapshot.reports} load reports` + (snapshot.loadReporting ? '' : ' (load reporting off)') + ` · ${new Date(snapshot.generatedAt).toLocaleTimeString()}`;
    document.getElementById('window').textContent = `rates over the last ${snapshot.rateWindowSeconds} s`;
    drawErrors(snapshot);
    drawGraph(snapshot, services);
    drawEdges(snapshot, services);
    drawServices(snapshot);
    drawClients(snapshot);
    document.body.dataset.version = snapshot.version;
    document.body.dataset.generatedAt = snapshot.generatedAt;
  }

  function setStatus(text, kind) {
    const status = document.getElementById('status');
    status.textContent = text;
    status.className = 'status ' + kind;
  }

  // ---- Updates -----------------------------------------------------------------------------------------------------

  let polling = null;
  function poll() {
    if (polling) return;
    setStatus('polling', 'polling');
    polling = setInterval(async () => {
      try {
        const response = await fetch(base + '/snapshot', { cache: 'no-store' });
        if (response.ok) render(await response.json());
      } catch (e) {
        setStatus('control plane unreachable', 'connecting');
      }
    }, 2000);
  }

  function connect() {
    if (!window.EventSource) { poll(); return; }
    const events = new EventSource(base + '/events');
    let opened = false;
    events.onopen = () => { opened = true; setStatus('live', 'live'); };
    events.onmessage = (message) => { setStatus('live', 'live'); render(JSON.parse(message.data)); };
    events.onerror = () => {
      if (!opened && events.readyState === EventSource.CLOSED) { poll(); return; } // refused (too many viewers): poll instead
      setStatus('reconnecting…', 'connecting');
    };
  }

  connect();
})();
