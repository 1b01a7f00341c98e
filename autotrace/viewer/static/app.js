// autotrace view: a small single-page UI over the JSON API. No build step, no
// dependencies: the server ships this file as it is.
"use strict";

const app = document.getElementById("app");
const state = { live: null, keys: null, listTimer: null };

// -- helpers ----------------------------------------------------------------------

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function ms(ns) {
  if (ns == null) return "–";
  const v = ns / 1e6;
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  if (v >= 10) return v.toFixed(0) + " ms";
  if (v >= 1) return v.toFixed(1) + " ms";
  return (ns / 1e3).toFixed(0) + " µs";
}
function when(ns) {
  const d = new Date(ns / 1e6);
  const today = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  return today ? time : d.toLocaleDateString() + " " + time;
}
function hue(name) {
  let h = 0;
  for (const c of String(name)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 360;
}
function colour(name) { return `hsl(${hue(name)} 60% 48%)`; }
function svc(name) { return `<span class="svc" style="background:${colour(name)}">${esc(name)}</span>`; }
async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
function copyButton(text) {
  return `<button class="copy" data-copy="${esc(text)}" title="copy">copy</button>`;
}
document.addEventListener("click", event => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  event.stopPropagation();
  const text = button.dataset.copy;
  (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject()).then(
    () => { button.textContent = "copied"; },
    () => { // no clipboard API (plain http on another host): select the text instead
      const area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand("copy"); area.remove(); button.textContent = "copied";
    });
  setTimeout(() => { button.textContent = "copy"; }, 1200);
});

// -- routing ----------------------------------------------------------------------

function go(url) { history.pushState(null, "", url); route(); }
window.addEventListener("popstate", route);
document.addEventListener("click", event => {
  const link = event.target.closest("a[href^='/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.hasAttribute("download")) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
document.addEventListener("keydown", event => {
  if (event.target.matches("input, select, textarea")) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (state.keys) state.keys(event);
});

function route() {
  if (state.live) { state.live.close(); state.live = null; }
  document.getElementById("live").classList.remove("on");
  state.keys = null;
  const path = location.pathname;
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("current", a.getAttribute("href") === path);
  if (path.startsWith("/trace/")) return tracePage(decodeURIComponent(path.slice(7)));
  if (path === "/map") return mapPage();
  return listPage();
}

// -- trace list -------------------------------------------------------------------

const FILTERS = ["service", "operation", "min_ms", "max_ms", "errors", "since", "until", "attr"];

async function listPage() {
  document.title = "Traces · autotrace";
  const query = new URLSearchParams(location.search);
  app.innerHTML = `
    <form class="filters" id="filters" autocomplete="off">
      <label>Service <select name="service"><option value="">any</option></select></label>
      <label>Root operation <input name="operation" placeholder="GET /users"></label>
      <label>Min ms <input name="min_ms" type="number" min="0" step="any"></label>
      <label>Max ms <input name="max_ms" type="number" min="0" step="any"></label>
      <label>Since <input name="since" size="9" list="since-presets" placeholder="15m, 2h, date"></label>
      <datalist id="since-presets"><option value="15m"><option value="1h"><option value="24h"><option value="7d"></datalist>
      <label>Until <input name="until" type="datetime-local" step="1"></label>
      <label>Attributes <input name="attr" size="28" placeholder="http.response.status_code=500 k=v"></label>
      <label class="check"><input type="checkbox" name="errors" value="1"> errors only</label>
      <button type="reset">Clear</button>
    </form>
    <p class="muted" id="count"></p>
    <table id="traces"><thead><tr><th>Start</th><th>Root</th><th>Duration</th><th class="num">Spans</th><th>Services</th><th class="num">Errors</th></tr></thead><tbody></tbody></table>
    <p class="muted legend"><kbd>j</kbd>/<kbd>k</kbd> move · <kbd>enter</kbd> open · <kbd>esc</kbd> clear selection</p>`;
  const form = document.getElementById("filters");
  const services = await api("/api/service-names").catch(() => []);
  const select = form.elements.service;
  const wanted = query.get("service");
  for (const name of services) select.add(new Option(name, name));
  if (wanted && !services.includes(wanted)) select.add(new Option(wanted, wanted));
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (name === "errors") field.checked = query.get("errors") === "1";
    else if (name === "attr") field.value = query.getAll("attr").join(" ");
    else field.value = query.get(name) || "";
  }
  const changed = () => { clearTimeout(state.listTimer); state.listTimer = setTimeout(() => { writeFilters(form); loadList(); }, 250); };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("reset", () => setTimeout(changed, 0));
  form.addEventListener("submit", event => { event.preventDefault(); changed(); });
  state.selected = -1;
  state.keys = listKeys;
  await loadList();
  startLive();
}

function writeFilters(form) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (name === "errors") { if (field.checked) query.set("errors", "1"); }
    else if (name === "attr") { for (const pair of field.value.split(/\s+/)) if (pair.includes("=")) query.append("attr", pair); }
    else if (field.value.trim()) query.set(name, field.value.trim());
  }
  const text = query.toString();
  history.replaceState(null, "", "/" + (text ? "?" + text : ""));
}

async function loadList(freshIds) {
  const body = document.querySelector("#traces tbody");
  if (!body) return;
  let traces;
  try {
    traces = await api("/api/traces" + location.search);
  } catch (error) {
    document.getElementById("count").innerHTML = `<span class="err">${esc(error.message)}</span>`;
    body.innerHTML = "";
    return;
  }
  const longest = Math.max(1, ...traces.map(t => t.duration_ns));
  document.getElementById("count").textContent = traces.length ? `${traces.length} trace${traces.length > 1 ? "s" : ""}, newest first` : "No traces match.";
  body.innerHTML = traces.map(t => `
    <tr class="trace${freshIds && freshIds.has(t.trace_id) ? " fresh" : ""}" data-id="${t.trace_id}">
      <td title="${esc(t.trace_id)}">${esc(when(t.start_ns))}</td>
      <td>${svc(t.service)} <a href="/trace/${t.trace_id}">${esc(t.name)}</a>${t.complete ? "" : ' <span class="muted" title="root span missing">(incomplete)</span>'}</td>
      <td><div class="dur"><div class="bar" style="width:${(100 * t.duration_ns / longest).toFixed(1)}%"></div><span>${ms(t.duration_ns)}</span></div></td>
      <td class="num">${t.span_count}</td>
      <td>${t.services.map(svc).join("")}</td>
      <td class="num">${t.error_count ? `<span class="err">${t.error_count}</span>` : "0"}</td>
    </tr>`).join("");
  for (const row of body.rows) row.addEventListener("click", event => { if (!event.target.closest("a")) go("/trace/" + row.dataset.id); });
  state.selected = Math.min(state.selected, body.rows.length - 1);
  markSelected(body.rows);
}

function markSelected(rows) {
  for (const [i, row] of [...rows].entries()) row.classList.toggle("selected", i === state.selected);
  if (state.selected >= 0 && rows[state.selected]) rows[state.selected].scrollIntoView({ block: "nearest" });
}

function listKeys(event) {
  const rows = document.querySelectorAll("#traces tbody tr");
  if (event.key === "j") state.selected = Math.min(rows.length - 1, state.selected + 1);
  else if (event.key === "k") state.selected = Math.max(0, state.selected - 1);
  else if (event.key === "Enter" && rows[state.selected]) return go("/trace/" + rows[state.selected].dataset.id);
  else if (event.key === "Escape") state.selected = -1;
  else return;
  event.preventDefault();
  markSelected(rows);
}

function startLive() {
  if (!window.EventSource) return;
  const source = new EventSource("/api/live");
  state.live = source;
  const badge = document.getElementById("live");
  source.addEventListener("hello", () => badge.classList.add("on"));
  source.addEventListener("traces", event => {
    const ids = new Set(JSON.parse(event.data).traces.map(t => t.trace_id));
    loadList(ids);
  });
  source.onerror = () => badge.classList.remove("on");
}

// -- trace page -------------------------------------------------------------------

async function tracePage(traceId) {
  document.title = "Trace " + traceId.slice(0, 8) + " · autotrace";
  let trace;
  try {
    trace = await api("/api/traces/" + encodeURIComponent(traceId));
  } catch (error) {
    app.innerHTML = `<p class="err">${esc(error.message)}</p><p><a href="/">Back to the trace list</a></p>`;
    return;
  }
  const a = trace.analysis;
  const c = a.rows;  // columns in display order; c.span[n] is the span's index in trace.spans
  const rows = c.span.map((position, n) => ({
    span: trace.spans[position], position, depth: c.depth[n], offset_ns: c.offset_ns[n],
    duration_ns: c.duration_ns[n], skew_shift_ns: c.skew_shift_ns[n], self_ns: c.self_ns[n],
    child_count: c.child_count[n], orphan: c.orphan[n], critical: c.critical[n] }));
  const root = (rows.find(r => !r.span.parent_span_id) || rows[0]).span;  // an orphan may start earlier
  const view = { rows, total: Math.max(1, a.duration_ns), collapsed: new Set(), selected: 0, detail: null, trace };
  state.trace = view;
  const notices = [];
  if (a.incomplete) notices.push(`<div class="notice warn" id="incomplete">Incomplete trace: ${a.orphans.length ? `${a.orphans.length} span(s) whose parent is not in the store are shown at the top level` : "the root span has not arrived"}.</div>`);
  for (const flag of a.flags) notices.push(`<div class="notice ${flag.kind === "n+1" ? "bad" : "warn"} flag" data-kind="${esc(flag.kind)}"><b>${flag.kind === "n+1" ? "N+1 queries" : "Sequential calls"}:</b> ${esc(flag.message)}</div>`);
  app.innerHTML = `
    <div class="summary">
      <h1>${svc(root.service_name)} ${esc(root.name)}</h1>
      <span>${ms(a.duration_ns)}</span><span>${trace.spans.length} spans</span>
      <span>${trace.services.map(svc).join("")}</span>
      ${trace.error_count ? `<span class="err">${trace.error_count} error(s)</span>` : ""}
      <span class="muted"><code>${esc(trace.trace_id)}</code>${copyButton(trace.trace_id)}</span>
      <a href="/api/traces/${trace.trace_id}/otlp" download>Download OTLP JSON</a>
    </div>
    ${notices.join("")}
    <p class="muted legend">critical path outlined · <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>enter</kbd> details · <kbd>←</kbd>/<kbd>→</kbd> collapse/expand · <kbd>esc</kbd> close</p>
    <div class="layout">
      <div class="waterfall"><div class="wf-head"><span style="width:38%;min-width:14rem">Span</span><span>0 – ${ms(a.duration_ns)}</span></div><div class="wf-body" id="wf-body"><div id="rows"></div></div></div>
      <aside class="detail" id="detail" hidden></aside>
    </div>
    <div class="breakdown">
      <table id="self-services"><thead><tr><th>Service</th><th class="num">Self time</th><th class="num">Share</th></tr></thead><tbody>
        ${a.self_time.services.map(s => `<tr><td>${svc(s.service)}</td><td class="num">${ms(s.self_ns)}</td><td class="num">${(100 * s.share).toFixed(1)}%</td></tr>`).join("")}</tbody></table>
      <table id="self-operations"><thead><tr><th>Operation</th><th class="num">Count</th><th class="num">Self time</th><th class="num">Share</th></tr></thead><tbody>
        ${a.self_time.operations.slice(0, 30).map(o => `<tr><td>${svc(o.service)} ${esc(o.name)}</td><td class="num">${o.count}</td><td class="num">${ms(o.self_ns)}</td><td class="num">${(100 * o.share).toFixed(1)}%</td></tr>`).join("")}</tbody></table>
    </div>`;
  const container = document.getElementById("rows");
  container.addEventListener("click", event => {
    const row = event.target.closest(".row");
    if (!row) return;
    const index = Number(row.dataset.index);
    if (event.target.closest(".toggle")) return toggle(index);
    view.selected = index;
    showDetail(index);
    paint();
  });
  state.keys = traceKeys;
  let pending = false;
  document.getElementById("wf-body").addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; paint(false); });
  });
  paint();
}

function visibleRows(view) {
  const out = [];
  let hideDeeperThan = Infinity;
  for (const [index, row] of view.rows.entries()) {
    if (row.depth > hideDeeperThan) continue;
    hideDeeperThan = view.collapsed.has(index) ? row.depth : Infinity;
    out.push(index);
  }
  return out;
}

// Only the rows in (and near) the scrolled window are in the DOM, so a trace of
// 10,000 spans draws as fast as one of 50. Rows have a fixed height for that.
const ROW_HEIGHT = 24, ROW_MARGIN = 30;

function paint(rowsChanged = true) {
  const view = state.trace;
  const container = document.getElementById("rows");
  const scroller = document.getElementById("wf-body");
  if (!container || !scroller) return;
  if (rowsChanged || !view.visible) view.visible = visibleRows(view);
  const total = view.total;
  container.style.height = view.visible.length * ROW_HEIGHT + "px";
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - ROW_MARGIN);
  const last = Math.min(view.visible.length, first + Math.ceil((scroller.clientHeight || 800) / ROW_HEIGHT) + 2 * ROW_MARGIN);
  const html = [];
  for (let position = first; position < last; position++) {
    const index = view.visible[position];
    const row = view.rows[index], span = row.span;
    const left = 100 * row.offset_ns / total, width = Math.max(0.15, 100 * row.duration_ns / total);
    const error = span.status_code === "ERROR";
    const classes = ["row", row.critical ? "critical" : "", error ? "error" : "", row.orphan ? "orphan" : "", index === view.selected ? "selected" : ""].join(" ");
    let events = "";
    for (const event of span.events || []) {
      const at = 100 * (event.timestamp_ns + row.skew_shift_ns - view.trace.analysis.start_ns) / total;
      if (at >= 0 && at <= 100) events += `<i class="ev${event.name === "exception" ? " exception" : ""}" style="left:${at.toFixed(2)}%" title="${esc(event.name)}"></i>`;
    }
    const toggleMark = row.child_count ? (view.collapsed.has(index) ? "▸" : "▾") : "";
    const textLeft = left + width > 80 ? `right:${(100 - left + 0.5).toFixed(2)}%` : `left:${(left + width + 0.5).toFixed(2)}%`;
    html.push(`<div class="${classes}" data-index="${index}" data-span="${span.span_id}" style="top:${position * ROW_HEIGHT}px"><div class="name" style="padding-left:${0.25 + row.depth * 0.9}rem">` +
      `<span class="toggle">${toggleMark}</span><span class="svc-dot" style="background:${colour(span.service_name)}"></span>` +
      `<span class="label" title="${esc(span.service_name)}: ${esc(span.name)}">${esc(span.name)}</span></div>` +
      `<div class="lane"><div class="span-bar${error ? " error" : ""}" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%;background:${colour(span.service_name)}"></div>${events}` +
      `<span class="bar-text" style="${textLeft}">${ms(row.duration_ns)}</span></div></div>`);
  }
  container.innerHTML = html.join("");
}

function toggle(index) {
  const view = state.trace;
  if (!view.rows[index].child_count) return;
  if (view.collapsed.has(index)) view.collapsed.delete(index); else view.collapsed.add(index);
  paint();
}

function table(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return '<p class="muted">none</p>';
  return `<table>${entries.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(typeof v === "string" ? v : JSON.stringify(v))}</td></tr>`).join("")}</table>`;
}

function showDetail(index) {
  const view = state.trace;
  const row = view.rows[index], span = row.span;
  view.detail = index;
  const panel = document.getElementById("detail");
  const events = (span.events || []).map(event => {
    const attrs = Object.assign({}, event.attributes);
    const stack = attrs["exception.stacktrace"];
    delete attrs["exception.stacktrace"];
    return `<div class="event"><b>${esc(event.name)}</b> <span class="muted">+${ms(event.timestamp_ns - span.start_ns)}</span>${table(attrs)}${stack ? `<pre class="stack">${esc(stack)}</pre>` : ""}</div>`;
  }).join("") || '<p class="muted">none</p>';
  const links = (span.links || []).map(link => `<div><a href="/trace/${esc(link.trace_id)}">${esc(link.trace_id)}</a> / <code>${esc(link.span_id)}</code>${table(link.attributes)}</div>`).join("") || '<p class="muted">none</p>';
  panel.hidden = false;
  panel.innerHTML = `
    <button class="close" id="close-detail" title="close (esc)" style="float:right">✕</button>
    <h2>${esc(span.name)}</h2>
    <p>${svc(span.service_name)} ${esc(span.kind)} · ${ms(span.duration_ns)} · self ${ms(row.self_ns)}
      ${span.status_code === "ERROR" ? `<br><span class="err">ERROR${span.status_message ? ": " + esc(span.status_message) : ""}</span>` : ""}
      ${row.critical ? '<br><span class="muted">on the critical path</span>' : ""}
      ${row.skew_shift_ns ? `<br><span class="muted">shifted ${ms(Math.abs(row.skew_shift_ns))} for clock skew</span>` : ""}</p>
    <table>
      <tr><td>span id</td><td><code>${esc(span.span_id)}</code>${copyButton(span.span_id)}</td></tr>
      <tr><td>trace id</td><td><code>${esc(view.trace.trace_id)}</code>${copyButton(view.trace.trace_id)}</td></tr>
      <tr><td>parent</td><td>${span.parent_span_id ? `<code>${esc(span.parent_span_id)}</code>${copyButton(span.parent_span_id)}${row.orphan ? ' <span class="muted">(not in the store)</span>' : ""}` : "none (root)"}</td></tr>
      <tr><td>start</td><td>${esc(when(span.start_ns))}</td></tr>
      <tr><td>scope</td><td>${esc(span.scope_name || "")} ${esc(span.scope_version || "")}</td></tr>
    </table>
    <h3>Attributes</h3>${table(span.attributes)}
    <h3>Events</h3>${events}
    <h3>Links</h3>${links}
    <h3>Resource</h3>${table(view.trace.resources[view.trace.resource_index[row.position]])}`;
  document.getElementById("close-detail").addEventListener("click", closeDetail);
}

function closeDetail() {
  const panel = document.getElementById("detail");
  if (panel) { panel.hidden = true; panel.innerHTML = ""; }
  if (state.trace) state.trace.detail = null;
}

function traceKeys(event) {
  const view = state.trace;
  const position = view.visible.indexOf(view.selected);
  if (event.key === "j") view.selected = view.visible[Math.min(view.visible.length - 1, position + 1)];
  else if (event.key === "k") view.selected = view.visible[Math.max(0, position - 1)];
  else if (event.key === "Enter") showDetail(view.selected);
  else if (event.key === "ArrowLeft" || event.key === "h") { if (!view.collapsed.has(view.selected)) toggle(view.selected); return; }
  else if (event.key === "ArrowRight" || event.key === "l") { if (view.collapsed.has(view.selected)) toggle(view.selected); return; }
  else if (event.key === "Escape") { if (view.detail != null) closeDetail(); else go("/"); return; }
  else return;
  event.preventDefault();
  if (view.detail != null && event.key !== "Enter") showDetail(view.selected);
  const scroller = document.getElementById("wf-body");
  const top = view.visible.indexOf(view.selected) * ROW_HEIGHT;
  if (top < scroller.scrollTop) scroller.scrollTop = top;
  else if (top + ROW_HEIGHT > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + ROW_HEIGHT - scroller.clientHeight;
  paint(false);
}

// -- service map ------------------------------------------------------------------

const MAP_DEFAULT_SINCE = "24h";

async function mapPage() {
  document.title = "Service map · autotrace";
  // A recent window by default: "all stored" on a big store is a lot to summarise.
  const since = new URLSearchParams(location.search).get("since") || MAP_DEFAULT_SINCE;
  app.innerHTML = `
    <form class="filters" id="window"><label>Time range <select name="since">
      <option value="all">all stored</option><option value="15m">last 15 min</option><option value="1h">last hour</option>
      <option value="24h">last 24 h</option><option value="7d">last 7 days</option></select></label></form>
    <div class="map" id="map"></div>`;
  const form = document.getElementById("window");
  form.elements.since.value = since;
  form.addEventListener("change", () => {
    const value = form.elements.since.value;
    history.replaceState(null, "", "/map" + (value !== MAP_DEFAULT_SINCE ? "?since=" + value : ""));
    mapPage();
  });
  let data;
  try {
    data = await api("/api/service-map" + (since !== "all" ? "?since=" + encodeURIComponent(since) : ""));
  } catch (error) {
    document.getElementById("map").innerHTML = `<p class="err">${esc(error.message)}</p>`;
    return;
  }
  const names = data.services.map(s => s.name);
  const width = 900, height = 420, cx = width / 2, cy = height / 2, radius = Math.min(cx, cy) - 60;
  const place = new Map(names.map((n, i) => [n, names.length === 1 ? [cx, cy] :
    [cx + radius * Math.cos(2 * Math.PI * i / names.length - Math.PI / 2), cy + radius * Math.sin(2 * Math.PI * i / names.length - Math.PI / 2)]]));
  const edges = data.edges.filter(e => place.has(e.caller) && place.has(e.callee)).map(e => {
    const [a1, b1] = place.get(e.caller), [a2, b2] = place.get(e.callee);
    const length = Math.hypot(a2 - a1, b2 - b1) || 1, cut = 32 / length;  // stop at the circles
    const x1 = a1 + (a2 - a1) * cut, y1 = b1 + (b2 - b1) * cut, x2 = a2 - (a2 - a1) * cut, y2 = b2 - (b2 - b1) * cut;
    return `<path class="edge${e.error_count ? " bad" : ""}" marker-end="url(#arrow)" d="M${x1},${y1} L${x2},${y2}"></path>
      <text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 6}" text-anchor="middle">${e.call_count} calls · ${(100 * e.error_rate).toFixed(0)}% err · p95 ${ms(e.p95_ns)}</text>`;
  }).join("");
  const nodes = data.services.map(s => {
    const [x, y] = place.get(s.name);
    return `<g><circle class="node" cx="${x}" cy="${y}" r="28" style="stroke:${colour(s.name)}"></circle><text x="${x}" y="${y < cy ? y - 36 : y + 44}" text-anchor="middle">${esc(s.name)}</text></g>`;
  }).join("");
  document.getElementById("map").innerHTML = names.length ? `
    <svg viewBox="0 0 ${width} ${height}" role="img" aria-label="service map"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path class="arrow" d="M0,0 L10,5 L0,10 z"></path></marker></defs>${edges}${nodes}</svg>
    <h3>Calls</h3>
    <table id="edges"><thead><tr><th>Caller</th><th>Callee</th><th class="num">Requests</th><th class="num">Error rate</th><th class="num">p50</th><th class="num">p95</th></tr></thead><tbody>
      ${data.edges.map(e => `<tr><td>${svc(e.caller)}</td><td>${svc(e.callee)}</td><td class="num">${e.call_count}</td><td class="num">${(100 * e.error_rate).toFixed(1)}%</td><td class="num">${ms(e.p50_ns)}</td><td class="num">${ms(e.p95_ns)}</td></tr>`).join("")}</tbody></table>
    <h3>Services</h3>
    <table id="services"><thead><tr><th>Service</th><th class="num">Requests</th><th class="num">Error rate</th><th class="num">p50</th><th class="num">p95</th></tr></thead><tbody>
      ${data.services.map(s => `<tr><td>${svc(s.name)}</td><td class="num">${s.entry_count}</td><td class="num">${(100 * s.error_rate).toFixed(1)}%</td><td class="num">${ms(s.p50_ns)}</td><td class="num">${ms(s.p95_ns)}</td></tr>`).join("")}</tbody></table>`
    : '<p class="muted">No services in this time range.</p>';
}

route();
