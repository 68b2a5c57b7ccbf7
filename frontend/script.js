// AutoTrader dashboard. Plain JavaScript, no build step, nothing from the internet.
// Polls the api (GET /api/algorithms, then /api/health, then each card's equity),
// one request at a time and one poll at a time, and draws a card per algorithm.
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
  const pctFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "exceptZero" });

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const money = (v) => (isNum(v) ? moneyFmt.format(v) : "—");
  const signedMoney = (v) => (isNum(v) ? signedMoneyFmt.format(v) : "—");
  const price = (v) => (isNum(v) ? priceFmt.format(v) : "—");
  const int = (v) => (isNum(v) ? intFmt.format(v) : "—");
  const pct = (v) => (isNum(v) ? pctFmt.format(v) + "%" : "—");

  function parseUTC(text) {
    if (!text) return null;
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  function sameLocalDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }
  // The viewer's local time: "14:30:05" today, "Jun 4 14:30" on another day.
  function localTime(text) {
    const d = parseUTC(text);
    if (!d) return "—";
    if (sameLocalDay(d, new Date())) {
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
    if (sameLocalDay(d, new Date())) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
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
    if (!isNum(pnl) || pnl === 0) return "zero";
    return pnl > 0 ? "positive" : "negative";
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
    try {
      state.health = await api("GET", "/api/health");
      state.healthError = null;
      state.healthAt = Date.now();
      lockoutFromHealth();
    } catch (e) {
      state.healthError = e;
    }
    // A failed poll retries at the open-market pace even when the market is closed.
    setIntervalMs(ok && state.marketOpen === false ? POLL_CLOSED_MS : POLL_OPEN_MS);
    state.nextPollAt = Date.now() + state.intervalMs;
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
      state.nextPollAt = Date.now() + state.intervalMs;
      state.pollTimer = setTimeout(poll, state.intervalMs);
    }
  }

  function applyAlgorithms(data) {
    if (!data || !Array.isArray(data.algorithms)) throw new ApiError(200, "The api's list of algorithms is malformed.");
    state.marketOpen = data.market_open === true ? true : data.market_open === false ? false : null;
    state.nextOpen = typeof data.next_open === "string" ? data.next_open : null;
    state.nextClose = typeof data.next_close === "string" ? data.next_close : null;
    state.mode = typeof data.mode === "string" ? data.mode : state.mode;
    state.totalValue = data.total_account_value;
    state.asOf = data.as_of;
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

  function renderStatus() {
    renderHeader();
    asOf.textContent = state.lastGoodAt ? state.lastGoodAt.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "—";
    asOf.dataset.state = state.pollError ? "error" : "ok";
    asOf.title = state.lastGoodAt ? "Last answer from the api" : "No answer from the api yet";

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
    if (h && !state.healthError) {
      const bad = [];
      for (const s of Array.isArray(h.services) ? h.services : []) {
        const name = String(s.service || "service").toUpperCase();
        const age = isNum(s.age_seconds) ? " (last heard " + duration(s.age_seconds) + " ago)" : "";
        if (s.state && s.state !== "running") bad.push(name + " " + String(s.state).toUpperCase() + age);
        else if (s.stale) bad.push(name + " STALE" + age);
      }
      if (h.databases && typeof h.databases === "object") {
        for (const [db, st] of Object.entries(h.databases)) {
          if (st !== "ok") bad.push(db.toUpperCase() + " DATABASE: " + st);
        }
      }
      if (h.data_stale) {
        bad.push("MARKET DATA STALE" + (h.newest_bar ? " (newest bar " + localTime(h.newest_bar) + ")" : " (no bars yet)"));
      }
      if (h.status === "down") errors.push(bad.length ? "DOWN: " + bad.join(" · ") : "THE SYSTEM REPORTS IT IS DOWN");
      else if (bad.length || h.status === "degraded") warnings.push((h.status === "degraded" ? "DEGRADED: " : "") + (bad.join(" · ") || "some services are not healthy"));
      securityBanner(h.security, errors, warnings);
    }
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

  function renderCards() {
    loadingEl.hidden = true;
    cardsEl.removeAttribute("aria-busy");
    for (const [id, el] of cardEls) {
      if (!state.cards.has(id)) { el.remove(); cardEls.delete(id); }
    }
    let previous = null;
    for (const id of state.order) {
      let el = cardEls.get(id);
      if (!el) {
        el = template.content.firstElementChild.cloneNode(true);
        el.dataset.id = id;
        cardEls.set(id, el);
      }
      fillCard(el, state.cards.get(id));
      const wanted = previous ? previous.nextElementSibling : cardsEl.firstElementChild;
      if (wanted !== el) cardsEl.insertBefore(el, wanted);
      previous = el;
    }
    emptyEl.hidden = state.order.length !== 0;
    cardsEl.dataset.count = String(state.order.length);
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
    pm.style.setProperty("--chars", String(Math.max(9, pmText.length)));
    let percent = c.pnl_percent;
    if (!isNum(percent) && isNum(c.pnl) && isNum(c.initial_capital) && c.initial_capital !== 0) percent = c.pnl / c.initial_capital * 100;
    setText($(".pnl-pct", el), pct(percent));
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
    el.setAttribute("aria-label", (c.ticker || "") + " " + (c.algorithm_type || "") + ", P&L " + pmText);
    drawSpark($(".spark", el), el.sparkPoints || [], c);
  }

  // Equity sparklines: one request per card, one after another, after the card list.
  async function refreshSparklines() {
    for (const id of state.order.slice()) {
      const el = cardEls.get(id);
      if (!el) continue;
      try {
        const data = await api("GET", "/api/algorithms/" + encodeURIComponent(id) + "/equity");
        el.sparkPoints = Array.isArray(data.points) ? data.points : [];
        const card = state.cards.get(id);
        if (card) drawSpark($(".spark", el), el.sparkPoints, card);
      } catch (e) {
        // The card keeps its previous line; the banner is for the card list and health.
      }
    }
  }

  const SVG = "http://www.w3.org/2000/svg";
  function drawSpark(svg, points, card) {
    const values = points.map((p) => p && p.value).filter(isNum);
    const base = isNum(card.initial_capital) ? card.initial_capital : null;
    const key = values.join(",") + "|" + base;
    if (svg.dataset.key === key) return;
    svg.dataset.key = key;
    svg.dataset.points = String(values.length);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const all = base === null ? values : values.concat([base]);
    if (all.length === 0) return;
    let lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const pad = (hi - lo) * 0.08;
    lo -= pad; hi += pad;
    const y = (v) => (30 - ((v - lo) / (hi - lo)) * 30).toFixed(2);
    if (base !== null) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "base");
      line.setAttribute("x1", "0"); line.setAttribute("x2", "100");
      line.setAttribute("y1", y(base)); line.setAttribute("y2", y(base));
      svg.appendChild(line);
    }
    if (values.length < 2) return;
    const step = 100 / (values.length - 1);
    const coords = values.map((v, i) => (i * step).toFixed(2) + "," + y(v));
    const area = document.createElementNS(SVG, "polygon");
    area.setAttribute("class", "area");
    area.setAttribute("points", "0,30 " + coords.join(" ") + " 100,30");
    svg.appendChild(area);
    const poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("class", "line");
    poly.setAttribute("points", coords.join(" "));
    svg.appendChild(poly);
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

  function openAdd(goodPin) {
    add.pin = goodPin;
    add.busy = false;
    addTicker.value = "";
    addCapital.value = "";
    setLine(addError, "");
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
    } catch (e) {
      addAvailable.dataset.state = "error";
      addAvailable.textContent = "AVAILABLE ?: " + e.message;
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
  const detail = { id: null, tab: "transactions", seq: 0 };

  function openDetail(id) {
    if (!state.cards.has(id)) return;
    detail.id = id;
    detailEl.dataset.id = id;
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
  }
  function selectTab(tab) {
    detail.tab = tab;
    for (const b of detailEl.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    $("#detail-transactions").hidden = tab !== "transactions";
    $("#detail-decisions").hidden = tab !== "decisions";
  }
  detailEl.addEventListener("click", (event) => {
    const tab = event.target.closest(".tab");
    if (tab) selectTab(tab.dataset.tab);
  });
  $("#detail-close").addEventListener("click", closeDetail);
  overlays.detail.addEventListener("click", (event) => { if (event.target === overlays.detail) closeDetail(); });

  function renderDetailSummary() {
    const c = state.cards.get(detail.id);
    if (!c) return;
    $("#detail-title").textContent = (c.ticker || "") + " · " + (c.algorithm_type || "") + " · #" + c.id;
    const sign = pnlSign(c.pnl);
    const items = [
      ["P&L", signedMoney(c.pnl) + " " + pct(c.pnl_percent), sign],
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
      const list = (Array.isArray(data.transactions) ? data.transactions : []).slice(0, DETAIL_ROWS);
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
  setIntervalMs(POLL_OPEN_MS);
  // Local times ("today" vs another day) and the lockout stay right without a poll.
  setInterval(() => {
    for (const [id, el] of cardEls) {
      const c = state.cards.get(id);
      if (c) setFact($(".updated", el), localTime(c.last_update));
    }
  }, 60000);
  pollNow();
})();
