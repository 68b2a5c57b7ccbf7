#!/usr/bin/env python3
"""alpaca-py, Alpaca's official Python SDK, unmodified, against autotrader-sim: an independent client.

Run by AlpacaSDKConformanceTests against a simulator it started (a session in progress, filling at the last
close), or by hand:

    ALPACA_SIM_URL=http://127.0.0.1:5090 ALPACA_SIM_KEY_ID=... ALPACA_SIM_SECRET_KEY=... \
        .build/alpaca-py-venv/bin/python scripts/alpaca-py-conformance.py

Only url_override and paper are set on the clients. TradingClient: account, clock, calendar, assets with
filters, market (whole, fractional, notional) and limit orders, look-ups by id and by client order id,
replace, cancel, refusals, positions, close one, close all. StockHistoricalDataClient: minute bars over
more than one page, 5Min / 1Hour / 1Day bars (checked against the minute bars), latest trade, quote and
bar, snapshots. Streams are not covered here.

Exits 0 when everything matched; otherwise prints every mismatch and exits 1 (2 when alpaca-py is missing,
3 when the simulator can't be reached).
"""

import json
import os
import sys
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone

try:
    import importlib.metadata

    from alpaca.common.exceptions import APIError
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.requests import (
        StockBarsRequest,
        StockLatestBarRequest,
        StockLatestQuoteRequest,
        StockLatestTradeRequest,
        StockSnapshotRequest,
    )
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import (
        AssetClass,
        AssetExchange,
        AssetStatus,
        OrderSide,
        OrderStatus,
        QueryOrderStatus,
        TimeInForce,
    )
    from alpaca.trading.requests import (
        ClosePositionRequest,
        GetAssetsRequest,
        GetCalendarRequest,
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        ReplaceOrderRequest,
    )
except ImportError as error:  # pragma: no cover - the Swift test reports it
    print(f"alpaca-py-conformance: alpaca-py is not importable ({error}); run scripts/install-alpaca-py.sh", file=sys.stderr)
    sys.exit(2)

URL = os.environ.get("ALPACA_SIM_URL", "http://127.0.0.1:5090").rstrip("/")
KEY = os.environ.get("ALPACA_SIM_KEY_ID", "")
SECRET = os.environ.get("ALPACA_SIM_SECRET_KEY", "")
UTC = timezone.utc

failures = []
checks = 0


def check(condition, message):
    """Records a mismatch (and goes on, so one run lists them all)."""
    global checks
    checks += 1
    if not condition:
        failures.append(message)
        print(f"MISMATCH: {message}", flush=True)
    return condition


def step(name):
    print(f"-- {name}", flush=True)


def value(enum_or_text):
    return getattr(enum_or_text, "value", enum_or_text)


def raw(path, **query):
    """A plain HTTP GET of the simulator (not through the SDK), for ground truth."""
    url = URL + path + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(url, headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def wait_for(what, fetch, done, timeout=30.0):
    """Polls `fetch` until `done(result)`; a deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() > deadline:
            check(False, f"{what}: not within {timeout} s (last: {result})")
            return result
        time.sleep(0.1)


def final(trading, order_id):
    finals = {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED}
    return wait_for(f"order {order_id} final", lambda: trading.get_order_by_id(order_id), lambda o: o.status in finals)


def expect_api_error(what, call, status, code=None):
    try:
        result = call()
    except APIError as error:
        check(error.status_code == status, f"{what}: HTTP {error.status_code}, expected {status} ({error})")
        if code is not None:
            check(error.code == code, f"{what}: code {error.code}, expected {code}")
        return
    check(False, f"{what}: no error, got {result}")


def trading_checks(trading, data):
    step("account")
    account = trading.get_account()
    check(value(account.status) == "ACTIVE", f"account status {account.status}")
    check(str(uuid.UUID(str(account.id))) == str(account.id), f"account id {account.id}")
    check(float(account.cash) > 0 and float(account.buying_power) > 0, f"cash {account.cash}, buying power {account.buying_power}")
    check(account.multiplier == "4" and account.shorting_enabled is True, f"margin account: {account.multiplier} {account.shorting_enabled}")
    check(account.currency == "USD", f"currency {account.currency}")

    step("clock and calendar")
    clock = trading.get_clock()
    check(clock.is_open is True, f"clock open during the session: {clock}")
    check(clock.next_close > clock.timestamp and clock.next_open > clock.timestamp, f"clock order: {clock}")
    days = trading.get_calendar(GetCalendarRequest(start=date(2024, 6, 3), end=date(2024, 6, 7)))
    check([d.date for d in days] == [date(2024, 6, d) for d in range(3, 8)], f"calendar days {[d.date for d in days]}")
    check(all(d.open.hour == 9 and d.open.minute == 30 and d.close.hour == 16 for d in days), "calendar hours 09:30-16:00")

    step("assets")
    arca = trading.get_all_assets(GetAssetsRequest(asset_class=AssetClass.US_EQUITY, exchange=AssetExchange.ARCA, status=AssetStatus.ACTIVE))
    check(len(arca) > 0 and all(value(a.exchange) == "ARCA" for a in arca), f"ARCA filter: {[(a.symbol, a.exchange) for a in arca]}")
    check("SPY" in {a.symbol for a in arca} and "AAPL" not in {a.symbol for a in arca}, "SPY listed on ARCA, AAPL not")
    everything = trading.get_all_assets()
    nasdaq = trading.get_all_assets(GetAssetsRequest(exchange=AssetExchange.NASDAQ))
    check(0 < len(nasdaq) < len(everything), f"NASDAQ filter: {len(nasdaq)} of {len(everything)}")
    crypto = trading.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO))
    check(crypto == [], f"no crypto assets: {len(crypto)}")
    apple = trading.get_asset("AAPL")
    check(apple.symbol == "AAPL" and apple.fractionable is True and apple.tradable is True, f"AAPL asset: {apple}")

    latest = lambda symbol: data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=symbol))[symbol].close

    step("market orders: whole, fractional, notional")
    client_id = f"sdk-{uuid.uuid4().hex[:12]}"
    order = trading.submit_order(MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                                    client_order_id=client_id))
    check(order.client_order_id == client_id and order.symbol == "AAPL" and order.qty == "3", f"submitted {order}")
    filled = final(trading, order.id)
    check(filled.status == OrderStatus.FILLED and filled.filled_qty == "3" and float(filled.filled_avg_price) > 0, f"filled {filled}")
    check(trading.get_order_by_client_id(client_id).id == order.id, "get by client order id")
    check(trading.get_order_by_id(order.id).client_order_id == client_id, "get by id")

    fraction = final(trading, trading.submit_order(MarketOrderRequest(symbol="SPY", qty=0.5, side=OrderSide.BUY,
                                                                      time_in_force=TimeInForce.DAY)).id)
    check(fraction.status == OrderStatus.FILLED and float(fraction.filled_qty) == 0.5, f"fractional {fraction}")
    notional_order = trading.submit_order(MarketOrderRequest(symbol="MSFT", notional=250, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    check(notional_order.notional is not None and float(notional_order.notional) == 250 and notional_order.qty is None,
          f"notional order {notional_order}")
    notional = final(trading, notional_order.id)
    spent = float(notional.filled_qty) * float(notional.filled_avg_price)
    check(notional.status == OrderStatus.FILLED and 249.99 < spent <= 250.0000001, f"notional filled {notional} ({spent})")

    step("refusals")
    expect_api_error("duplicate client order id", lambda: trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=client_id)), 422)
    expect_api_error("buying power", lambda: trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1_000_000, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)), 403, 40310000)
    expect_api_error("unknown order", lambda: trading.get_order_by_id(uuid.uuid4()), 404, 40410000)
    expect_api_error("fractional of an asset that is not fractionable", lambda: trading.submit_order(
        MarketOrderRequest(symbol="AEHR", qty=1.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)), 422)

    step("limit orders, replace, cancel")
    price = latest("NVDA")
    marketable = trading.submit_order(LimitOrderRequest(symbol="NVDA", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                                        limit_price=round(price * 1.01, 2)))
    done = final(trading, marketable.id)
    check(done.status == OrderStatus.FILLED and float(done.filled_avg_price) <= round(price * 1.01, 2), f"marketable limit {done}")
    resting = trading.submit_order(LimitOrderRequest(symbol="NVDA", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                                     limit_price=round(price * 0.5, 2)))
    check(resting.status in (OrderStatus.NEW, OrderStatus.ACCEPTED) and float(resting.limit_price) == round(price * 0.5, 2),
          f"resting limit {resting}")
    new_limit = round(price * 0.6, 2)
    replacement = trading.replace_order_by_id(resting.id, ReplaceOrderRequest(qty=3, limit_price=new_limit,
                                                                              client_order_id=f"{client_id}-r"))
    check(replacement.id != resting.id and replacement.replaces == resting.id, f"replacement {replacement}")
    check(replacement.qty == "3" and float(replacement.limit_price) == new_limit and replacement.client_order_id == f"{client_id}-r",
          f"replacement fields {replacement}")
    old = trading.get_order_by_id(resting.id)
    check(old.status == OrderStatus.REPLACED and old.replaced_by == replacement.id and old.replaced_at is not None, f"replaced {old}")
    expect_api_error("replace a replaced order", lambda: trading.replace_order_by_id(resting.id, ReplaceOrderRequest(qty=4)), 422)
    open_ids = {o.id for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))}
    check(open_ids == {replacement.id}, f"open orders {open_ids}")
    trading.cancel_order_by_id(replacement.id)
    canceled = final(trading, replacement.id)
    check(canceled.status == OrderStatus.CANCELED and canceled.canceled_at is not None, f"canceled {canceled}")
    expect_api_error("cancel a canceled order", lambda: trading.cancel_order_by_id(replacement.id), 422)

    step("positions, close one, close all")
    positions = {p.symbol: p for p in trading.get_all_positions()}
    check(set(positions) == {"AAPL", "SPY", "MSFT", "NVDA"}, f"positions {sorted(positions)}")
    check(positions.get("AAPL") is not None and positions["AAPL"].qty == "3", f"AAPL position {positions.get('AAPL')}")
    check(trading.get_open_position("SPY").qty == "0.5", "SPY fractional position")
    closing = trading.close_position("AAPL", ClosePositionRequest(percentage="50"))
    check(value(closing.side) == "sell" and closing.qty == "1", f"close 50 % of 3 whole shares: {closing}")
    final(trading, closing.id)
    check(trading.get_open_position("AAPL").qty == "2", "AAPL after closing half")
    expect_api_error("close a position not held", lambda: trading.close_position("TSLA"), 404)
    # A resting sell holds NVDA's shares; cancel_orders cancels it before closing everything.
    held = trading.submit_order(LimitOrderRequest(symbol="NVDA", qty=2, side=OrderSide.SELL, time_in_force=TimeInForce.GTC,
                                                  limit_price=round(price * 3, 2)))
    results = trading.close_all_positions(cancel_orders=True)
    check(sorted(r.symbol for r in results) == ["AAPL", "MSFT", "NVDA", "SPY"], f"close all symbols {[r.symbol for r in results]}")
    check(all(r.status == 200 for r in results), f"close all statuses {[(r.symbol, r.status, r.body) for r in results]}")
    check(final(trading, held.id).status == OrderStatus.CANCELED, "resting sell canceled by close all")
    for result in results:
        body = result.body
        check(getattr(body, "side", None) is not None and value(body.side) == "sell", f"closing order for {result.symbol}: {body}")
        if getattr(body, "id", None) is not None:
            final(trading, body.id)
    remaining = wait_for("no positions left", trading.get_all_positions, lambda ps: ps == [])
    check(remaining == [], f"positions after close all: {remaining}")


def bar_tuple(bar):
    return (bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume)


def data_checks(data):
    step("minute bars over more than one page")
    start, end = datetime(2024, 4, 15, tzinfo=UTC), datetime(2024, 6, 3, 20, 0, tzinfo=UTC)
    minutes = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Minute, start=start, end=end))["AAPL"]
    stamps = [bar.timestamp for bar in minutes]
    check(len(minutes) > 10_000, f"minute bars: {len(minutes)} (more than one 10,000-bar page)")
    check(all(a < b for a, b in zip(stamps, stamps[1:])), "minute bars strictly in time order, no repeats")
    truth, token = 0, None
    while True:
        query = dict(timeframe="1Min", start=start.isoformat().replace("+00:00", "Z"), end=end.isoformat().replace("+00:00", "Z"), limit=10000)
        if token:
            query["page_token"] = token
        page = raw("/v2/stocks/AAPL/bars", **query)
        truth += len(page["bars"])
        token = page.get("next_page_token")
        if not token:
            break
    check(len(minutes) == truth, f"SDK read {len(minutes)} minute bars, the simulator serves {truth}")

    step("5Min, 1Hour, 1Day bars against the minute bars")
    day_start, day_end = datetime(2024, 6, 3, 13, 30, tzinfo=UTC), datetime(2024, 6, 3, 19, 59, tzinfo=UTC)
    june3 = [b for b in minutes if day_start <= b.timestamp <= day_end]
    for timeframe, seconds in ((TimeFrame(5, TimeFrameUnit.Minute), 300), (TimeFrame.Hour, 3600)):
        served = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=timeframe,
                                                      start=datetime(2024, 6, 3, tzinfo=UTC), end=day_end))["AAPL"]
        groups = {}
        for bar in june3:
            key = datetime.fromtimestamp(int(bar.timestamp.timestamp()) // seconds * seconds, tz=UTC)
            groups.setdefault(key, []).append(bar)
        expected = [(key, g[0].open, max(b.high for b in g), min(b.low for b in g), g[-1].close, sum(b.volume for b in g))
                    for key, g in sorted(groups.items())]
        check([bar_tuple(b) for b in served] == expected, f"{timeframe.value}: {len(served)} bars, {len(expected)} from the minutes")
    daily = data.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Day,
                                                 start=datetime(2024, 5, 28, tzinfo=UTC), end=datetime(2024, 6, 3, 23, tzinfo=UTC)))
    aapl_days = daily["AAPL"]
    check([b.timestamp for b in aapl_days] == [datetime(2024, 5, d, 4, tzinfo=UTC) for d in (28, 29, 30, 31)]
          + [datetime(2024, 6, 3, 4, tzinfo=UTC)], f"daily stamps {[b.timestamp for b in aapl_days]}")
    check(len(daily["MSFT"]) == 5, f"MSFT daily bars {len(daily['MSFT'])}")
    if aapl_days:
        check(aapl_days[-1].open == june3[0].open and aapl_days[-1].close == june3[-1].close
              and aapl_days[-1].volume == sum(b.volume for b in june3), "the 2024-06-03 daily bar is its minutes")

    step("latest trade, quote, bar; snapshots")
    for attempt in range(5):
        bars = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["AAPL", "SPY"]))
        trades = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["AAPL", "SPY"]))
        quotes = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "SPY"]))
        snapshots = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "MSFT"]))
        again = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["AAPL", "SPY"]))
        if bar_tuple(again["AAPL"]) == bar_tuple(bars["AAPL"]):
            break  # no new minute meanwhile: the answers are about the same bar
    check(set(bars) == {"AAPL", "SPY"} and set(trades) == {"AAPL", "SPY"} and set(quotes) == {"AAPL", "SPY"},
          f"latest symbols {set(bars)} {set(trades)} {set(quotes)}")
    bar, trade, quote = bars["AAPL"], trades["AAPL"], quotes["AAPL"]
    check(trade.price == bar.close and trade.size > 0, f"latest trade {trade} vs bar {bar}")
    check(bar.timestamp <= trade.timestamp < bar.timestamp + timedelta(minutes=1), f"trade time {trade.timestamp} in bar {bar.timestamp}")
    check(quote.bid_price < bar.close < quote.ask_price, f"quote {quote} around {bar.close}")
    check(set(snapshots) == {"AAPL", "MSFT"}, f"snapshot symbols {set(snapshots)}")
    snapshot = snapshots.get("AAPL")
    if check(snapshot is not None, "AAPL snapshot"):
        check(snapshot.minute_bar is not None and bar_tuple(snapshot.minute_bar) == bar_tuple(bar), f"snapshot minute bar {snapshot.minute_bar}")
        check(snapshot.latest_trade is not None and snapshot.latest_trade.price == trade.price, f"snapshot trade {snapshot.latest_trade}")
        check(snapshot.latest_quote is not None and snapshot.latest_quote.ask_price == quote.ask_price, "snapshot quote")
        check(snapshot.daily_bar is not None and snapshot.daily_bar.timestamp == datetime(2024, 6, 4, 4, tzinfo=UTC),
              f"snapshot daily bar {snapshot.daily_bar}")
        check(snapshot.previous_daily_bar is not None and aapl_days
              and bar_tuple(snapshot.previous_daily_bar) == bar_tuple(aapl_days[-1]), f"snapshot previous daily bar {snapshot.previous_daily_bar}")


def main():
    if not KEY or not SECRET:
        print("alpaca-py-conformance: set ALPACA_SIM_URL, ALPACA_SIM_KEY_ID and ALPACA_SIM_SECRET_KEY", file=sys.stderr)
        return 3
    print(f"alpaca-py {importlib.metadata.version('alpaca-py')} against {URL}", flush=True)
    try:
        raw("/v2/clock")
    except Exception as error:  # noqa: BLE001
        print(f"alpaca-py-conformance: the simulator at {URL} can't be reached: {error}", file=sys.stderr)
        return 3
    trading = TradingClient(KEY, SECRET, paper=True, url_override=URL)
    data = StockHistoricalDataClient(KEY, SECRET, url_override=URL)
    for name, part in (("trading", lambda: trading_checks(trading, data)), ("market data", lambda: data_checks(data))):
        try:
            part()
        except Exception:  # noqa: BLE001 - an SDK exception is a mismatch too, with its traceback
            failures.append(f"{name}: unexpected exception\n{traceback.format_exc()}")
            print(f"MISMATCH: {failures[-1]}", flush=True)
    if failures:
        print(f"\nalpaca-py-conformance: {len(failures)} mismatch(es) in {checks} checks:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"alpaca-py-conformance: all {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
