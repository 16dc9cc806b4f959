// vagate operator console: no dependencies, no inline code (strict CSP).
// The token lives in this tab's sessionStorage and goes out as a bearer header.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const KEY = "vagate.console.token";
  let token = sessionStorage.getItem(KEY) || "";
  let timer = null;
  let last = null;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      const err = new Error((data && (data.detail || data.title)) || ("HTTP " + r.status));
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function traceLink(tpl, id) {
    if (!tpl || !id) return null;
    const u = tpl.split("{traceId}").join(encodeURIComponent(id));
    if (!/^https?:\/\//.test(u)) return null;
    return el("a", { href: u, target: "_blank", rel: "noopener noreferrer", class: "trace", text: "trace" });
  }

  function ago(t) {
    if (!t) return "";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.round(s / 60) + "m ago";
    return Math.round(s / 3600) + "h ago";
  }

  const SVGNS = "http://www.w3.org/2000/svg";
  function spark(values, cls, maxHint) {
    const w = 200, h = 28;
    const svg = document.createElementNS(SVGNS, "svg");
    svg.setAttribute("class", "spark " + cls);
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    const max = Math.max(maxHint || 0, ...values, 1e-9);
    const n = values.length;
    const pts = values.map((v, i) => {
      const x = n > 1 ? (i * w) / (n - 1) : 0;
      return x.toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1);
    });
    const pl = document.createElementNS(SVGNS, "polyline");
    pl.setAttribute("points", pts.join(" "));
    svg.append(pl);
    return svg;
  }

  function action(fn) {
    return async () => {
      try { await fn(); await refresh(); } catch (e) { $("status").textContent = "action refused: " + e.message; }
    };
  }

  function renderProviders(o) {
    const box = $("providers");
    box.replaceChildren();
    for (const p of o.providers) {
      const state = el("span", { class: "state state-" + p.breakerState, "data-state": p.breakerState,
        text: p.breakerState + (p.forced ? " (forced)" : "") });
      const card = el("div", { class: "card provider", "data-provider": p.name },
        el("h3", {}, el("span", { text: p.name }), state),
        el("div", { class: "muted", text: "since " + (p.breakerSince ? ago(p.breakerSince) : "start") + " · style " + p.style }),
        el("div", { text: "error rate " + (p.errorRate * 100).toFixed(0) + "% of " + p.recentRequests + " · latency " +
          p.latencyMs.toFixed(1) + " ms · in flight " + p.inFlight }),
        spark(p.history.map((s) => s.errorRate), "spark-err", 1),
        spark(p.history.map((s) => s.latencyMs), "spark-lat"));
      if (p.lastError) {
        card.append(el("div", { class: "error", text: "last error " + ago(p.lastErrorAt) + ": " + p.lastError.slice(0, 200) + " " },
          traceLink(o.traceUrlTemplate, p.lastErrorTraceId)));
      }
      if (o.canAct) {
        card.append(el("div", {},
          el("button", { type: "button", text: "Force open", onclick: action(() => api("POST", "/v1/operator/providers/" + encodeURIComponent(p.name) + "/breaker", { action: "open" })) }),
          " ",
          el("button", { type: "button", text: "Reset", onclick: action(() => api("POST", "/v1/operator/providers/" + encodeURIComponent(p.name) + "/breaker", { action: "reset" })) })));
      }
      box.append(card);
    }
  }

  function renderJobs(o) {
    const tb = $("jobs").tBodies[0];
    tb.replaceChildren();
    if (o.jobs.length === 0) tb.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "no jobs seen yet" })));
    for (const j of o.jobs) {
      const settled = j.succeeded + j.failed + j.cancelled + j.unknown;
      const pct = j.total ? Math.round((settled * 100) / j.total) : 0;
      const fill = el("span", {});
      fill.style.width = pct + "%";
      const bar = el("span", { class: "bar" + (j.failed || j.unknown ? " errors" : ""), "data-job": j.id, "data-progress": String(pct),
        title: pct + "%" }, fill);
      const outs = el("span", { class: "outcomes" });
      for (const it of j.items) outs.append(el("span", { class: "o-" + it.outcome, title: "#" + it.index + " " + it.provider + ": " + it.outcome + (it.error ? " — " + it.error : "") }));
      let cancel = null;
      if (o.canAct && (j.status === "PENDING" || j.status === "IN_PROGRESS")) {
        cancel = el("button", { type: "button", text: "Cancel", onclick: action(() => api("POST", "/v1/operator/jobs/" + encodeURIComponent(j.id) + "/cancel", { tenant: j.tenant })) });
      }
      tb.append(el("tr", { "data-job-row": j.id },
        el("td", { text: j.id }), el("td", { text: j.tenant }), el("td", { text: j.status }),
        el("td", {}, bar, " " + pct + "% (" + settled + "/" + j.total + ")"),
        el("td", {}, outs), el("td", {}, traceLink(o.traceUrlTemplate, j.traceId)), el("td", {}, cancel)));
    }
  }

  function renderPools(o) {
    const box = $("pools");
    box.replaceChildren();
    if (!o.pools.enabled) { box.append(el("p", { class: "muted", text: "the pool is not configured" })); return; }
    if (o.pools.items.length === 0) { box.append(el("p", { class: "muted", text: "no pools" })); return; }
    const t = el("table", {}, el("thead", {}, el("tr", {}, ...["Tenant", "Provider", "Currency", "Level", "Target / low", "Claiming", ""].map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    for (const p of o.pools.items) {
      const fill = el("span", {});
      fill.style.width = (p.target ? Math.min(100, Math.round((p.available * 100) / p.target)) : 0) + "%";
      const bar = el("span", { class: "bar" + (p.available < p.lowWatermark ? " errors" : "") }, fill);
      const btn = o.canAct ? el("button", { type: "button", text: "Replenish", onclick: action(() => api("POST", "/v1/operator/pool/replenish", { tenant: p.tenant, provider: p.provider, currency: p.currency })) }) : null;
      tb.append(el("tr", {}, el("td", { text: p.tenant }), el("td", { text: p.provider }), el("td", { text: p.currency }),
        el("td", {}, bar, " " + p.available), el("td", { text: p.target + " / " + p.lowWatermark }), el("td", { text: String(p.claiming) }), el("td", {}, btn)));
    }
    t.append(tb);
    box.append(t);
  }

  function renderDelivery(o) {
    const d = o.delivery, box = $("delivery");
    box.replaceChildren();
    if (!d.enabled) { box.append(el("p", { class: "muted", text: "event delivery is not configured" })); return; }
    box.append(el("p", { text: "queue depth " + (d.queueDepth ?? "?") + (d.oldestUndelivered ? " · oldest undelivered " + ago(d.oldestUndelivered) : " · nothing undelivered") }));
    if (d.failingEndpoints.length === 0) { box.append(el("p", { class: "muted", text: "no failing endpoints" })); return; }
    const ul = el("ul");
    for (const e of d.failingEndpoints) {
      ul.append(el("li", { text: e.tenant + " · " + e.url + " · " + (e.enabled ? "failing since " + ago(e.failingSince) : "disabled (" + e.disabledReason + ")") }));
    }
    box.append(ul);
  }

  function about(e) {
    const d = e.data || {};
    if (d.operatorAction) return d.operatorAction.operator + ": " + d.operatorAction.action + " " + d.operatorAction.target;
    if (d.job) return d.job.id + " " + d.job.status;
    if (d.account) return d.account.id + " " + d.account.status;
    if (d.pool) return d.pool.provider + "/" + d.pool.currency;
    if (d.webhookEndpoint) return d.webhookEndpoint.url;
    if (d.drift) return JSON.stringify(d.drift).slice(0, 120);
    return "";
  }

  function renderEvents(o) {
    const tb = $("events").tBodies[0];
    tb.replaceChildren();
    for (const e of o.events.slice(0, 50)) {
      tb.append(el("tr", {}, el("td", { text: ago(e.createdAt) }), el("td", { text: e.tenant }), el("td", { text: e.type }), el("td", { text: about(e) })));
    }
  }

  let qaLoaded = false;
  function renderQA(o) {
    const show = o.canAct && o.qa.mocks.length > 0;
    $("qa").hidden = !show;
    if (!show || qaLoaded) return;
    qaLoaded = true;
    const sel = $("qa-mock");
    sel.replaceChildren(...o.qa.mocks.map((m) => el("option", { value: m, text: m })));
    loadRules();
  }

  async function loadRules() {
    const m = $("qa-mock").value;
    if (!m) return;
    try {
      const r = await api("GET", "/v1/operator/mocks/" + encodeURIComponent(m) + "/faults");
      const tb = $("qa-rules").tBodies[0];
      tb.replaceChildren(...r.items.map((x) => el("tr", { "data-rule": x.id },
        ...[x.id, x.method || "*", x.path || "*", x.action, x.status || "", x.rate ? Math.round(x.rate * 100) + "%" : "100%", x.fired].map((v) => el("td", { text: String(v) })))));
    } catch (e) { $("qa-msg").textContent = e.message; }
  }

  async function addFault() {
    const m = $("qa-mock").value;
    const rule = { action: $("qa-action").value };
    const rate = Number($("qa-rate").value);
    if (rate > 0 && rate < 100) rule.rate = rate / 100;
    if (rule.action === "error" || rule.action === "malformed") rule.status = Number($("qa-status").value);
    if (rule.action === "latency") rule.latency = $("qa-latency").value;
    try {
      await api("POST", "/v1/operator/mocks/" + encodeURIComponent(m) + "/faults", rule);
      const secs = Number($("qa-for").value);
      $("qa-msg").textContent = "fault added to " + m + (secs > 0 ? " for " + secs + " s" : "");
      if (secs > 0) setTimeout(() => clearFaults(m), secs * 1000);
    } catch (e) { $("qa-msg").textContent = "refused: " + e.message; }
    loadRules();
  }

  async function clearFaults(m) {
    m = m || $("qa-mock").value;
    try {
      await api("DELETE", "/v1/operator/mocks/" + encodeURIComponent(m) + "/faults");
      $("qa-msg").textContent = "faults of " + m + " removed";
    } catch (e) { $("qa-msg").textContent = "refused: " + e.message; }
    loadRules();
  }

  function render(o) {
    $("who").textContent = "operator " + o.operator + (o.canAct ? " (actions allowed)" : " (read-only)");
    renderProviders(o); renderJobs(o); renderPools(o); renderDelivery(o); renderEvents(o); renderQA(o);
    $("status").textContent = "updated " + new Date(o.now).toLocaleTimeString();
  }

  async function refresh() {
    try {
      last = await api("GET", "/v1/operator/overview");
      render(last);
      return true;
    } catch (e) {
      if (e.status === 401 || e.status === 403) { logout(e.message); return false; }
      $("status").textContent = "cannot reach the gateway: " + e.message;
      return true;
    }
  }

  async function login() {
    token = $("token").value.trim() || token;
    $("login-error").textContent = "";
    if (!token) return;
    const ok = await refresh();
    if (!ok) return;
    sessionStorage.setItem(KEY, token);
    $("token").value = "";
    $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
    if (timer) clearInterval(timer);
    timer = setInterval(() => { refresh(); if (!$("qa").hidden) loadRules(); }, 1000);
  }

  function logout(msg) {
    if (timer) clearInterval(timer);
    timer = null; token = ""; last = null; qaLoaded = false;
    sessionStorage.removeItem(KEY);
    $("app").hidden = true; $("logout").hidden = true; $("login").hidden = false;
    for (const id of ["providers", "pools", "delivery"]) $(id).replaceChildren();
    for (const id of ["jobs", "events", "qa-rules"]) $(id).tBodies[0].replaceChildren();
    $("who").textContent = "";
    $("login-error").textContent = msg || "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-btn").addEventListener("click", login);
    $("logout").addEventListener("click", () => logout(""));
    $("qa-add").addEventListener("click", addFault);
    $("qa-clear").addEventListener("click", () => clearFaults());
    $("qa-mock").addEventListener("change", loadRules);
    if (token) login();
  });
})();
