// AutoTrader dashboard. Plain JavaScript, no build step, nothing from the internet.
// Polls the api (GET /api/algorithms, then /api/health, then each card's equity),
// one request at a time and one poll at a time, and draws a card per algorithm, worst first, sized so
// every card is on screen at once. Health is checked at least every 60 s whatever the market, and the
// page polls again at the broker's next open and close. Charts: TradingView Lightweight Charts
// (vendor/lightweight-charts), when it loaded.
"use strict";

(function () {
  // ---------- configuration ----------

  const query = new URLSearchParams(location.search);
  function positiveInt(name, fallback) {
    const n = Number(query.get(name));
    return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
  }
  const POLL_OPEN_MS = positiveInt("poll_open_ms", 30000);        // market open: every 30 s
  const POLL_CLOSED_MS = positiveInt("poll_closed_ms", 3600000);  // market closed: every 60 min
  const HEALTH_MS = Math.min(60000, positiveInt("health_ms", 60000)); // health, whatever the market
  const REQUEST_TIMEOUT_MS = 15000;
  const TICKER_DEBOUNCE_MS = 350;
  const MAX_PIN_LENGTH = 12;
  const DETAIL_ROWS = 50;

  const $ = (sel, root) => (root || document).querySelector(sel);
  const body = document.body;

  // ---------- state ----------

  const state = {
    cards: new Map(),        // id -> last card object from the api
    order: [],               // ids in api order
    marketOpen: null,
    nextOpen: null,          // the broker's next open and close (UTC text), from the last good poll
    nextClose: null,
    mode: null,
    lastGoodAt: null,        // Date of last successful /api/algorithms
    pollError: null,         // ApiError of the last failed poll, or null
    health: null,
    healthError: null,
    healthAt: 0,             // ms epoch of the last good /api/health
    healthCount: 0,          // health answers (polls' and the 60 s checks')
    healthTimer: null,
    summary: null,           // /api/algorithms' summary, or one made from the cards
    clock: null,             // the broker's clock: { broker: ms, real: ms, rate } from the last broker_time
    securityTimer: null,     // re-draws the banner when a PIN lockout it shows ends
    pollCount: 0,
    intervalMs: POLL_OPEN_MS,
    polling: false,
    pollQueued: false,
    pollTimer: null,
    nextPollAt: null,
    lockoutUntil: 0,         // ms epoch; PIN pad refuses input until then
    lockoutKind: "locked",   // "locked" (too many wrong PINs) or "wait" (the back-off after one wrong PIN)
    lockoutText: "",         // for "wait": the api's words about the wrong PIN
  };

  // ---------- formatting ----------

  const moneyFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const signedMoneyFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "exceptZero" });
  const priceFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
  const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const pctFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "always" });
  const smallPctFmt = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 2, maximumFractionDigits: 6, signDisplay: "always" });

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  // Money may come as a number or as a decimal string ("12.34"): both read as a number for display.
  function num(v) {
    if (isNum(v)) return v;
    if (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
    return null;
  }
  const money = (v) => (num(v) !== null ? moneyFmt.format(num(v)) : "—");
  const signedMoney = (v) => (num(v) !== null ? signedMoneyFmt.format(num(v)) : "—");
  const price = (v) => (num(v) !== null ? priceFmt.format(num(v)) : "—");
  const int = (v) => (num(v) !== null ? intFmt.format(num(v)) : "—");
  // Signed, and never a bare "0.00%" for a gain or loss too small for two decimals: +0.0062%.
  function pct(v) {
    const n = num(v);
    if (n === null) return "—";
    if (n === 0) return "0.00%";
    return (Math.abs(n) >= 0.01 ? pctFmt.format(n) : smallPctFmt.format(n)) + "%";
  }
  // A card's P&L in percent of its allocation, from the money (the api's pnl_percent is rounded to 2 places).
  function cardPercent(c) {
    const p = num(c.pnl), a = num(c.initial_capital);
    if (p !== null && a) return p / a * 100;
    return num(c.pnl_percent);
  }
  // "HH:MM" in the viewer's zone.
  function hhmm(text) {
    const d = parseUTC(text);
    return d ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "—";
  }

  function parseUTC(text) {
    if (!text) return null;
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  // "Today" on the broker's clock (the simulator's day in simulated mode), in the viewer's zone.
  function today() {
    const now = state.clock ? brokerNow() : null;
    return now !== null ? new Date(now) : new Date();
  }
  function sameLocalDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }
  // The viewer's local time: "14:30:05" today, "Jun 4 14:30" on another day.
  function localTime(text) {
    const d = parseUTC(text);
    if (!d) return "—";
    if (sameLocalDay(d, today())) {
      return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    }
    return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  function localDateTime(text) {
    const d = parseUTC(text);
    if (!d) return "—";
    return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  // The market's next open in the viewer's local time: "09:30" today, "Wed, Jun 5, 09:30" on another day.
  function localWhen(text) {
    const d = parseUTC(text);
    if (!d) return null;
    if (sameLocalDay(d, today())) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return d.toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  // When a sell-and-stop asked for now is carried out: the executor sells at the next market minute,
  // so at once while the market is open, else at the open (the broker's next_open from the last poll).
  function saleAt() {
    if (state.marketOpen === true) return "at the next market minute";
    const when = state.marketOpen === false ? localWhen(state.nextOpen) : null;
    return when ? "at the open, " + when : "when the market opens";
  }
  function saleKind() {
    return state.marketOpen === true ? "next-minute" : state.marketOpen === false && parseUTC(state.nextOpen) ? "open" : "unknown";
  }
  function sharesText(n) {
    return int(n) + " share" + (n === 1 ? "" : "s");
  }
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 90) return seconds + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h";
    return Math.round(seconds / 86400) + " days";
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }
  function pnlSign(pnl) {
    const n = num(pnl);
    if (n === null || n === 0) return "zero";
    return n > 0 ? "positive" : "negative";
  }

  // ---------- api ----------

  class ApiError extends Error {
    constructor(status, message, retryAfter, body) {
      super(message);
      this.status = status;          // 0 = no answer
      this.retryAfter = retryAfter;  // seconds: 429, and a 403 wrong PIN that started a wait
      this.body = body || null;      // the api's JSON answer, when there was one
    }
  }

  function parseRetryAfter(header, json) {
    if (json && isNum(json.retry_after)) return json.retry_after;
    if (header) {
      const n = Number(header);
      if (Number.isFinite(n)) return n;
      const d = Date.parse(header);
      if (!Number.isNaN(d)) return Math.max(0, (d - Date.now()) / 1000);
    }
    return null;
  }

  async function api(method, path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    let payload;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(opts.body);
    }
    if (opts.pin) headers["X-PIN"] = opts.pin;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs || REQUEST_TIMEOUT_MS);
    let response, text;
    try {
      response = await fetch(path, { method, headers, body: payload, cache: "no-store", signal: controller.signal });
      text = await response.text();
    } catch (e) {
      if (e && e.name === "AbortError") {
        throw new ApiError(0, "The AutoTrader api did not answer within " + duration((opts.timeoutMs || REQUEST_TIMEOUT_MS) / 1000) + ".");
      }
      throw new ApiError(0, "Cannot reach the AutoTrader api (is autotrader-api running?).");
    } finally {
      clearTimeout(timer);
    }
    let json = null;
    if (text) {
      try { json = JSON.parse(text); } catch (e) { json = null; }
    }
    if (!response.ok) {
      let message = json && typeof json.error === "string" && json.error ? json.error : null;
      if (!message) {
        message = response.status >= 500 ? "The api failed (HTTP " + response.status + ")."
          : "The api refused the request (HTTP " + response.status + ").";
      }
      throw new ApiError(response.status, message, parseRetryAfter(response.headers.get("Retry-After"), json), json);
    }
    if (json === null) throw new ApiError(response.status, "The api sent an answer that is not JSON.");
    return json;
  }

  // ---------- polling ----------

  function setIntervalMs(ms) {
    state.intervalMs = ms;
    body.dataset.pollIntervalMs = String(ms);
  }

  // Runs one poll now, unless one is running: then exactly one more follows it.
  function pollNow() {
    if (state.polling) { state.pollQueued = true; return; }
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    poll();
  }

  async function poll() {
    state.polling = true;
    body.dataset.pollState = "busy";
    let ok = false;
    try {
      const data = await api("GET", "/api/algorithms");
      applyAlgorithms(data);
      state.pollError = null;
      state.lastGoodAt = new Date();
      ok = true;
    } catch (e) {
      state.pollError = e;
    }
    await fetchHealth();
    // A failed poll retries at the open-market pace even when the market is closed.
    setIntervalMs(ok && state.marketOpen === false ? POLL_CLOSED_MS : POLL_OPEN_MS);
    state.nextPollAt = Date.now() + nextPollDelay();
    renderStatus();
    if (ok) {
      await refreshSparklines();
      if (detail.id !== null) await refreshDetail(false);
    }
    // Counted when everything this poll fetches is on screen.
    state.pollCount += 1;
    body.dataset.pollCount = String(state.pollCount);
    body.dataset.lastPoll = ok ? "ok" : "error";
    state.polling = false;
    body.dataset.pollState = "idle";
    if (state.pollQueued) {
      state.pollQueued = false;
      poll();
    } else {
      const delay = nextPollDelay();
      state.nextPollAt = Date.now() + delay;
      body.dataset.nextPollMs = String(Math.round(delay));
      state.pollTimer = setTimeout(poll, delay);
    }
  }

  // The poll interval, or sooner: just after the broker's next open (market closed) or close (open),
  // so the page never says MARKET CLOSED long after the open. Broker time runs at the clock's rate
  // (faster than real time in an accelerated simulation).
  function nextPollDelay() {
    let delay = state.intervalMs;
    const flip = parseUTC(state.marketOpen === true ? state.nextClose : state.marketOpen === false ? state.nextOpen : null);
    const now = brokerNow();
    if (flip && now !== null) {
      const real = (flip.getTime() - now) / Math.max(0.1, state.clock.rate);
      if (real > -60000) delay = Math.min(delay, Math.max(1000, real + 1500));
    }
    return delay;
  }

  async function fetchHealth() {
    try {
      state.health = await api("GET", "/api/health");
      state.healthError = null;
      state.healthAt = Date.now();
      state.healthCount += 1;
      body.dataset.healthCount = String(state.healthCount);
      noteBrokerTime(state.health.broker_time);
      lockoutFromHealth();
    } catch (e) {
      state.healthError = e;
    }
  }

  // Health at least every HEALTH_MS whatever the market: an executor that stops overnight, or at the
  // open, is on the wall within a minute. A market that opened or closed since the last poll polls now.
  // The first check comes after 3 s: two readings of the broker's clock give its rate (an accelerated
  // simulation), and with it when the next open or close really comes.
  function scheduleHealth(ms) {
    clearTimeout(state.healthTimer);
    state.healthTimer = setTimeout(healthCheck, ms || HEALTH_MS);
  }
  async function healthCheck() {
    if (!state.polling && (!state.clock || !state.clock.measured || Date.now() - state.healthAt >= HEALTH_MS - 1000)) {
      await fetchHealth();
      body.dataset.healthChecks = String(Number(body.dataset.healthChecks || 0) + 1);
      renderStatus();
      const open = state.health && !state.healthError ? state.health.market_open : undefined;
      if ((open === true || open === false) && state.marketOpen !== null && open !== state.marketOpen) pollNow();
    }
    scheduleHealth();
  }

  // ---------- the broker's clock ----------
  // broker_time (the simulator's in simulated mode) from every answer; between answers it runs on at
  // the rate it was seen to run (an accelerated simulation runs faster than the wall clock).
  function noteBrokerTime(text) {
    const d = parseUTC(text);
    if (!d) return;
    const real = Date.now(), broker = d.getTime();
    let rate = state.clock ? state.clock.rate : 1;
    let measured = state.clock ? !!state.clock.measured : false;
    if (state.clock) {
      const dr = real - state.clock.real, db = broker - state.clock.broker;
      if (db < 0 || db > 86400000 * 3) { rate = 1; measured = false; } // restarted or jumped: start again
      else if (dr >= 2000) { rate = Math.min(1000, Math.max(0, db / dr)); measured = true; } // else too close to measure
    }
    const first = measured && !(state.clock && state.clock.measured);
    state.clock = { broker, real, rate, measured };
    renderClock();
    // Now the rate is known: a poll waiting for the open or close is moved to when it really comes.
    if (first && state.pollTimer !== null && !state.polling) {
      clearTimeout(state.pollTimer);
      const delay = nextPollDelay();
      state.nextPollAt = Date.now() + delay;
      body.dataset.nextPollMs = String(Math.round(delay));
      state.pollTimer = setTimeout(poll, delay);
    }
  }
  function brokerNow() {
    if (!state.clock) return null;
    return state.clock.broker + (Date.now() - state.clock.real) * state.clock.rate;
  }

  function applyAlgorithms(data) {
    if (!data || !Array.isArray(data.algorithms)) throw new ApiError(200, "The api's list of algorithms is malformed.");
    state.marketOpen = data.market_open === true ? true : data.market_open === false ? false : null;
    state.nextOpen = typeof data.next_open === "string" ? data.next_open : null;
    state.nextClose = typeof data.next_close === "string" ? data.next_close : null;
    state.mode = typeof data.mode === "string" ? data.mode : state.mode;
    state.totalValue = num(data.total_account_value);
    state.asOf = data.as_of;
    state.summary = data.summary && typeof data.summary === "object" ? data.summary : null;
    noteBrokerTime(data.broker_time);
    const seen = new Set();
    state.order = [];
    for (const card of data.algorithms) {
      if (!card || card.id === undefined || card.id === null) continue;
      const id = String(card.id);
      if (seen.has(id)) continue;
      seen.add(id);
      state.order.push(id);
      state.cards.set(id, card);
    }
    for (const id of Array.from(state.cards.keys())) if (!seen.has(id)) state.cards.delete(id);
    sortWorstFirst();
    renderCards();
    renderHeader();
    if (detail.id !== null && !state.cards.has(detail.id)) closeDetail(); // stopped meanwhile
    if (stop.id !== null && !state.cards.has(stop.id) && !stop.busy) closeStop();
    else if (stop.id !== null) renderStopWhen(); // the market may have opened or closed meanwhile
  }

  // ---------- header, banner ----------

  const modeBadge = $("#mode-badge");
  const market = $("#market");
  const banner = $("#banner");
  const asOf = $("#as-of");

  function renderHeader() {
    const mode = state.mode || (state.health && state.health.mode) || null;
    const known = { live: "LIVE", paper: "PAPER", simulated: "SIMULATED" };
    modeBadge.dataset.mode = known[mode] ? mode : "unknown";
    modeBadge.textContent = known[mode] || (mode ? String(mode).toUpperCase() : "…");
    modeBadge.title = mode === "live" ? "Trading with real money" : mode === "paper" ? "Alpaca paper trading" : mode === "simulated" ? "Local simulator, no broker" : "Trading mode unknown";
    market.dataset.open = state.marketOpen === null ? "unknown" : String(state.marketOpen);
    market.textContent = state.marketOpen === null ? "MARKET …" : state.marketOpen ? "MARKET OPEN" : "MARKET CLOSED";
    $("#account-value").textContent = isNum(state.totalValue) ? money(state.totalValue) : "—";
  }

  // One clock: the broker's time (the simulator's, labelled SIM, in simulated mode) in the viewer's zone.
  // Before the api gives broker_time it shows when the api last answered. Red when the last poll failed.
  function renderClock() {
    const now = brokerNow();
    const sim = (state.mode || (state.health && state.health.mode)) === "simulated";
    let text;
    if (now !== null) {
      text = (sim ? "SIM " : "") + new Date(now).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      asOf.dataset.clock = sim ? "sim" : "broker";
      asOf.dataset.brokerTime = new Date(now).toISOString();
      asOf.title = sim ? "The simulator's time, in your time zone" : "The broker's time, in your time zone";
    } else {
      text = state.lastGoodAt ? state.lastGoodAt.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "—";
      asOf.dataset.clock = "";
      asOf.title = state.lastGoodAt ? "Last answer from the api" : "No answer from the api yet";
    }
    setText(asOf, text);
    asOf.dataset.state = state.pollError ? "error" : "ok";
  }

  // The strip under the top bar: today's and total P&L and how many cards are up, down, flat.
  function renderSummary() {
    const summary = $("#summary");
    const cards = state.order.map((id) => state.cards.get(id)).filter(Boolean);
    summary.hidden = cards.length === 0;
    if (cards.length === 0) return;
    const s = state.summary || {};
    const sum = (key) => cards.reduce((acc, c) => (acc === null || num(c[key]) === null ? null : acc + num(c[key])), 0);
    const total = num(s.pnl) !== null ? num(s.pnl) : sum("pnl");
    const today = num(s.pnl_today) !== null ? num(s.pnl_today) : sum("pnl_today");
    const counts = { up: 0, down: 0, flat: 0 };
    for (const c of cards) { const k = pnlSign(c.pnl); counts[k === "positive" ? "up" : k === "negative" ? "down" : "flat"]++; }
    const up = isNum(s.up) ? s.up : counts.up, down = isNum(s.down) ? s.down : counts.down, flat = isNum(s.flat) ? s.flat : counts.flat;
    const t = $("#sum-today"), a = $("#sum-total");
    setText(t, signedMoney(today));
    t.dataset.sign = pnlSign(today);
    setText(a, signedMoney(total));
    a.dataset.sign = pnlSign(total);
    document.documentElement.style.setProperty("--sum-chars", String(Math.max(8, t.textContent.length, a.textContent.length)));
    setText($("#sum-up"), "▲" + up);
    setText($("#sum-down"), "▼" + down);
    setText($("#sum-flat"), "■" + flat);
    $("#sum-counts").title = up + " up, " + down + " down, " + flat + " flat";
  }

  // The api's reasons give New York times ("since 10:42 ET"): shown, like every time here, in the viewer's
  // zone, taken on the broker's day.
  function localizeET(text) {
    return text.replace(/\b(\d{2}):(\d{2}) ET\b/g, (match, h, m) => {
      try {
        const now = brokerNow() !== null ? brokerNow() : Date.now();
        const parts = {};
        for (const p of new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(now))) parts[p.type] = p.value;
        const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute);
        const offset = Math.round((wall - now) / 60000) * 60000;
        const at = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +h, +m) - offset;
        return new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      } catch (e) {
        return match;
      }
    });
  }

  // Service names as a person says them.
  const SERVICE_WORDS = { executor: "the trading service", streamer: "the market-data feed", api: "the dashboard's server" };
  const STATE_WORDS = { missing: "has never started", stopped: "is stopped", starting: "is starting", stopping: "is stopping", degraded: "is struggling", failed: "has failed" };

  function renderStatus() {
    renderHeader();
    renderClock();
    renderSummary();

    const errors = [], warnings = [];
    if (state.pollError) {
      let text = "API PROBLEM: " + state.pollError.message;
      text += " Retrying every " + duration(state.intervalMs / 1000) + ".";
      if (state.lastGoodAt) text += " Cards are from " + state.lastGoodAt.toLocaleTimeString() + ".";
      errors.push(text);
    }
    if (state.healthError && !state.pollError) {
      warnings.push("HEALTH CHECK FAILED: " + state.healthError.message);
    }
    const h = state.health;
    let halted = false;
    if (h && !state.healthError) {
      // Trading halted (the api decides: a stopped, stale or missing trading service, or stale prices,
      // while the market is open): red, first, in the api's plain words.
      const trading = h.trading && typeof h.trading === "object" ? h.trading : null;
      if (trading && trading.state === "halted") {
        halted = true;
        const reasons = (Array.isArray(trading.reasons) ? trading.reasons : []).filter((r) => typeof r === "string" && r).map(localizeET);
        let text = "TRADING HALTED — " + (reasons.join("; ") || "the system says trading has stopped");
        if (trading.since && !reasons.some((r) => /\d\d:\d\d/.test(r))) text += " (since " + hhmm(trading.since) + ")";
        errors.push(text);
      }
      const bad = [];
      for (const s of Array.isArray(h.services) ? h.services : []) {
        if (halted) break; // the halt's reasons say it already
        const name = SERVICE_WORDS[s.service] || "the " + String(s.service || "service") + " service";
        const age = isNum(s.age_seconds) ? " (last heard from " + duration(s.age_seconds) + " ago)" : "";
        if (s.state && s.state !== "running") bad.push(name + " " + (STATE_WORDS[s.state] || "is " + s.state) + (s.state === "missing" ? "" : age));
        else if (s.stale) bad.push(name + " has gone quiet" + age);
      }
      if (h.databases && typeof h.databases === "object") {
        const DB_WORDS = { system: "the cards' database", stocks: "the price database" };
        for (const [db, st] of Object.entries(h.databases)) {
          if (st !== "ok") bad.push((DB_WORDS[db] || "the " + db + " database") + " has a problem: " + st);
        }
      }
      if (h.data_stale && !halted) {
        bad.push(h.newest_bar ? "no new prices since " + hhmm(h.newest_bar) : "no prices have arrived yet");
      }
      if (h.status === "down") errors.push(bad.length ? "NOT WORKING: " + bad.join(" · ") : "THE SYSTEM SAYS IT IS NOT WORKING");
      else if (bad.length || (h.status === "degraded" && !halted)) warnings.push(bad.join(" · ") || "something is not healthy: see autotrader doctor");
      securityBanner(h.security, errors, warnings);
    }
    banner.dataset.halted = halted ? "true" : "false";
    renderPinPrompt();
    const all = errors.concat(warnings);
    if (all.length === 0) {
      banner.hidden = true;
      banner.textContent = "";
      banner.dataset.level = "none";
    } else {
      banner.hidden = false;
      banner.dataset.level = errors.length ? "error" : "warn";
      banner.textContent = all.join("  —  ");
    }
  }

  // Wrong PINs from health's `security`: amber, red while PINs are not being checked at all.
  function securityBanner(sec, errors, warnings) {
    clearTimeout(state.securityTimer);
    if (!sec || typeof sec !== "object") return;
    const hour = isNum(sec.wrong_pins_last_hour) ? sec.wrong_pins_last_hour : 0;
    const day = isNum(sec.wrong_pins_last_day) ? sec.wrong_pins_last_day : 0;
    const last = sec.last_wrong_pin ? " (LAST " + localTime(sec.last_wrong_pin) + ")" : "";
    let text = null;
    if (hour >= 3) text = hour + " WRONG PIN ATTEMPTS IN THE LAST HOUR — SOMEONE MAY BE GUESSING THE PIN";
    else if (day >= 3) text = day + " WRONG PIN ATTEMPTS IN THE LAST 24 H" + (hour > 0 ? ", " + hour + " IN THE LAST HOUR" : "") + last + " — SOMEONE MAY BE GUESSING THE PIN";
    else if (hour > 0) text = hour + " WRONG PIN ATTEMPT" + (hour === 1 ? "" : "S") + " IN THE LAST HOUR" + last;
    const lockedFor = isNum(sec.pin_locked_for_seconds) ? sec.pin_locked_for_seconds : 0;
    const until = lockedFor > 0 ? state.healthAt + lockedFor * 1000 : 0;
    if (until > Date.now()) {
      const at = new Date(until).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      errors.push("PIN ENTRY LOCKED UNTIL " + at + (text ? ": " + text : ""));
      state.securityTimer = setTimeout(renderStatus, until - Date.now() + 250); // then amber, or gone
    } else if (text) {
      warnings.unshift(text);
    }
  }

  // The factory or a weak PIN: a quiet strip at the bottom that opens the change-PIN flow.
  const pinPrompt = $("#pin-prompt");
  const pinButton = $("#pin-button");
  function pinStrength() {
    const sec = state.health && state.health.security;
    return sec && typeof sec.pin_strength === "string" ? sec.pin_strength : null;
  }
  function factoryBlocksTrading() {
    const mode = state.mode || (state.health && state.health.mode);
    return pinStrength() === "factory" && (mode === "paper" || mode === "live");
  }
  function renderPinPrompt() {
    const strength = pinStrength();
    const weak = strength === "factory" || strength === "weak";
    pinPrompt.hidden = !weak;
    pinPrompt.dataset.strength = strength || "";
    pinButton.dataset.attention = weak ? "true" : "false";
    if (!weak) return;
    let text = strength === "factory" ? "⚠ PIN IS THE FACTORY DEFAULT — CHANGE IT" : "⚠ PIN IS TOO SHORT OR TOO SIMPLE — CHANGE IT";
    if (factoryBlocksTrading()) text += " (NEEDED TO TRADE IN " + String(state.mode || state.health.mode).toUpperCase() + " MODE)";
    setText(pinPrompt, text + " ›");
  }

  // ---------- cards ----------

  const cardsEl = $("#cards");
  const template = $("#card-template");
  const emptyEl = $("#empty");
  const loadingEl = $("#loading");
  const cardEls = new Map(); // id -> article

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }
  function setFact(el, text) {
    setText(el, text);
    el.style.setProperty("--chars", String(Math.max(10, text.length)));
    el.classList.toggle("unknown", text === "—");
  }

  // Worst first: the lowest P&L leads (the cards that need a look), then by id for a steady order.
  function sortWorstFirst() {
    const key = (id) => { const n = num((state.cards.get(id) || {}).pnl); return n === null ? 0 : n; };
    state.order.sort((a, b) => key(a) - key(b) || Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  // Every card on screen at once: the grid's columns are chosen for the largest P&L text that fits
  // (the width of "+$1,234.56" in a tile, a third of its height). Big tiles are full cards ("full");
  // small ones show ticker and P&L ("tile") and open the full card when touched. A narrow screen (a
  // phone) lists full cards one under another and scrolls ("list").
  const phoneQuery = window.matchMedia("(max-width: 600px)");
  function layoutCards() {
    const n = state.order.length;
    if (phoneQuery.matches) { cardsEl.dataset.density = "list"; return; }
    if (n === 0) { cardsEl.dataset.density = "full"; return; }
    const cs = getComputedStyle(cardsEl);
    const gap = parseFloat(cs.columnGap) || 8;
    const width = cardsEl.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const height = cardsEl.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    if (width <= 0 || height <= 0) return;
    // Full cards when they all fit as full cards (the grid with the most room each), else tiles.
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const fits = (g) => g.h >= 17 * rem && g.w >= 13 * rem;
    let best = null, bestFull = null;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = (width - (cols - 1) * gap) / cols, h = (height - (rows - 1) * gap) / rows;
      const g = { cols, rows, w, h, score: Math.min(w / 6.5, h * 0.3) };
      if (!best || g.score > best.score + 0.01) best = g;
      if (fits(g) && (!bestFull || g.score > bestFull.score + 0.01)) bestFull = g;
    }
    const full = bestFull !== null;
    if (full) best = bestFull;
    // A few full cards need not be wider than a card: the rest of the row stays empty.
    cardsEl.style.setProperty("--cols", String(best.cols));
    cardsEl.style.setProperty("--rows", String(best.rows));
    cardsEl.dataset.density = full ? "full" : "tile";
    cardsEl.dataset.cols = String(best.cols);
  }
  if (window.ResizeObserver) new ResizeObserver(() => { const before = cardsEl.dataset.density; layoutCards(); if (before !== cardsEl.dataset.density) drawAllSparks(); }).observe(cardsEl);
  phoneQuery.addEventListener("change", () => { layoutCards(); drawAllSparks(); });

  function renderCards() {
    loadingEl.hidden = true;
    cardsEl.removeAttribute("aria-busy");
    for (const [id, el] of cardEls) {
      if (!state.cards.has(id)) { dropSpark(el); el.remove(); cardEls.delete(id); }
    }
    let previous = null;
    for (const id of state.order) {
      let el = cardEls.get(id);
      if (!el) {
        el = template.content.firstElementChild.cloneNode(true);
        el.dataset.id = id;
        cardEls.set(id, el);
      }
      const wanted = previous ? previous.nextElementSibling : cardsEl.firstElementChild;
      if (wanted !== el) cardsEl.insertBefore(el, wanted);
      previous = el;
    }
    emptyEl.hidden = state.order.length !== 0;
    cardsEl.dataset.count = String(state.order.length);
    layoutCards();
    for (const id of state.order) fillCard(cardEls.get(id), state.cards.get(id));
    renderSummary();
    if (detail.id !== null) renderDetailSummary();
  }

  function fillCard(el, c) {
    const sign = pnlSign(c.pnl);
    el.dataset.pnlSign = sign;
    el.dataset.stopping = c.stopping ? "true" : "false";
    el.dataset.ticker = c.ticker || "";
    setText($(".ticker", el), c.ticker || "?");
    setText($(".algo", el), c.algorithm_type || "");
    $(".algo", el).title = c.display_name || "";
    const pm = $(".pnl-money", el);
    const pmText = signedMoney(c.pnl);
    setText(pm, pmText);
    pm.style.setProperty("--chars", String(Math.max(8, pmText.length)));
    setText($(".pnl-pct", el), pct(cardPercent(c)));
    const today = $(".pnl-today", el);
    const hasToday = num(c.pnl_today) !== null;
    setText(today, hasToday ? "today " + signedMoney(c.pnl_today) : "");
    today.dataset.sign = hasToday ? pnlSign(c.pnl_today) : "zero";
    // No new price for a while: greyed, and since when (the broker's time, in the viewer's zone).
    const stale = $(".stale-note", el);
    el.dataset.stale = c.stale_since ? "true" : "false";
    stale.hidden = !c.stale_since;
    if (c.stale_since) setText(stale, "NO NEW PRICE since " + hhmm(c.stale_since));
    setFact($(".value", el), money(c.current_value));
    setFact($(".alloc", el), money(c.initial_capital));
    setFact($(".shares", el), int(c.current_shares));
    setFact($(".trades", el), int(c.trade_count));
    const upd = $(".updated", el);
    setFact(upd, localTime(c.last_update));
    upd.title = c.last_update ? localDateTime(c.last_update) : "No trade or bar yet";
    const stopButton = $(".stop-button", el);
    stopButton.hidden = !!c.stopping;
    stopButton.setAttribute("aria-label", "Stop " + (c.ticker || "") + " " + (c.algorithm_type || ""));
    $(".stopping-note", el).hidden = !c.stopping;
    const cancelSale = $(".cancel-sale-button", el);
    cancelSale.hidden = !c.stopping;
    cancelSale.setAttribute("aria-label", "Cancel the sale of " + (c.ticker || "") + " " + (c.algorithm_type || ""));
    const when = $(".stopping-when", el);
    when.hidden = !c.stopping;
    if (c.stopping) {
      setText(when, "sells " + saleAt());
      when.dataset.sale = saleKind();
      when.dataset.saleAt = saleKind() === "open" ? state.nextOpen : "";
    }
    el.setAttribute("aria-label", (c.ticker || "") + " " + (c.algorithm_type || "") + ", P&L " + pmText + (c.stale_since ? ", no new price since " + hhmm(c.stale_since) : ""));
    drawSpark(el, c);
  }

  function sparksShown() { return cardsEl.dataset.density !== "tile"; }

  // Equity sparklines: one request per card whose sparkline is shown, one after another, after the list.
  async function refreshSparklines() {
    if (!sparksShown()) return;
    for (const id of state.order.slice()) {
      const el = cardEls.get(id);
      if (!el || !sparksShown()) continue;
      try {
        const data = await api("GET", "/api/algorithms/" + encodeURIComponent(id) + "/equity");
        el.sparkPoints = Array.isArray(data.points) ? data.points : [];
        const card = state.cards.get(id);
        if (card) drawSpark(el, card);
      } catch (e) {
        // The card keeps its previous line; the banner is for the card list and health.
      }
    }
  }
  function drawAllSparks() {
    for (const id of state.order) {
      const el = cardEls.get(id), c = state.cards.get(id);
      if (el && c) drawSpark(el, c);
    }
    if (sparksShown() && !state.polling && state.order.some((id) => cardEls.get(id) && !cardEls.get(id).sparkPoints)) refreshSparklines();
  }

  // ---------- charts (TradingView Lightweight Charts) ----------

  const LWC = window.LightweightCharts || null;
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const toSeconds = (text) => { const d = parseUTC(text); return d ? Math.floor(d.getTime() / 1000) : null; };
  const localHM = (seconds) => new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  // Points oldest first with one value per second (the library refuses repeated or unordered times).
  function series(points, valueOf) {
    const out = [];
    for (const p of points) {
      const time = toSeconds(p && p.t), value = valueOf(p);
      if (time === null || value === null) continue;
      if (out.length && out[out.length - 1].time >= time) { if (out[out.length - 1].time === time) out[out.length - 1].value = value; continue; }
      out.push({ time, value });
    }
    return out;
  }

  // A card's sparkline: its value over its life against its allocation (the zero line, dashed): green
  // above, red below. Made while the card shows it, removed when the card becomes a tile.
  function drawSpark(el, card) {
    const box = $(".spark", el);
    const base = num(card.initial_capital);
    const data = series(el.sparkPoints || [], (p) => num(p.value));
    box.dataset.points = String(data.length);
    if (!LWC || !sparksShown() || el.hidden) { dropSpark(el); return; }
    if (!el.spark) {
      const chart = LWC.createChart(box, {
        autoSize: true,
        layout: { background: { type: "solid", color: "transparent" }, textColor: css("--muted") || "#8c8c8c", fontFamily: css("--mono") || "monospace" },
        grid: { vertLines: { visible: false }, horzLines: { visible: false } },
        rightPriceScale: { visible: false }, leftPriceScale: { visible: false },
        timeScale: { visible: false, borderVisible: false, fixLeftEdge: true, fixRightEdge: true },
        crosshair: { vertLine: { visible: false, labelVisible: false }, horzLine: { visible: false, labelVisible: false } },
        handleScroll: false, handleScale: false,
      });
      const line = chart.addBaselineSeries({
        baseValue: { type: "price", price: base || 0 },
        topLineColor: css("--green"), topFillColor1: "rgba(43, 255, 106, 0.28)", topFillColor2: "rgba(43, 255, 106, 0.04)",
        bottomLineColor: css("--red"), bottomFillColor1: "rgba(255, 79, 79, 0.04)", bottomFillColor2: "rgba(255, 79, 79, 0.28)",
        lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
        // The allocation always in view, so the line's distance from it means something.
        autoscaleInfoProvider: (original) => {
          const r = original();
          const b = el.spark ? el.spark.base : base;
          if (b === null) return r;
          if (!r || !r.priceRange) return { priceRange: { minValue: b - 1, maxValue: b + 1 } };
          return { priceRange: { minValue: Math.min(r.priceRange.minValue, b), maxValue: Math.max(r.priceRange.maxValue, b) } };
        },
      });
      el.spark = { chart, line, base: null, baseLine: null, key: "" };
      watchChart(box, el.spark);
    }
    const spark = el.spark;
    if (spark.base !== base) {
      spark.base = base;
      spark.line.applyOptions({ baseValue: { type: "price", price: base || 0 } });
      if (spark.baseLine) spark.line.removePriceLine(spark.baseLine);
      spark.baseLine = base === null ? null : spark.line.createPriceLine({ price: base, color: css("--muted"), lineWidth: 1, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: false });
    }
    const key = data.map((p) => p.time + ":" + p.value).join(",");
    if (key !== spark.key) {
      spark.key = key;
      spark.line.setData(data);
      spark.chart.timeScale().fitContent();
    }
  }
  // A chart made at one size and shown at another (a rotated phone, a tab shown later) fits its data again.
  const chartResizes = window.ResizeObserver ? new ResizeObserver((entries) => {
    for (const entry of entries) {
      const holder = entry.target.chartHolder;
      if (!holder || entry.contentRect.width === 0) continue;
      if (holder.fontSized) holder.chart.applyOptions({ layout: { fontSize: chartFontSize(entry.target) } });
      holder.chart.timeScale().fitContent();
    }
  }) : null;
  function watchChart(box, holder) {
    box.chartHolder = holder;
    if (chartResizes) chartResizes.observe(box);
  }
  function unwatchChart(box) {
    box.chartHolder = null;
    if (chartResizes) chartResizes.unobserve(box);
  }
  function chartFontSize(box) {
    return Math.max(12, Math.round(parseFloat(getComputedStyle(box).fontSize) || 12));
  }
  function dropSpark(el) {
    if (el.spark) unwatchChart($(".spark", el));
    if (el.spark) { el.spark.chart.remove(); el.spark = null; }
  }

  cardsEl.addEventListener("click", (event) => {
    const card = event.target.closest(".card");
    if (!card) return;
    const id = card.dataset.id;
    if (event.target.closest(".stop-button")) {
      startStop(id);
    } else if (event.target.closest(".cancel-sale-button")) {
      startCancelSale(id);
    } else {
      openDetail(id);
    }
  });
  cardsEl.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.classList.contains("card")) {
      event.preventDefault();
      openDetail(event.target.dataset.id);
    }
  });

  // ---------- overlays ----------

  const overlays = {
    pin: $("#pin-overlay"),
    add: $("#add-overlay"),
    stop: $("#stop-overlay"),
    detail: $("#detail-overlay"),
  };
  function show(name) { overlays[name].hidden = false; hideToast(); }
  function hide(name) { overlays[name].hidden = true; }
  function topOverlay() {
    for (const name of ["pin", "stop", "add", "detail"]) if (!overlays[name].hidden) return name;
    return null;
  }

  // ---------- PIN pad ----------
  // Two modes. "check": one PIN, checked with POST /api/validate-pin and handed to onSuccess.
  // "change": the current PIN (step "current", skipped when the caller already holds it), the new
  // one ("new"), the new one again ("confirm"), then PUT /api/pin; "done" confirms it.

  const pinPad = $("#pin-pad");
  const pinDisplay = $("#pin-display");
  const pinMessage = $("#pin-message");
  const pinTitle = $("#pin-title");
  const pinPurpose = $("#pin-purpose");
  const pinOk = $("#pin-ok");
  const pin = {
    value: "", onSuccess: null, busy: false, countdown: null, seq: 0,
    mode: "check", step: "", old: null, fresh: null, onChanged: null,
  };
  const CHANGE_STEPS = {
    current: "CHANGE PIN · YOUR CURRENT PIN",
    new: "NEW PIN · 6 TO 12 DIGITS",
    confirm: "NEW PIN AGAIN, TO CONFIRM",
    done: "",
  };

  function pinRender() {
    pinDisplay.textContent = "●".repeat(pin.value.length);
    pinDisplay.dataset.length = String(pin.value.length);
    pinDisplay.classList.toggle("long", pin.value.length > 8);
    const locked = Date.now() < state.lockoutUntil;
    const done = pin.mode === "change" && pin.step === "done";
    for (const b of pinPad.querySelectorAll(".key")) b.disabled = locked || pin.busy || done;
    pinOk.disabled = done ? false : locked || pin.busy || pin.value.length === 0;
  }
  function pinSetMessage(text, kind) {
    pinMessage.textContent = text || "";
    pinPad.dataset.state = kind || "idle";
  }
  function pinReset(mode) {
    pin.seq++;
    pin.value = "";
    pin.busy = false;
    pin.onSuccess = null;
    pin.mode = mode;
    pin.old = null;
    pin.fresh = null;
    pin.onChanged = null;
    pinPad.dataset.mode = mode;
    pinSetStep("");
  }
  function pinSetStep(step) {
    pin.step = step;
    pin.value = "";
    pinPad.dataset.step = step;
    if (pin.mode === "change") pinPurpose.textContent = CHANGE_STEPS[step] || "";
  }

  // Opens the pad; on a PIN the server accepts, calls onSuccess(pin).
  function askPin(purpose, onSuccess) {
    pinReset("check");
    pin.onSuccess = onSuccess;
    pinTitle.textContent = "ENTER PIN";
    pinPurpose.textContent = purpose;
    pinSetMessage("", "idle");
    show("pin");
    updateLockout();
    pinRender();
  }

  // Opens the pad to change the PIN. options.old: the current PIN when the caller already has it
  // (accepted moments ago); options.reason: why (shown on the pad); options.onChanged(newPin): after
  // the api has changed it.
  function changePin(options) {
    const o = options || {};
    pinReset("change");
    pin.old = o.old || null;
    pin.onChanged = o.onChanged || null;
    pinTitle.textContent = "CHANGE PIN";
    pinSetStep(pin.old ? "new" : "current");
    pinSetMessage(o.reason || "", o.reason ? "notice" : "idle");
    show("pin");
    updateLockout();
    pinRender();
  }

  function closePin() {
    hide("pin");
    pinReset("check");
    pinTitle.textContent = "ENTER PIN";
  }

  function shake() {
    pinPad.classList.remove("shake");
    void pinPad.offsetWidth; // restart the animation
    pinPad.classList.add("shake");
  }
  pinPad.addEventListener("animationend", () => pinPad.classList.remove("shake"));

  // kind "locked": too many wrong PINs (429, or health says so); "wait": the back-off a wrong PIN started (403).
  function startLockout(seconds, kind, text) {
    const s = isNum(seconds) && seconds > 0 ? seconds : 60;
    state.lockoutUntil = Date.now() + s * 1000;
    state.lockoutKind = kind || "locked";
    state.lockoutText = text || "";
    updateLockout();
  }
  // Health's pin_locked_for_seconds: the pad is locked before anyone types a PIN in vain.
  function lockoutFromHealth() {
    const sec = state.health && state.health.security;
    const seconds = sec && isNum(sec.pin_locked_for_seconds) ? sec.pin_locked_for_seconds : 0;
    if (seconds <= 0) return;
    const until = Date.now() + seconds * 1000;
    if (until > state.lockoutUntil + 1500) startLockout(seconds, "locked", "");
  }
  function updateLockout() {
    clearTimeout(pin.countdown);
    const left = (state.lockoutUntil - Date.now()) / 1000;
    if (left > 0) {
      const head = state.lockoutKind === "wait" ? state.lockoutText || "Wrong PIN." : "TOO MANY WRONG PINS.";
      pinSetMessage(head + "\nTRY AGAIN IN " + clock(left), "locked");
      pinPad.dataset.lockedSeconds = String(Math.ceil(left));
      pin.countdown = setTimeout(updateLockout, Math.min(1000, left * 1000 - Math.floor(left) * 1000 || 1000));
    } else if (pinPad.dataset.state === "locked") {
      if (state.lockoutKind === "wait") pinSetMessage(state.lockoutText || "Wrong PIN.", "error");
      else pinSetMessage("", "idle");
      delete pinPad.dataset.lockedSeconds;
    }
    pinRender();
  }

  function pinDigit(d) {
    if (pin.busy || Date.now() < state.lockoutUntil || pin.step === "done") return;
    if (pinPad.dataset.state === "error") pinSetMessage("", "idle");
    if (pin.value.length < MAX_PIN_LENGTH) pin.value += d;
    pinRender();
  }
  function pinClear() {
    if (pin.busy || pin.step === "done") return;
    pin.value = "";
    if (pinPad.dataset.state === "error") pinSetMessage("", "idle");
    pinRender();
  }
  function pinBackspace() {
    if (pin.busy || pin.step === "done") return;
    pin.value = pin.value.slice(0, -1);
    pinRender();
  }

  // A refused PIN from any call: shake and clear on 403 (waiting out its back-off), lockout on 429.
  // Returns true if the error was about the PIN.
  function pinRefused(e) {
    if (!(e instanceof ApiError)) return false;
    if (e.status === 429) {
      pin.value = "";
      shake();
      startLockout(e.retryAfter, "locked", "");
      return true;
    }
    if (e.status === 403) {
      pin.value = "";
      shake();
      if (isNum(e.retryAfter) && e.retryAfter > 0) {
        startLockout(e.retryAfter, "wait", e.message || "Wrong PIN.");
      } else {
        pinSetMessage(e.message || "Wrong PIN.", "error");
        pinRender();
      }
      return true;
    }
    return false;
  }
  // A create or sell-and-stop refused because the factory PIN is still set (paper and live mode).
  function needsPinChange(e) {
    return e instanceof ApiError && e.status === 403 && !!e.body && e.body.pin_change_required === true;
  }
  function modeName() {
    const mode = state.mode || (state.health && state.health.mode) || "this";
    return String(mode).toUpperCase() + " MODE";
  }

  async function pinSubmit() {
    if (pin.mode === "change") return changeSubmit();
    if (pin.busy || pin.value.length === 0 || Date.now() < state.lockoutUntil) return;
    const entered = pin.value;
    const seq = pin.seq;
    pin.busy = true;
    pinSetMessage("CHECKING…", "busy");
    pinRender();
    try {
      await api("POST", "/api/validate-pin", { body: { pin: entered } });
      if (seq !== pin.seq) return; // closed meanwhile
      pin.busy = false;
      const next = pin.onSuccess;
      closePin();
      if (next) next(entered);
    } catch (e) {
      if (seq !== pin.seq) return;
      pin.busy = false;
      if (!pinRefused(e)) {
        pin.value = "";
        pinSetMessage(e.message, "error");
        pinRender();
      }
    }
  }

  async function changeSubmit() {
    if (pin.step === "done") { closePin(); return; }
    if (pin.busy || pin.value.length === 0 || Date.now() < state.lockoutUntil) return;
    const entered = pin.value;
    const seq = pin.seq;
    if (pin.step === "current") {
      pin.busy = true;
      pinSetMessage("CHECKING…", "busy");
      pinRender();
      try {
        await api("POST", "/api/validate-pin", { body: { pin: entered } });
        if (seq !== pin.seq) return;
        pin.busy = false;
        pin.old = entered;
        pinSetStep("new");
        pinSetMessage("", "idle");
        pinRender();
      } catch (e) {
        if (seq !== pin.seq) return;
        pin.busy = false;
        if (!pinRefused(e)) {
          pin.value = "";
          pinSetMessage(e.message, "error");
          pinRender();
        }
      }
      return;
    }
    if (pin.step === "new") {
      if (!/^[0-9]{6,12}$/.test(entered)) {
        pin.value = "";
        shake();
        pinSetMessage("THE NEW PIN MUST BE 6 TO 12 DIGITS.", "error");
        pinRender();
        return;
      }
      pin.fresh = entered;
      pinSetStep("confirm");
      pinSetMessage("", "idle");
      pinRender();
      return;
    }
    if (pin.step !== "confirm") return;
    if (entered !== pin.fresh) {
      pin.fresh = null;
      pinSetStep("new");
      shake();
      pinSetMessage("THE TWO NEW PINS DIFFER.\nENTER THE NEW PIN AGAIN.", "error");
      pinRender();
      return;
    }
    const onChanged = pin.onChanged;
    pin.busy = true;
    pinSetMessage("CHANGING THE PIN…", "busy");
    pinRender();
    try {
      await api("PUT", "/api/pin", { body: { old_pin: pin.old, new_pin: entered } });
      pinChanged(entered, onChanged); // even if the pad was closed meanwhile: the PIN has changed
      if (seq !== pin.seq) return;
      pin.busy = false;
      pin.old = null;
      pin.fresh = null;
      pinSetStep("done");
      pinSetMessage("✓ PIN CHANGED.\nUSE THE NEW PIN FROM NOW ON.", "done");
      pinRender();
    } catch (e) {
      if (seq !== pin.seq) return;
      pin.busy = false;
      pin.fresh = null;
      if (e.status === 403 || e.status === 429 || e.status === 401) {
        // The current PIN was refused (or a lockout began): start again from it.
        pin.old = null;
        pinSetStep("current");
        if (!pinRefused(e)) { pinSetMessage(e.message, "error"); pinRender(); }
      } else {
        // 400: the api's reason the new PIN is not good enough; or no answer.
        pinSetStep("new");
        shake();
        pinSetMessage(e.message, "error");
        pinRender();
      }
    }
  }

  // After PUT /api/pin succeeded: the prompt goes at once (health confirms it at the next poll).
  function pinChanged(newPin, onChanged) {
    if (state.health && state.health.security) state.health.security.pin_strength = "strong";
    renderPinPrompt();
    if (onChanged) onChanged(newPin);
    pollNow();
  }

  pinPad.addEventListener("click", (event) => {
    const key = event.target.closest("button");
    if (!key || key.disabled) return;
    if (key.dataset.digit !== undefined) pinDigit(key.dataset.digit);
    else if (key.id === "pin-clear") pinClear();
    else if (key.id === "pin-ok") pinSubmit();
    else if (key.id === "pin-cancel") closePin();
  });

  pinButton.addEventListener("click", () => changePin({}));
  pinPrompt.addEventListener("click", () => {
    const strength = pinStrength();
    changePin({ reason: strength === "factory" ? "THE PIN IS STILL THE FACTORY ONE:\nANYONE CAN LOOK IT UP." : strength === "weak" ? "THE PIN IS TOO SHORT OR TOO SIMPLE." : "" });
  });

  // ---------- add dialog ----------

  const addForm = $("#add-dialog");
  const addTicker = $("#add-ticker");
  const addAlgorithm = $("#add-algorithm");
  const addCapital = $("#add-capital");
  const addSubmit = $("#add-submit");
  const addAvailable = $("#add-available");
  const addError = $("#add-error");
  const tickerStatus = $("#ticker-status");
  const add = { pin: null, available: null, algorithms: [], ticker: { symbol: "", result: null, timer: null, seq: 0 }, busy: false, field: addTicker };

  $("#add-button").addEventListener("click", () => {
    askPin("PIN to add an algorithm", (goodPin) => {
      if (!factoryBlocksTrading()) { openAdd(goodPin); return; }
      // The api would refuse the create: change the PIN first, then add with the new one.
      changePin({
        old: goodPin,
        reason: "THE FACTORY PIN IS STILL SET.\nCHANGE IT TO TRADE IN " + modeName() + ".",
        onChanged: (newPin) => openAdd(newPin),
      });
    });
  });

  // A line under a form: the api's refusal (red), or a note (data-tone="info", green).
  function setLine(el, text, tone) {
    el.textContent = text || "";
    if (tone) el.dataset.tone = tone; else delete el.dataset.tone;
  }

  // The on-screen keyboard is for the wall (no keyboard of its own); a phone's screen is too narrow for
  // it and has its own: then the fields ask for the phone's (letters for the ticker, digits for capital).
  function chooseKeyboard() {
    const own = phoneQuery.matches;
    keyboard.hidden = own;
    addTicker.inputMode = own ? "text" : "none";
    addCapital.inputMode = own ? "decimal" : "none";
    addForm.dataset.keyboard = own ? "device" : "screen";
  }
  phoneQuery.addEventListener("change", chooseKeyboard);

  function openAdd(goodPin) {
    add.pin = goodPin;
    chooseKeyboard();
    add.busy = false;
    addTicker.value = "";
    addCapital.value = "";
    setLine(addError, "");
    setText($("#add-available-why"), "");
    setTickerStatus("empty", "Type a symbol");
    addSubmit.disabled = false;
    show("add");
    focusField(addTicker);
    loadAlgorithms();
    loadCash();
  }
  function closeAdd() {
    hide("add");
    add.pin = null;
    clearTimeout(add.ticker.timer);
    add.ticker.seq++;
  }

  async function loadAlgorithms() {
    if (add.algorithms.length === 0) {
      addAlgorithm.innerHTML = "";
      addAlgorithm.appendChild(new Option("loading…", ""));
      addAlgorithm.disabled = true;
    }
    try {
      const data = await api("GET", "/api/available-algorithms");
      const list = Array.isArray(data.algorithms) ? data.algorithms : [];
      const previous = addAlgorithm.value;
      add.algorithms = list;
      addAlgorithm.innerHTML = "";
      // Scripts from the algorithm folder are offered beside the compiled Swift ones; one that can't run
      // (a broken file, a name clash) is shown, disabled, with its error, so the owner sees why.
      const usable = list.filter((a) => a.status !== "error");
      for (const a of list) {
        const label = a.name + (a.kind === "script" ? " · script" : "");
        if (a.status === "error") {
          const option = new Option(label + " · unavailable: " + (a.error || "can't run"), "");
          option.disabled = true;
          option.title = a.error || "";
          option.className = "unavailable";
          option.dataset.name = a.name;
          addAlgorithm.appendChild(option);
        } else {
          addAlgorithm.appendChild(new Option(label, a.name));
        }
      }
      if (list.length === 0) addAlgorithm.appendChild(new Option("none installed", ""));
      if (previous && usable.some((a) => a.name === previous)) addAlgorithm.value = previous;
      else if (usable.length > 0) addAlgorithm.value = usable[0].name;
      addAlgorithm.disabled = usable.length === 0;
      describeAlgorithm();
    } catch (e) {
      addAlgorithm.innerHTML = "";
      addAlgorithm.appendChild(new Option("unavailable", ""));
      addAlgorithm.disabled = true;
      $("#add-algorithm-description").textContent = e.message;
    }
  }
  function describeAlgorithm() {
    const a = add.algorithms.find((x) => x.name === addAlgorithm.value && x.status !== "error");
    const text = a ? (a.summary || a.description || "") : "";
    $("#add-algorithm-description").textContent = text;
  }
  addAlgorithm.addEventListener("change", describeAlgorithm);

  async function loadCash() {
    add.available = null;
    addAvailable.dataset.state = "loading";
    addAvailable.textContent = "AVAILABLE …";
    try {
      const data = await api("GET", "/api/account/cash");
      add.available = isNum(data.available) ? data.available : null;
      addAvailable.dataset.state = "ok";
      addAvailable.dataset.available = String(add.available);
      addAvailable.textContent = "AVAILABLE " + money(add.available);
      addAvailable.title = "Broker cash " + money(data.broker_cash) + " − allocated " + money(data.allocated);
      // Why it moves, in words: the cards' shares are bought with the broker's cash.
      setText($("#add-available-why"), "= the broker's cash " + money(data.broker_cash) + " − " + money(data.allocated)
        + " given to running cards. It falls as cards buy shares and rises as they sell.");
    } catch (e) {
      addAvailable.dataset.state = "error";
      addAvailable.textContent = "AVAILABLE ?: " + e.message;
      setText($("#add-available-why"), "");
    }
  }

  function setTickerStatus(kind, text) {
    tickerStatus.dataset.state = kind;
    tickerStatus.textContent = text;
  }
  function normalizeTicker(text) {
    return text.toUpperCase().replace(/[^A-Z0-9.\-\/]/g, "");
  }
  function tickerChanged() {
    const symbol = normalizeTicker(addTicker.value);
    if (symbol !== addTicker.value) addTicker.value = symbol;
    if (symbol === add.ticker.symbol) return;
    add.ticker.symbol = symbol;
    add.ticker.result = null;
    clearTimeout(add.ticker.timer);
    const seq = ++add.ticker.seq;
    if (!symbol) { setTickerStatus("empty", "Type a symbol"); return; }
    setTickerStatus("checking", "checking " + symbol + "…");
    add.ticker.timer = setTimeout(() => checkTicker(symbol, seq), TICKER_DEBOUNCE_MS);
  }
  async function checkTicker(symbol, seq) {
    try {
      const r = await api("GET", "/api/validate-ticker?symbol=" + encodeURIComponent(symbol));
      if (seq !== add.ticker.seq) return; // typed on meanwhile
      add.ticker.result = r;
      if (r.valid && r.tradable) setTickerStatus("valid", "✓ " + (r.name || symbol));
      else if (r.valid) setTickerStatus("invalid", "✗ " + (r.error || (r.name || symbol) + " cannot be traded"));
      else setTickerStatus("invalid", "✗ " + (r.error || symbol + " is not a known symbol"));
    } catch (e) {
      if (seq !== add.ticker.seq) return;
      setTickerStatus("error", "✗ " + e.message);
    }
  }
  addTicker.addEventListener("input", tickerChanged);

  function capitalProblem(text) {
    if (!text) return "Enter the capital to allocate.";
    if (!/^\d+(\.\d{1,2})?$/.test(text)) return "Capital must be a dollar amount like 1000 or 1000.50.";
    const n = Number(text);
    if (!(n > 0)) return "Capital must be more than $0.00.";
    if (add.available !== null && n > add.available) return "Only " + money(add.available) + " is free to allocate.";
    return null;
  }
  addCapital.addEventListener("input", () => {
    const cleaned = addCapital.value.replace(/[^0-9.]/g, "");
    if (cleaned !== addCapital.value) addCapital.value = cleaned;
    addError.textContent = "";
  });

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (add.busy) return;
    setLine(addError, "");
    const ticker = normalizeTicker(addTicker.value);
    const algorithm = addAlgorithm.value;
    const capitalText = addCapital.value.trim();
    if (!ticker) { addError.textContent = "Enter a ticker."; focusField(addTicker); return; }
    const r = add.ticker.result;
    if (r && r.symbol && normalizeTicker(r.symbol) === ticker && !(r.valid && r.tradable)) {
      addError.textContent = tickerStatus.textContent.replace(/^✗ /, "");
      focusField(addTicker);
      return;
    }
    if (!algorithm) { addError.textContent = "Choose an algorithm."; return; }
    const problem = capitalProblem(capitalText);
    if (problem) { addError.textContent = problem; focusField(addCapital); return; }
    add.busy = true;
    addSubmit.disabled = true;
    addSubmit.textContent = "STARTING…";
    const goodPin = add.pin;
    try {
      await api("POST", "/api/algorithms", {
        body: { ticker, algorithm_type: algorithm, initial_capital: Number(capitalText), pin: goodPin },
        pin: goodPin,
      });
      closeAdd();
      pollNow();
    } catch (e) {
      if (needsPinChange(e)) {
        // Paper or live mode with the factory PIN: say so, and change it right here; the form stays.
        setLine(addError, "REFUSED: THE FACTORY PIN IS STILL SET. CHANGE IT TO TRADE IN " + modeName() + ".");
        changePin({
          old: goodPin,
          reason: "THE FACTORY PIN IS STILL SET.\nCHANGE IT TO TRADE IN " + modeName() + ".",
          onChanged: (newPin) => { add.pin = newPin; setLine(addError, "PIN CHANGED. PRESS START TO ADD THE ALGORITHM.", "info"); },
        });
      } else if (e.status === 403 || e.status === 429) {
        // The PIN changed or a lockout began since the pad: ask again, keep the form.
        askPin("PIN to add an algorithm", (p) => { add.pin = p; addForm.requestSubmit(); });
        pinRefused(e);
      } else {
        addError.textContent = e.message;
        if (e.status === 400 || e.status === 409 || e.status === 422) loadCash();
      }
    } finally {
      add.busy = false;
      addSubmit.disabled = false;
      addSubmit.textContent = "START";
    }
  });

  // On-screen keyboard: the wall has no physical one. Types into the focused field.
  const keyboard = $("#keyboard");
  const KEY_ROWS = ["1234567890", "QWERTYUIOP", "ASDFGHJKL.", "ZXCVBNM"];
  for (const row of KEY_ROWS) {
    for (const ch of row) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "key";
      b.dataset.key = ch;
      b.dataset.kind = /[0-9]/.test(ch) ? "digit" : ch === "." ? "dot" : "letter";
      b.textContent = ch;
      keyboard.appendChild(b);
    }
  }
  const back = document.createElement("button");
  back.type = "button";
  back.className = "key wide3";
  back.dataset.key = "Backspace";
  back.dataset.kind = "control";
  back.textContent = "⌫ DEL";
  back.setAttribute("aria-label", "Delete");
  keyboard.appendChild(back);

  function focusField(field) {
    add.field = field;
    addTicker.classList.toggle("active", field === addTicker);
    addCapital.classList.toggle("active", field === addCapital);
    for (const b of keyboard.querySelectorAll('.key[data-kind="letter"]')) b.disabled = field === addCapital;
    try { field.focus({ preventScroll: true }); } catch (e) { field.focus(); }
  }
  addTicker.addEventListener("focus", () => focusField(addTicker));
  addCapital.addEventListener("focus", () => focusField(addCapital));
  keyboard.addEventListener("pointerdown", (event) => event.preventDefault()); // keep the field focused
  keyboard.addEventListener("click", (event) => {
    const b = event.target.closest(".key");
    if (!b || b.disabled) return;
    const field = add.field || addTicker;
    if (b.dataset.key === "Backspace") field.value = field.value.slice(0, -1);
    else if (field.maxLength <= 0 || field.value.length < field.maxLength) field.value += b.dataset.key;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    try { field.focus({ preventScroll: true }); } catch (e) { /* ignore */ }
  });

  // ---------- stop ----------
  // The dialog fetches the card fresh when it opens (the page's copy may be a poll old) and offers
  // what fits the shares it holds now: "sell N shares, then stop" first, and keeping them only as a
  // separate, explicit choice (?keep_shares=true); with none, one plain STOP, which the api refuses
  // (409 with `shares`) if the card bought meanwhile, and the dialog then offers the choice again.

  const stopDialog = $("#stop-dialog");
  const stopKeep = $("#stop-keep");
  const stopLiquidate = $("#stop-liquidate");
  const stopPlain = $("#stop-plain");
  const stopRetry = $("#stop-retry");
  const stopCancel = $("#stop-cancel");
  const stopError = $("#stop-error");
  // phase: "checking" (fetching the card), "ready" (card = the fresh card), "error" (the fetch failed).
  const stop = { id: null, pin: null, busy: false, seq: 0, open: 0, phase: "checking", card: null };

  function startStop(id) {
    const card = state.cards.get(id);
    if (!card || card.stopping) return;
    askPin("PIN to stop " + (card.ticker || "") + " · " + (card.algorithm_type || ""), (p) => openStop(id, p));
  }

  function openStop(id, goodPin) {
    const known = state.cards.get(id);
    if (!known) return;
    stop.open++;
    stop.id = id;
    stop.pin = goodPin;
    stop.busy = false;
    stop.card = null;
    stopDialog.dataset.id = id;
    $("#stop-title").textContent = "STOP " + (known.ticker || "") + " · " + (known.algorithm_type || "");
    setLine(stopError, "");
    show("stop");
    loadStopCard(false);
    pollNow(); // the market's state and next open, fresh for "when it sells"
  }

  // GET /api/algorithms/{id}: what the card holds now. quiet: keep the dialog as it is meanwhile.
  async function loadStopCard(quiet) {
    const id = stop.id;
    if (id === null) return;
    const seq = ++stop.seq;
    if (!quiet) { stop.card = null; renderStop("checking"); }
    try {
      const card = await api("GET", "/api/algorithms/" + encodeURIComponent(id));
      if (seq !== stop.seq || stop.id !== id) return;
      stop.card = card;
      applyCard(card);
      renderStop("ready");
    } catch (e) {
      if (seq !== stop.seq || stop.id !== id) return;
      if (quiet && stop.card) return; // the count from the api's refusal stands
      renderStop("error");
      const known = state.cards.get(id);
      setLine(stopError, "COULD NOT CHECK " + ((known && known.ticker) || "THE CARD") + " NOW: " + e.message);
      if (e.status === 404) pollNow();
    }
  }

  // A card the api just sent (a fetch, a stop, a cancelled sale): the page's copy is replaced at once.
  function applyCard(card) {
    if (!card || card.id === undefined || card.id === null) return;
    const id = String(card.id);
    if (card.status === "stopped") {
      if (!state.cards.has(id)) return;
      state.cards.delete(id);
      state.order = state.order.filter((x) => x !== id);
    } else {
      if (!state.cards.has(id)) return; // not on the page yet: the next poll brings it
      state.cards.set(id, card);
    }
    renderCards();
  }

  function stopShares() {
    return stop.card && isNum(stop.card.current_shares) ? stop.card.current_shares : 0;
  }

  function renderStop(phase) {
    stop.phase = phase;
    stopDialog.dataset.state = stop.busy ? "busy" : phase;
    const c = stop.card || state.cards.get(stop.id) || {};
    const ticker = c.ticker || "";
    const shares = stopShares();
    const ready = phase === "ready" && !!stop.card;
    const running = ready && c.status !== "stopped";
    const holds = running && !c.stopping && shares > 0;
    const flat = running && !c.stopping && shares <= 0;
    stopDialog.dataset.hasShares = ready ? String(shares > 0) : "";
    stopDialog.dataset.shares = ready ? String(shares) : "";
    const warning = $("#stop-warning");
    const text = $("#stop-text");
    const keepNote = $("#stop-keep-note");
    warning.hidden = true;
    keepNote.hidden = true;
    text.dataset.tone = "";
    if (phase === "checking") {
      text.textContent = "Checking what " + (ticker || "it") + " holds now…";
      text.dataset.tone = "busy";
    } else if (phase === "error") {
      text.textContent = "";
    } else if (!running) {
      text.textContent = ticker + " is already stopped.";
    } else if (c.stopping) {
      warning.hidden = false;
      warning.textContent = "A SALE IS ALREADY PENDING: " + ticker + " sells " + (shares > 0 ? sharesText(shares) + " " : "") + saleAt() + ", then stops.";
      text.textContent = "CANCEL SALE on the card withdraws it.";
    } else if (holds) {
      const worth = isNum(c.current_price) ? ", worth about " + money(shares * c.current_price) + " at " + price(c.current_price) : "";
      warning.hidden = false;
      warning.textContent = "⚠ " + ticker + " HOLDS " + sharesText(shares).toUpperCase() + " NOW" + worth + ".";
      text.textContent = "Sell them first, then stop:";
      keepNote.hidden = false;
      keepNote.textContent = "Or stop without selling: the " + sharesText(shares) + " stay in the broker account, managed by nothing.";
    } else {
      text.textContent = ticker + " holds no shares now. P&L " + signedMoney(c.pnl) + " on " + money(c.initial_capital) + ". A stopped algorithm cannot be restarted.";
    }
    $("#stop-liquidate-label").textContent = "SELL " + sharesText(shares).toUpperCase() + ", THEN STOP";
    stopKeep.textContent = "STOP AND KEEP " + sharesText(shares).toUpperCase();
    stopLiquidate.hidden = !holds;
    stopKeep.hidden = !holds;
    stopPlain.hidden = !flat;
    stopRetry.hidden = phase !== "error";
    stopCancel.textContent = holds || flat || phase !== "ready" ? "CANCEL" : "CLOSE";
    renderStopWhen();
    setStopBusy(stop.busy);
    // The default: Enter (or a tap on the highlighted button) sells, or stops a card with nothing to sell.
    const main = holds ? stopLiquidate : flat ? stopPlain : phase === "error" ? stopRetry : null;
    if (main && !stop.busy && document.activeElement !== main) {
      try { main.focus({ preventScroll: true }); } catch (e) { main.focus(); }
    }
  }
  function renderStopWhen() {
    const when = $("#stop-when");
    setText(when, "sells " + saleAt());
    when.dataset.sale = saleKind();
    when.dataset.saleAt = saleKind() === "open" ? state.nextOpen : "";
  }
  function closeStop() {
    hide("stop");
    stop.id = null;
    stop.pin = null;
    stop.card = null;
    stop.busy = false;
    stop.seq++;
    stopDialog.dataset.id = "";
  }
  function setStopBusy(busy) {
    stop.busy = busy;
    stopDialog.dataset.state = busy ? "busy" : stop.phase;
    for (const b of [stopKeep, stopLiquidate, stopPlain, stopRetry]) b.disabled = busy;
  }

  // kind: "liquidate" (?liquidate=true), "keep" (?keep_shares=true) or "plain" (no shares to keep).
  async function doStop(kind) {
    if (stop.busy || stop.id === null || stop.phase !== "ready" || !stop.card) return;
    const id = stop.id;
    const opened = stop.open;
    const ticker = stop.card.ticker || "";
    const shares = stopShares();
    const query = kind === "liquidate" ? "?liquidate=true" : kind === "keep" ? "?keep_shares=true" : "";
    stop.seq++; // a quiet re-check still under way must not redraw the dialog now
    setStopBusy(true);
    setLine(stopError, kind === "liquidate" ? "Asking to sell " + sharesText(shares) + ", then stop…" : "Stopping…", "busy");
    try {
      const card = await api("DELETE", "/api/algorithms/" + encodeURIComponent(id) + query, {
        body: { pin: stop.pin },
        pin: stop.pin,
      });
      if (stop.open === opened && stop.id === id) closeStop();
      applyCard(card);
      const n = isNum(card.current_shares) ? card.current_shares : shares;
      if (kind === "liquidate" && card.status !== "stopped") {
        notify(ticker + ": selling " + sharesText(n) + " " + saleAt() + ", then stopping");
      } else if (kind === "keep") {
        notify(ticker + ": stopped, keeping " + sharesText(n) + " in the broker account");
        if (detail.id === id) closeDetail();
      } else {
        notify(ticker + ": stopped");
        if (detail.id === id) closeDetail();
      }
      pollNow();
    } catch (e) {
      if (stop.open !== opened || stop.id !== id) {
        // The dialog was closed meanwhile: say what happened where it can be seen.
        notify(ticker + ": not stopped: " + e.message, "error");
        pollNow();
        return;
      }
      setStopBusy(false);
      if (needsPinChange(e)) {
        setLine(stopError, "REFUSED: THE FACTORY PIN IS STILL SET. CHANGE IT TO SELL IN " + modeName() + " (STOP AND KEEP SHARES NEEDS NO CHANGE).");
        changePin({
          old: stop.pin,
          reason: "THE FACTORY PIN IS STILL SET.\nCHANGE IT TO SELL IN " + modeName() + ".",
          onChanged: (newPin) => { if (stop.id === id && stop.open === opened) { stop.pin = newPin; setLine(stopError, "PIN CHANGED. CHOOSE AGAIN.", "info"); } },
        });
      } else if (e.status === 403 || e.status === 429) {
        askPin("PIN to stop " + ticker, (p) => { if (stop.id === id && stop.open === opened) { stop.pin = p; doStop(kind); } });
        pinRefused(e);
        setLine(stopError, "");
      } else if (e.status === 409 && e.body && isNum(e.body.shares) && e.body.shares > 0) {
        // It bought since the dialog was opened: show what it holds now and ask again, never keep silently.
        stop.card = Object.assign({}, stop.card, { current_shares: e.body.shares });
        renderStop("ready");
        setLine(stopError, "⚠ " + ticker + " BOUGHT SINCE: IT HOLDS " + sharesText(e.body.shares).toUpperCase() + " NOW. CHOOSE AGAIN.", "warn");
        loadStopCard(true); // its value and price, fresh
      } else {
        setLine(stopError, e.message);
        if (e.status === 404 || e.status === 409) { loadStopCard(true); pollNow(); }
      }
    }
  }
  stopKeep.addEventListener("click", () => doStop("keep"));
  stopLiquidate.addEventListener("click", () => doStop("liquidate"));
  stopPlain.addEventListener("click", () => doStop("plain"));
  stopRetry.addEventListener("click", () => { setLine(stopError, ""); loadStopCard(false); });
  stopCancel.addEventListener("click", closeStop);

  // ---------- cancel a pending sale ----------

  function startCancelSale(id) {
    const card = state.cards.get(id);
    if (!card || !card.stopping) return;
    askPin("PIN to cancel the sale of " + (card.ticker || "") + " · " + (card.algorithm_type || ""), (p) => cancelSale(id, p));
  }

  async function cancelSale(id, goodPin) {
    const known = state.cards.get(id);
    const ticker = (known && known.ticker) || "";
    const button = cardEls.has(id) ? $(".cancel-sale-button", cardEls.get(id)) : null;
    if (button) button.disabled = true;
    try {
      const card = await api("DELETE", "/api/algorithms/" + encodeURIComponent(id) + "/liquidation", {
        body: { pin: goodPin },
        pin: goodPin,
      });
      applyCard(card);
      notify("sale cancelled: " + (card.ticker || ticker) + " keeps trading");
    } catch (e) {
      if (e.status === 403 || e.status === 429) {
        askPin("PIN to cancel the sale of " + ticker, (p) => cancelSale(id, p));
        pinRefused(e);
      } else {
        notify(ticker + ": sale not cancelled: " + e.message, "error");
      }
    } finally {
      if (button) button.disabled = false;
      pollNow();
    }
  }

  // ---------- confirmation line ----------
  // What a stop or a cancelled sale did, at the bottom for a while (tap to dismiss). The text stays in
  // #toast after it hides; data-seq counts the notices.

  const toast = $("#toast");
  let toastTimer = null;
  function notify(text, tone) {
    clearTimeout(toastTimer);
    toast.textContent = (tone === "error" ? "✗ " : "✓ ") + text;
    toast.dataset.tone = tone || "ok";
    toast.dataset.seq = String(Number(toast.dataset.seq || 0) + 1);
    toast.hidden = false;
    toastTimer = setTimeout(hideToast, tone === "error" ? 30000 : 10000);
  }
  function hideToast() {
    clearTimeout(toastTimer);
    toast.hidden = true;
  }
  toast.addEventListener("click", hideToast);

  // ---------- detail panel ----------

  const detailEl = $("#detail");
  const detail = { id: null, tab: "chart", seq: 0, transactions: [], chart: null };

  function openDetail(id) {
    if (!state.cards.has(id)) return;
    detail.id = id;
    detailEl.dataset.id = id;
    detail.transactions = [];
    dropDetailChart();
    setText($("#detail-chart-status"), "loading…");
    $("#detail-chart").dataset.bars = "0";
    $("#detail-chart").dataset.markers = "0";
    $("#detail-transactions").innerHTML = '<div class="list-empty">loading…</div>';
    $("#detail-decisions").innerHTML = '<div class="list-empty">loading…</div>';
    renderDetailSummary();
    selectTab(detail.tab);
    show("detail");
    refreshDetail(true);
  }
  function closeDetail() {
    hide("detail");
    detail.id = null;
    detailEl.dataset.id = "";
    detail.seq++;
    dropDetailChart();
  }
  function selectTab(tab) {
    detail.tab = tab;
    for (const b of detailEl.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    $("#detail-chart-box").hidden = tab !== "chart";
    $("#detail-transactions").hidden = tab !== "transactions";
    $("#detail-decisions").hidden = tab !== "decisions";
  }
  detailEl.addEventListener("click", (event) => {
    const tab = event.target.closest(".tab");
    if (tab) selectTab(tab.dataset.tab);
  });
  $("#detail-close").addEventListener("click", closeDetail);
  // The full card's own STOP and CANCEL SALE (a tile has no buttons).
  $("#detail-stop").addEventListener("click", () => { if (detail.id !== null) startStop(detail.id); });
  $("#detail-cancel-sale").addEventListener("click", () => { if (detail.id !== null) startCancelSale(detail.id); });
  overlays.detail.addEventListener("click", (event) => { if (event.target === overlays.detail) closeDetail(); });

  function renderDetailSummary() {
    const c = state.cards.get(detail.id);
    if (!c) return;
    $("#detail-title").textContent = (c.ticker || "") + " · " + (c.algorithm_type || "") + " · #" + c.id;
    const sign = pnlSign(c.pnl);
    const big = $("#detail-pnl");
    setText(big, signedMoney(c.pnl) + " " + pct(cardPercent(c)) + (num(c.pnl_today) !== null ? " · today " + signedMoney(c.pnl_today) : ""));
    big.dataset.sign = sign;
    $("#detail-stop").hidden = !!c.stopping;
    $("#detail-cancel-sale").hidden = !c.stopping;
    detailEl.dataset.stale = c.stale_since ? "true" : "false";
    const items = [
      ["VALUE", money(c.current_value)],
      ["ALLOC", money(c.initial_capital)],
      ["SHARES", int(c.current_shares)],
      ["PRICE", price(c.current_price)],
      ["INVESTED", money(c.invested)],
      ["CASH", money(c.uninvested_cash)],
      ["TRADES", int(c.trade_count)],
      ["STARTED", localDateTime(c.created_at)],
      ["UPDATED", localDateTime(c.last_update)],
    ];
    if (c.stale_since) items.push(["NO NEW PRICE SINCE", localDateTime(c.stale_since), "stale"]);
    if (c.stopping) items.push(["STOPPING", "sells " + saleAt(), "stopping"]);
    const box = $("#detail-summary");
    box.innerHTML = "";
    for (const [label, value, cls] of items) {
      const row = document.createElement("div");
      const a = document.createElement("span"); a.textContent = label;
      const b = document.createElement("span"); b.textContent = value; b.className = "num" + (cls ? " " + cls : "");
      row.append(a, b);
      box.appendChild(row);
    }
  }

  function cell(text, cls) {
    const d = document.createElement("span");
    d.textContent = text;
    if (cls) d.className = cls;
    return d;
  }
  function row(cls, cells) {
    const r = document.createElement("div");
    r.className = "row " + cls;
    r.append.apply(r, cells);
    return r;
  }

  async function refreshDetail(first) {
    const id = detail.id;
    if (id === null) return;
    const seq = ++detail.seq;
    renderDetailSummary();
    const txBox = $("#detail-transactions");
    const decBox = $("#detail-decisions");
    try {
      const data = await api("GET", "/api/algorithms/" + encodeURIComponent(id) + "/transactions");
      if (seq !== detail.seq) return;
      detail.transactions = Array.isArray(data.transactions) ? data.transactions : [];
      const list = detail.transactions.slice(0, DETAIL_ROWS);
      const frag = document.createDocumentFragment();
      const title = document.createElement("div"); title.className = "list-title"; title.textContent = "TRADES";
      frag.appendChild(title);
      if (list.length === 0) {
        const e = document.createElement("div"); e.className = "list-empty"; e.textContent = "No trades yet.";
        frag.appendChild(e);
      } else {
        frag.appendChild(row("tx-row head", [cell("TIME"), cell("SIDE"), cell("SHARES"), cell("PRICE"), cell("AMOUNT")]));
        for (const t of list) {
          const amount = isNum(t.shares) && isNum(t.price) ? t.shares * t.price : null;
          const r = row("tx-row", [cell(localTime(t.timestamp), "num"), cell(String(t.type || "").toUpperCase(), "kind-" + t.type),
            cell(int(t.shares), "num"), cell(price(t.price), "num"), cell(money(amount), "num")]);
          r.dataset.id = String(t.id);
          frag.appendChild(r);
        }
      }
      txBox.replaceChildren(frag);
    } catch (e) {
      if (seq !== detail.seq) return;
      if (first || !txBox.querySelector(".row")) txBox.innerHTML = "";
      if (first || !txBox.querySelector(".row")) txBox.appendChild(Object.assign(document.createElement("div"), { className: "list-empty error-line", textContent: e.message }));
    }
    await refreshDetailChart(id, seq);
    if (seq !== detail.seq) return;
    try {
      const data = await api("GET", "/api/algorithms/" + encodeURIComponent(id) + "/decisions");
      if (seq !== detail.seq) return;
      const list = (Array.isArray(data.decisions) ? data.decisions : []).slice(0, DETAIL_ROWS);
      const frag = document.createDocumentFragment();
      const title = document.createElement("div"); title.className = "list-title"; title.textContent = "DECISIONS";
      frag.appendChild(title);
      if (list.length === 0) {
        const e = document.createElement("div"); e.className = "list-empty"; e.textContent = "No decisions recorded yet.";
        frag.appendChild(e);
      } else {
        frag.appendChild(row("dec-row head", [cell("MINUTE"), cell("DECISION"), cell("SHARES"), cell("REASON · OUTCOME")]));
        for (const d of list) {
          const why = [d.reason, d.outcome].filter((x) => x !== null && x !== undefined && x !== "").join(" · ");
          const reason = cell(why || "—", "reason");
          reason.title = why;
          const r = row("dec-row", [cell(localTime(d.minute || d.created_at), "num"), cell(String(d.decision || "").toUpperCase(), "kind-" + d.decision),
            cell(isNum(d.shares) ? int(d.shares) : "", "num"), reason]);
          r.dataset.id = String(d.id);
          frag.appendChild(r);
        }
      }
      decBox.replaceChildren(frag);
    } catch (e) {
      if (seq !== detail.seq) return;
      if (first || !decBox.querySelector(".row")) {
        decBox.innerHTML = "";
        decBox.appendChild(Object.assign(document.createElement("div"), { className: "list-empty error-line", textContent: e.message }));
      }
    }
  }

  // The day's price: the card's ticker's minute bars of the current session (the last one when the
  // market is closed), the card's buys and sells marked on their minutes, the price axis with the last
  // price labelled, times on the broker's clock in the viewer's zone.
  async function refreshDetailChart(id, seq) {
    const box = $("#detail-chart");
    const status = $("#detail-chart-status");
    let data;
    try {
      data = await api("GET", "/api/algorithms/" + encodeURIComponent(id) + "/bars");
    } catch (e) {
      if (seq !== detail.seq) return;
      if (!detail.chart) setText(status, "no price chart: " + e.message);
      return;
    }
    if (seq !== detail.seq) return;
    const bars = series(Array.isArray(data.bars) ? data.bars : [], (b) => num(b.c));
    const session = typeof data.session === "string" ? data.session : "";
    setText($("#detail-chart-title"), (data.ticker || "") + " PRICE" + (session ? " · " + session : ""));
    box.dataset.bars = String(bars.length);
    box.dataset.low = bars.length ? String(Math.min.apply(null, bars.map((b) => b.value))) : "";
    box.dataset.high = bars.length ? String(Math.max.apply(null, bars.map((b) => b.value))) : "";
    if (!LWC) { setText(status, "the chart library did not load"); return; }
    if (bars.length === 0) { dropDetailChart(); setText(status, "no minute bars in this session yet"); return; }
    if (!detail.chart) {
      const chart = LWC.createChart(box, {
        autoSize: true,
        layout: { background: { type: "solid", color: css("--bg") || "#000" }, textColor: css("--fg") || "#f2f2f2", fontFamily: css("--mono") || "monospace",
          fontSize: chartFontSize(box) },
        grid: { vertLines: { color: "#1c1c1c" }, horzLines: { color: "#1c1c1c" } },
        rightPriceScale: { borderColor: css("--dim") || "#4a4a4a", scaleMargins: { top: 0.12, bottom: 0.12 } },
        timeScale: { borderColor: css("--dim") || "#4a4a4a", timeVisible: true, secondsVisible: false, fixLeftEdge: true, fixRightEdge: true,
          tickMarkFormatter: (t) => localHM(t) },
        localization: { timeFormatter: (t) => localHM(t), priceFormatter: (p) => price(p) },
        crosshair: { mode: 0 },
        handleScroll: false, handleScale: false,
      });
      const line = chart.addLineSeries({ color: css("--cyan") || "#5fd7ff", lineWidth: 2, priceLineVisible: true, lastValueVisible: true,
        priceFormat: { type: "price", precision: 2, minMove: 0.01 } });
      detail.chart = { chart, line, fontSized: true };
      watchChart(box, detail.chart);
    }
    detail.chart.line.setData(bars);
    // Each trade on the bar of its minute (or the nearest earlier one): buys below in green, sells above in red.
    const times = bars.map((b) => b.time);
    const markers = [];
    for (const t of detail.transactions.slice().reverse()) {
      const at = toSeconds(t.timestamp);
      if (at === null || at < times[0] - 60 || at > times[times.length - 1] + 120) continue;
      let lo = 0, hi = times.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (times[mid] <= at) lo = mid; else hi = mid - 1; }
      const buy = t.type === "buy";
      markers.push({ time: times[lo], position: buy ? "belowBar" : "aboveBar", color: buy ? css("--green") : css("--red"),
        shape: buy ? "arrowUp" : "arrowDown", text: (buy ? "B " : "S ") + int(t.shares) });
    }
    markers.sort((a, b) => a.time - b.time);
    detail.chart.line.setMarkers(markers);
    box.dataset.markers = String(markers.length);
    detail.chart.chart.timeScale().fitContent();
    setText(status, bars.length + " minutes · last " + price(bars[bars.length - 1].value) + " at " + localHM(bars[bars.length - 1].time)
      + " · " + markers.length + " trade" + (markers.length === 1 ? "" : "s") + " marked");
  }
  function dropDetailChart() {
    if (detail.chart) { unwatchChart($("#detail-chart")); detail.chart.chart.remove(); detail.chart = null; }
  }

  // ---------- keyboard (physical, for desks and tests) ----------

  document.addEventListener("keydown", (event) => {
    const top = topOverlay();
    if (event.key === "Escape") {
      if (top === "pin") closePin();
      else if (top === "stop") closeStop();
      else if (top === "add") closeAdd();
      else if (top === "detail") closeDetail();
      return;
    }
    if (top === "pin") {
      if (/^[0-9]$/.test(event.key)) { pinDigit(event.key); event.preventDefault(); }
      else if (event.key === "Backspace") { pinBackspace(); event.preventDefault(); }
      else if (event.key === "Enter") { pinSubmit(); event.preventDefault(); }
    }
  });
  $("#add-cancel").addEventListener("click", closeAdd);

  // ---------- start ----------

  body.dataset.pollCount = "0";
  body.dataset.healthCount = "0";
  body.dataset.healthIntervalMs = String(HEALTH_MS);
  setIntervalMs(POLL_OPEN_MS);
  scheduleHealth(3000);
  setInterval(renderClock, 1000); // the broker's clock runs on between answers
  // Local times ("today" vs another day) and the lockout stay right without a poll.
  setInterval(() => {
    for (const [id, el] of cardEls) {
      const c = state.cards.get(id);
      if (c) setFact($(".updated", el), localTime(c.last_update));
    }
  }, 60000);
  pollNow();
})();
