// The add dialog's backtest preview: once a valid ticker, an algorithm and a capital are chosen, the last 20
// sessions of that algorithm on that ticker with that capital — return against buy-and-hold, max drawdown,
// trades and a small equity chart — and, on request, every algorithm ranked ("compare all").
// The api queues the backtest (POST /api/backtests) and the executor runs it; this polls GET
// /api/backtests/{id} until it is done. Separate from script.js: it only listens to the dialog's fields
// (#add-ticker, #add-algorithm, #add-capital, #ticker-status) and draws into #backtest-preview.
(function () {
  "use strict";

  const SESSIONS = 20;
  const DEBOUNCE_MS = 700;
  const POLL_MS = 1000;
  const REQUEST_TIMEOUT_MS = 15000;

  const root = document.getElementById("backtest-preview");
  const ticker = document.getElementById("add-ticker");
  const algorithm = document.getElementById("add-algorithm");
  const capital = document.getElementById("add-capital");
  const tickerStatus = document.getElementById("ticker-status");
  const overlay = document.getElementById("add-overlay");
  if (!root || !ticker || !algorithm || !capital) return;

  // ---------- the preview's elements ----------

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "className") node.className = value; else node.setAttribute(name, value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function figure(id, label) {
    const box = el("div", { className: "bt-figure" });
    box.appendChild(el("span", { className: "bt-label" }, label));
    const value = el("span", { id, className: "bt-value num", "data-value": "" }, "—");
    box.appendChild(value);
    return { box, value };
  }

  root.className = "backtest-preview";
  root.dataset.state = "idle";
  root.dataset.view = "single";
  root.setAttribute("aria-live", "polite");
  const head = el("div", { className: "bt-head" });
  head.appendChild(el("span", { className: "bt-title" }, "LAST " + SESSIONS + " SESSIONS"));
  const note = el("span", { id: "bt-note", className: "bt-note" }, "");
  head.appendChild(note);
  root.appendChild(head);
  const figures = el("div", { className: "bt-figures" });
  const fReturn = figure("bt-return", "RETURN");
  const fHold = figure("bt-hold", "BUY & HOLD");
  const fDrawdown = figure("bt-drawdown", "MAX DD");
  const fTrades = figure("bt-trades", "TRADES");
  for (const f of [fReturn, fHold, fDrawdown, fTrades]) figures.appendChild(f.box);
  root.appendChild(figures);
  const chartBox = el("div", { id: "bt-chart", className: "bt-chart", "data-points": "0", "aria-hidden": "true" });
  root.appendChild(chartBox);
  const compareButton = el("button", { type: "button", id: "bt-compare-button", className: "button quiet bt-compare-button" }, "COMPARE ALL");
  root.appendChild(compareButton);
  const compare = el("div", { id: "bt-compare", className: "bt-compare", "data-state": "idle" });
  compare.hidden = true;
  root.appendChild(compare);

  // ---------- talking to the api ----------

  class BacktestError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response, json = null;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", signal: controller.signal,
      });
      const text = await response.text();
      try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    } catch (e) {
      throw new BacktestError(0, "Cannot reach the AutoTrader api.", null);
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      const retry = Number(response.headers.get("Retry-After"));
      const message = json && typeof json.error === "string" ? json.error : "The api refused the backtest (HTTP " + response.status + ").";
      throw new BacktestError(response.status, message, Number.isFinite(retry) && retry > 0 ? retry : null);
    }
    if (!json) throw new BacktestError(response.status, "The api's answer is not JSON.", null);
    return json;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Queues the backtest and polls it until done; `current()` false means it was overtaken (stop quietly).
  // `progress(state, text)` tells what is happening. Resolves with the job (state done or failed).
  async function runBacktest(request, current, progress) {
    let job = null;
    while (current()) {
      try {
        job = await call("POST", "/api/backtests", request);
        break;
      } catch (e) {
        if ((e.status === 429 || e.status === 503) && e.retryAfter) {
          progress("waiting", "BUSY · RETRY IN " + Math.ceil(e.retryAfter) + " S");
          await sleep(e.retryAfter * 1000);
          continue;
        }
        throw e;
      }
    }
    while (current() && job && (job.state === "queued" || job.state === "running")) {
      progress(job.state, job.state === "queued" ? "QUEUED…" : "RUNNING…");
      await sleep(POLL_MS);
      if (!current()) return null;
      job = await call("GET", "/api/backtests/" + job.id);
    }
    return current() ? job : null;
  }

  // ---------- formatting ----------

  function percent(fraction) {
    const n = Number(fraction);
    if (!Number.isFinite(n)) return "—";
    const text = (n * 100).toFixed(2) + " %";
    return n > 0 ? "+" + text : text;
  }
  function sign(fraction) {
    const n = Number(fraction);
    return n > 0 ? "positive" : n < 0 ? "negative" : "zero";
  }
  function setFigure(f, value, text, tone) {
    f.value.dataset.value = value === null || value === undefined ? "" : String(value);
    f.value.textContent = text;
    if (tone) f.value.dataset.sign = tone; else delete f.value.dataset.sign;
  }

  // ---------- the chart ----------

  const chart = { instance: null, line: null, base: null };
  function toSeconds(text) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? null : Math.floor(t / 1000);
  }
  function drawChart(result) {
    const points = [];
    for (const p of result.equity_curve || []) {
      const time = toSeconds(p.time), value = Number(p.equity);
      if (time === null || !Number.isFinite(value)) continue;
      if (points.length && points[points.length - 1].time >= time) continue;
      points.push({ time, value });
    }
    chartBox.dataset.points = String(points.length);
    chartBox.dataset.last = points.length ? String(result.equity_curve[result.equity_curve.length - 1].equity) : "";
    const LWC = window.LightweightCharts;
    if (!LWC) return; // the vendored library did not load: the figures still say it all
    const base = Number(result.capital);
    const style = getComputedStyle(document.documentElement);
    const css = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    if (!chart.instance) {
      chart.instance = LWC.createChart(chartBox, {
        autoSize: true,
        layout: { background: { type: "solid", color: "transparent" }, textColor: css("--muted", "#8c8c8c"), fontFamily: css("--mono", "monospace") },
        grid: { vertLines: { visible: false }, horzLines: { visible: false } },
        rightPriceScale: { visible: false }, leftPriceScale: { visible: false },
        timeScale: { visible: false, borderVisible: false, fixLeftEdge: true, fixRightEdge: true },
        crosshair: { vertLine: { visible: false, labelVisible: false }, horzLine: { visible: false, labelVisible: false } },
        handleScroll: false, handleScale: false,
      });
      chart.line = chart.instance.addBaselineSeries({
        baseValue: { type: "price", price: base },
        topLineColor: css("--green", "#2bff6a"), topFillColor1: "rgba(43, 255, 106, 0.28)", topFillColor2: "rgba(43, 255, 106, 0.04)",
        bottomLineColor: css("--red", "#ff4f4f"), bottomFillColor1: "rgba(255, 79, 79, 0.04)", bottomFillColor2: "rgba(255, 79, 79, 0.28)",
        lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
      });
    }
    if (chart.base !== base) {
      chart.base = base;
      chart.line.applyOptions({ baseValue: { type: "price", price: base } });
    }
    chart.line.setData(points);
    chart.instance.timeScale().fitContent();
  }
  function clearChart() {
    chartBox.dataset.points = "0";
    chartBox.dataset.last = "";
    if (chart.line) chart.line.setData([]);
  }

  // ---------- what the fields say ----------

  function inputs() {
    const symbol = ticker.value.trim().toUpperCase();
    const name = algorithm.value;
    const text = capital.value.trim();
    const valid = tickerStatus ? tickerStatus.dataset.state === "valid" : symbol.length > 0;
    if (!symbol || !valid) return { problem: "Choose a ticker to see how it would have done." };
    if (!name) return { problem: "Choose an algorithm." };
    if (!/^\d+(\.\d{1,2})?$/.test(text) || !(Number(text) > 0)) return { problem: "Enter the capital to see its last " + SESSIONS + " sessions." };
    return { ticker: symbol, algorithm: name, capital: text };
  }

  // ---------- the preview ----------

  const preview = { key: "", seq: 0, timer: null };
  const comparison = { key: "", seq: 0 };

  function setState(state, text) {
    root.dataset.state = state;
    note.textContent = text || "";
  }
  function blank() {
    for (const f of [fReturn, fHold, fDrawdown, fTrades]) setFigure(f, null, "—");
    delete root.dataset.id;
    clearChart();
  }

  function fieldsChanged() {
    const wanted = inputs();
    const key = wanted.problem ? "" : [wanted.ticker, wanted.algorithm, wanted.capital].join("|");
    if (key === preview.key) return;
    preview.key = key;
    root.dataset.key = key;
    const seq = ++preview.seq;
    clearTimeout(preview.timer);
    blank();
    const compareKey = wanted.problem ? "" : [wanted.ticker, wanted.capital].join("|");
    if (compareKey !== comparison.key) hideComparison();
    else markSelected();
    compareButton.disabled = !!wanted.problem;
    if (wanted.problem) { setState("idle", wanted.problem); return; }
    setState("waiting", "…");
    preview.timer = setTimeout(() => show(wanted, seq), DEBOUNCE_MS);
  }

  async function show(wanted, seq) {
    const current = () => seq === preview.seq && !overlayHidden();
    try {
      const job = await runBacktest(
        { ticker: wanted.ticker, algorithm: wanted.algorithm, capital: Number(wanted.capital), sessions: SESSIONS },
        current, (state, text) => setState(state, text));
      if (!job) return;
      root.dataset.id = String(job.id);
      if (job.state === "failed") { setState("failed", job.error || "The backtest failed."); return; }
      const r = job.result;
      setFigure(fReturn, r.total_return, percent(r.total_return), sign(r.total_return));
      setFigure(fHold, r.buy_and_hold_return, percent(r.buy_and_hold_return), sign(r.buy_and_hold_return));
      setFigure(fDrawdown, r.max_drawdown, Number(r.max_drawdown) === 0 ? "0.00 %" : "−" + (Number(r.max_drawdown) * 100).toFixed(2) + " %");
      setFigure(fTrades, r.trades.length, String(r.trades.length));
      fTrades.value.title = r.trades.length + " fills, " + r.round_trips + " round trips";
      fHold.value.title = "buy and hold: the ticker's own move over the same sessions";
      setState("done", r.from + " → " + r.to);
      drawChart(r);
    } catch (e) {
      if (seq === preview.seq) setState("error", e.message);
    }
  }

  // ---------- compare all ----------

  function hideComparison() {
    comparison.key = "";
    comparison.seq++;
    compare.hidden = true;
    compare.dataset.state = "idle";
    compare.textContent = "";
    compareButton.textContent = "COMPARE ALL";
    root.dataset.view = "single";
  }
  function markSelected() {
    for (const row of compare.querySelectorAll(".bt-row")) {
      row.dataset.selected = row.dataset.algorithm === algorithm.value ? "true" : "false";
    }
  }

  compareButton.addEventListener("click", async () => {
    if (!compare.hidden) { hideComparison(); return; }
    const wanted = inputs();
    if (wanted.problem) return;
    comparison.key = [wanted.ticker, wanted.capital].join("|");
    const seq = ++comparison.seq;
    compare.hidden = false;
    root.dataset.view = "ranking";
    compare.dataset.state = "waiting";
    compare.textContent = "RANKING EVERY ALGORITHM…";
    compareButton.textContent = "HIDE RANKING";
    const current = () => seq === comparison.seq && !overlayHidden();
    try {
      const job = await runBacktest(
        { ticker: wanted.ticker, algorithm: "all", capital: Number(wanted.capital), sessions: SESSIONS },
        current, (state, text) => { compare.dataset.state = state; compare.textContent = "RANKING EVERY ALGORITHM · " + text; });
      if (!job) return;
      compare.dataset.id = String(job.id);
      if (job.state === "failed") {
        compare.dataset.state = "failed";
        compare.textContent = job.error || "The backtest failed.";
        return;
      }
      renderRanking(job.result);
    } catch (e) {
      if (seq === comparison.seq) {
        compare.dataset.state = "error";
        compare.textContent = e.message;
      }
    }
  });

  function renderRanking(result) {
    compare.textContent = "";
    const table = el("div", { className: "bt-table", role: "table", "aria-label": "Every algorithm on " + result.ticker + ", best first" });
    const header = el("div", { className: "bt-row bt-header", role: "row" });
    for (const label of ["#", "ALGORITHM", "RETURN", "MAX DD", "TRADES"]) header.appendChild(el("span", { role: "columnheader" }, label));
    table.appendChild(header);
    for (const r of result.leaderboard || []) {
      const row = el("div", {
        className: "bt-row", role: "row", "data-algorithm": r.algorithm, "data-rank": String(r.rank),
        "data-return": r.total_return, "data-drawdown": r.max_drawdown, "data-trades": String(r.trades.length),
      });
      row.appendChild(el("span", { className: "num" }, String(r.rank)));
      row.appendChild(el("span", { className: "bt-name" }, r.algorithm));
      row.appendChild(el("span", { className: "num", "data-sign": sign(r.total_return) }, percent(r.total_return)));
      row.appendChild(el("span", { className: "num" }, (Number(r.max_drawdown) * 100).toFixed(2) + " %"));
      row.appendChild(el("span", { className: "num" }, String(r.trades.length)));
      table.appendChild(row);
    }
    compare.appendChild(table);
    const hold = (result.leaderboard && result.leaderboard[0]) ? result.leaderboard[0].buy_and_hold_return : null;
    compare.appendChild(el("div", { className: "bt-foot" }, "BUY & HOLD " + percent(hold) + " · " + result.from + " → " + result.to));
    // A script that could not run or stopped its backtest is not ranked: say so, with why, rather than let it vanish.
    for (const why of result.left_out || []) compare.appendChild(el("div", { className: "bt-foot bt-left-out" }, "LEFT OUT · " + why));
    compare.dataset.state = "done";
    markSelected();
  }

  // ---------- listening ----------

  function overlayHidden() { return !!(overlay && overlay.hidden); }

  ticker.addEventListener("input", fieldsChanged);
  capital.addEventListener("input", fieldsChanged);
  algorithm.addEventListener("change", fieldsChanged);
  // script.js sets the fields without events when the dialog opens and the algorithms load, and says whether
  // the ticker is valid through #ticker-status: watch those too.
  const watch = new MutationObserver(fieldsChanged);
  if (tickerStatus) watch.observe(tickerStatus, { attributes: true, attributeFilter: ["data-state"] });
  watch.observe(algorithm, { childList: true });
  if (overlay) {
    new MutationObserver(() => {
      if (overlay.hidden) {
        preview.seq++;
        comparison.seq++;
        clearTimeout(preview.timer);
      }
      preview.key = "\u0000"; // re-evaluate from scratch when it opens again
      hideComparison();
      fieldsChanged();
    }).observe(overlay, { attributes: true, attributeFilter: ["hidden"] });
  }
  fieldsChanged();
})();
