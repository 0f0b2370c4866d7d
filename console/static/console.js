// The console's pages: tables from the JSON the server embeds, live charts (uPlot) from
// the page's server-sent events. window.consoleCharts tells tests what each chart holds.
"use strict";
(function () {
  const el = document.getElementById("data");
  if (!el) return;
  const data = JSON.parse(el.textContent);
  window.consoleCharts = {};
  const WINDOW = 120; // samples kept on a chart

  function text(v) { return v === undefined || v === null ? "" : String(v); }

  function table(id, rows, columns) {
    const t = document.getElementById(id);
    if (!t) return;
    t.replaceChildren();
    const head = t.insertRow();
    columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); });
    rows.forEach((r) => {
      const tr = t.insertRow();
      columns.forEach((c) => {
        const td = tr.insertCell();
        const v = r[c];
        if (v instanceof Node) td.appendChild(v); else td.textContent = text(v);
        if (c === "health") td.className = "health-" + text(v);
      });
    });
  }

  function panel(id, value) {
    const p = document.getElementById(id);
    if (!p || value === undefined) return;
    const pre = document.createElement("pre");
    if (value && value.error) { pre.className = "error"; pre.textContent = value.error; }
    else pre.textContent = JSON.stringify(value, null, 2);
    p.replaceChildren(pre);
  }

  const colors = ["#2f7ed8", "#16803c", "#c2410c", "#7c3aed"];

  function chart(id, names) {
    const target = document.getElementById(id);
    const xs = [], ys = names.map(() => []);
    const plot = new uPlot({
      width: Math.max(480, target.clientWidth - 10), height: 220,
      series: [{}].concat(names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 2 }))),
      axes: [{}, { label: "ticks/s" }],
    }, [xs].concat(ys), target);
    const state = { points: 0, max: 0 };
    window.consoleCharts[id] = state;
    return function push(t, values) {
      xs.push(t); values.forEach((v, i) => ys[i].push(v));
      if (xs.length > WINDOW) { xs.shift(); ys.forEach((y) => y.shift()); }
      state.points = xs.length;
      state.max = Math.max(0, ...ys.flat());
      plot.setData([xs].concat(ys));
    };
  }

  // A bar chart of each tier's share of samples per latency bucket (x: bucket index,
  // labelled with its bound), drawn once from the page's data.
  function histogram(id, latency) {
    const target = document.getElementById(id);
    const n = latency.labels.length;
    // Grouped bars: each tier's bar sits beside the others at its bucket (x offset by
    // tier), the other tiers' values null there.
    const k = latency.tiers.length, xs = [], ys = latency.tiers.map(() => []);
    latency.labels.forEach((_, i) => latency.tiers.forEach((t, j) => {
      xs.push(i + (j - (k - 1) / 2) * 0.25);
      ys.forEach((y, m) => y.push(m === j ? (t.samples ? 100 * (Number(t.counts[i]) || 0) / t.samples : 0) : null));
    }));
    const bars = uPlot.paths.bars({ size: [0.9, 16], align: 0 });
    new uPlot({
      width: Math.max(480, target.clientWidth - 10), height: 220,
      scales: { x: { time: false, range: [-0.5, n - 0.5] } },
      series: [{}].concat(latency.tiers.map((t, i) => ({ label: t.tier + " (target " + t.target_ms + " ms)", fill: colors[i] + "99", stroke: colors[i], paths: bars }))),
      axes: [{ splits: () => latency.labels.map((_, i) => i), values: (u, ticks) => ticks.map((v) => latency.labels[v] || ""), rotate: -30, size: 60 }, { label: "% of samples" }],
    }, [xs].concat(ys), target);
    window.consoleCharts[id] = { points: n, max: Math.max(0, ...ys.flat().filter((v) => v !== null)) };
  }

  function live(url, onSample) {
    const source = new EventSource(url);
    source.onmessage = (e) => onSample(JSON.parse(e.data));
  }

  if (data.view === "operator") {
    const tiers = ["free", "pro", "enterprise"];
    const push = chart("rates-chart", tiers);
    ["revenue", "brokers", "churn", "upsell"].forEach((k) => panel(k, data[k]));
    panel("customers", data.metrics && (data.metrics.error ? data.metrics : data.metrics.customers || []));
    const sched = data.schedules || {};
    if (sched.error) panel("schedules", sched);
    else {
      const box = document.getElementById("schedules"); const t = document.createElement("table"); t.id = "schedules-table"; box.replaceChildren(t);
      table("schedules-table", (sched.schedules || []).map((s) => {
        const a = document.createElement("a"); a.href = s.ui_url || data.temporal_ui; a.textContent = "Temporal UI"; a.target = "_blank";
        return { schedule: s.schedule, cron: s.cron, next: s.next_run_at, last: s.last_run ? s.last_run.status : "never", link: a };
      }), ["schedule", "cron", "next", "last", "link"]);
    }
    table("companies", (data.companies || []).map((c) => ({ id: c.company_id, name: c.name, tier: text(c.tier).replace("TIER_", "").toLowerCase(), status: c.status, error: c.error })), ["id", "name", "tier", "status", "error"]);
    const latency = data.latency || { labels: [], tiers: [], errors: [] };
    if (latency.labels.length) histogram("latency-chart", latency);
    table("latency", latency.tiers.map((t) => ({ tier: t.tier, "target ms": t.target_ms, samples: t.samples, "within target %": t.within_target_percent === null ? "" : t.within_target_percent, "p50 ms": t.p50_ms, "p99 ms": t.p99_ms })), ["tier", "target ms", "samples", "within target %", "p50 ms", "p99 ms"]);
    table("compliance", latency.tiers.map((t) => ({ tier: t.tier, "latency availability %": t.availability_percent || "", "uptime target %": t.uptime_target_percent || "", "uptime measured %": t.uptime_measured_percent || "", met: t.met === null ? "" : (t.met ? "met" : "missed") })).concat(latency.errors.map((e) => ({ tier: "error", met: e }))), ["tier", "latency availability %", "uptime target %", "uptime measured %", "met"]);
    const runs = data.runs || {};
    if (runs.error) table("runs", [{ error: runs.error }], ["error"]);
    else table("runs", (runs.runs || []).map((r) => {
      let link = "";
      if (r.link) { link = document.createElement("a"); link.href = r.link; link.textContent = "Temporal UI"; link.target = "_blank"; }
      return Object.assign({}, r, { link: link });
    }), ["run", "chain", "company", "status", "steps", "sla violations", "started", "link"]);
    let pushBridge = null, bridgeNames = [];
    live(data.live, (s) => {
      if (s.error) return;
      push(s.t, tiers.map((t) => s.rates[t]));
      const names = Object.keys(s.bridges || {});
      if (!pushBridge && names.length) { bridgeNames = names; pushBridge = chart("bridges-chart", names); }
      if (pushBridge) pushBridge(s.t, bridgeNames.map((b) => (s.bridges[b] || 0)));
      table("bridges", names.map((b) => ({ bridge: b, "ticks/s": s.bridges[b].toFixed(1) })), ["bridge", "ticks/s"]);
      table("rates", tiers.map((t) => ({ tier: t, "ticks/s": s.rates[t].toFixed(1), "open streams": s.streams[t], "streams refused (quota)": s.refused[t] })), ["tier", "ticks/s", "open streams", "streams refused (quota)"]);
      table("instances", s.instances, ["service", "instance_id", "address", "health", "sessions", "score"]);
      table("lost", s.lost || [], ["service", "instance_id", "address", "health"]);
    });
  } else if (data.view === "tenant") {
    const push = chart("usage-chart", ["ticks/s"]);
    ["subscription", "storage", "invoices", "sla"].forEach((k) => panel(k, data[k]));
    const listed = (id, reply, field, map, columns) => {
      if (reply && reply.error) { table(id, [{ error: reply.error }], ["error"]); return; }
      table(id, ((reply || {})[field] || []).map(map), columns);
    };
    listed("keys", data.keys, "keys", (k) => ({ prefix: k.prefix, scopes: (k.scopes || []).join(" ") || "all of its role", created: k.created_at, expires: k.expires_at || "never", revoked: k.revoked_at || "", "last used": k.last_used_at || "" }), ["prefix", "scopes", "created", "expires", "revoked", "last used"]);
    listed("webhooks", data.webhooks, "endpoints", (w) => ({ id: w.endpoint_id, url: w.url, events: (w.event_types || []).join(" ") || "all", status: w.status, "failing since": w.failing_since || "" }), ["id", "url", "events", "status", "failing since"]);
    listed("deliveries", data.deliveries, "attempts", (a) => ({ endpoint: a.endpoint_id, event: a.event_id, attempt: a.attempt || 1, status: a.succeeded ? "delivered" : "failed", http: a.status_code || "", error: a.error || "", at: a.attempted_at }), ["endpoint", "event", "attempt", "status", "http", "error", "at"]);
    // Live prices: the Bridge's stream for this tenant's key, relayed by the console.
    const prices = {};
    const priceState = { rows: 0, updates: 0 };
    window.consolePrices = priceState;
    const priceSource = new EventSource(data.prices);
    window.addEventListener("pagehide", () => priceSource.close());
    priceSource.onmessage = (e) => {
      const s = JSON.parse(e.data);
      if (s.error) { document.getElementById("prices-info").textContent = s.error; priceSource.close(); return; }
      s.prices.forEach((p) => { prices[p.symbol] = p; });
      const rows = Object.keys(prices).sort().map((k) => prices[k]);
      const cols = ["symbol", "bid", "ask"].concat(["spread_pips", "quality_score", "liquidity_score", "brokers"].filter((c) => rows.some((r) => c in r)));
      table("prices", rows, cols);
      priceState.rows = rows.length; priceState.updates = s.updates;
      document.getElementById("prices-info").textContent = s.tier + " tier: " + s.symbols + " symbols, one update per symbol every " + s.interval_ms + " ms at most (" + s.refused + " not in the tier)";
    };
    live(data.live, (s) => {
      if (s.error) return;
      push(s.t, [s.rates.ticks]);
      table("usage", [{ "ticks/s": s.rates.ticks.toFixed(1), "ticks this period": s.ticks_delivered, "open streams": s.streams }], ["ticks/s", "ticks this period", "open streams"]);
    });
  }
})();
