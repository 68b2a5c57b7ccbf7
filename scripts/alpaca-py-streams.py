#!/usr/bin/env python3
"""alpaca-py's streams (unmodified: only url_override) against autotrader-sim.

StockDataStream (msgpack, as alpaca-py always asks for it) must deliver minute bars, daily bars and updated
bars for AAPL as its Bar models; TradingStream must deliver, for a market order and a limit order that is
then canceled (placed with TradingClient), the events new, fill, new, canceled as TradeUpdate models with
the documented fields. Exits 0 and prints "stream checks passed" when all hold; 1 on a failed check; 2 when
alpaca-py is not importable. Every wait has a deadline.

Environment: ALPACA_SIM_URL (http://127.0.0.1:PORT), ALPACA_SIM_KEY_ID, ALPACA_SIM_SECRET_KEY.
"""
import asyncio
import datetime
import json
import os
import urllib.request
import sys

try:
    from alpaca.data.live.stock import StockDataStream
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
    from alpaca.trading.stream import TradingStream
except Exception as error:  # pragma: no cover
    print(f"alpaca-py is not importable: {error}", file=sys.stderr)
    sys.exit(2)

URL = os.environ["ALPACA_SIM_URL"].rstrip("/")
WS = URL.replace("http://", "ws://", 1)
KEY = os.environ["ALPACA_SIM_KEY_ID"]
SECRET = os.environ["ALPACA_SIM_SECRET_KEY"]

failures = []


def counter(value, name):
    """A counter of /sim/stats, wherever it sits in the answer (0 when absent)."""
    if isinstance(value, dict):
        if isinstance(value.get(name), int):
            return value[name]
        return max([counter(v, name) for v in value.values()] + [0])
    return 0


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}", flush=True)


async def main():
    bars, daily, updated, updates = [], [], [], []
    enough_data = asyncio.Event()
    update_arrived = asyncio.Event()

    def data_done():
        if len(bars) >= 2 and daily and updated:
            enough_data.set()

    async def on_bar(bar):
        bars.append(bar)
        data_done()

    async def on_daily(bar):
        daily.append(bar)
        data_done()

    async def on_updated(bar):
        updated.append(bar)
        data_done()

    async def on_update(update):
        updates.append(update)
        update_arrived.set()

    data = StockDataStream(KEY, SECRET, url_override=f"{WS}/v2/iex")
    data.subscribe_bars(on_bar, "AAPL")
    data.subscribe_daily_bars(on_daily, "AAPL")
    data.subscribe_updated_bars(on_updated, "AAPL")
    trading = TradingStream(KEY, SECRET, paper=True, url_override=f"{WS}/stream")
    trading.subscribe_trade_updates(on_update)
    tasks = [asyncio.create_task(data._run_forever()), asyncio.create_task(trading._run_forever())]

    async def wait_for_update(event, order_id, seconds=30):
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            for update in updates:
                if str(update.order.id) == order_id and str(getattr(update.event, "value", update.event)) == event:
                    return update
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no {event} event for {order_id} within {seconds} s; got "
                                   f"{[(str(u.event), str(u.order.id)) for u in updates]}")
            update_arrived.clear()
            try:
                await asyncio.wait_for(update_arrived.wait(), left)
            except asyncio.TimeoutError:
                pass

    try:
        # Orders go out once the simulator has taken TradingStream's listen (its /sim/stats counts them), so
        # no event can precede the subscription.
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            stats = await asyncio.get_running_loop().run_in_executor(
                None, lambda: json.load(urllib.request.urlopen(f"{URL}/sim/stats", timeout=5)))
            if counter(stats, "trade_stream_listens") >= 1:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"TradingStream did not listen within 20 s: {stats}")
            await asyncio.sleep(0.05)  # polling interval, not a synchronisation

        client = TradingClient(KEY, SECRET, paper=True, url_override=URL)
        loop = asyncio.get_running_loop()
        market = await loop.run_in_executor(None, lambda: client.submit_order(MarketOrderRequest(
            symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="py-stream-market")))
        new_market = await wait_for_update("new", str(market.id))
        fill = await wait_for_update("fill", str(market.id))
        limit = await loop.run_in_executor(None, lambda: client.submit_order(LimitOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1.00,
            client_order_id="py-stream-limit")))
        await wait_for_update("new", str(limit.id))
        await loop.run_in_executor(None, lambda: client.cancel_order_by_id(limit.id))
        canceled = await wait_for_update("canceled", str(limit.id))

        sequence = [(str(getattr(u.event, "value", u.event)), u.order.client_order_id) for u in updates]
        check(sequence == [("new", "py-stream-market"), ("fill", "py-stream-market"), ("new", "py-stream-limit"),
                           ("canceled", "py-stream-limit")], f"event sequence {sequence}")
        check(isinstance(new_market.timestamp, datetime.datetime), "new: timestamp is a datetime")
        check(fill.qty == 2 and fill.position_qty == 2, f"fill: qty {fill.qty}, position_qty {fill.position_qty}")
        check(fill.price is not None and abs(fill.price - float(fill.order.filled_avg_price)) < 1e-9,
              f"fill: price {fill.price} vs filled_avg_price {fill.order.filled_avg_price}")
        check(fill.execution_id is not None, "fill: execution_id")
        check(str(getattr(fill.order.status, "value", fill.order.status)) == "filled", f"fill: order status {fill.order.status}")
        check(str(getattr(canceled.order.status, "value", canceled.order.status)) == "canceled",
              f"canceled: order status {canceled.order.status}")
        print(f"trade updates: {sequence}", flush=True)

        await asyncio.wait_for(enough_data.wait(), 40)
        check(all(b.symbol == "AAPL" and isinstance(b.timestamp, datetime.datetime) for b in bars + daily + updated),
              "bars: symbol and datetime timestamps")
        check(all(b.timestamp.hour == 4 and b.timestamp.minute == 0 for b in daily),
              f"daily bars stamped at New York midnight: {[b.timestamp for b in daily]}")
        check(all(b.timestamp.second == 0 for b in bars), "minute bars on whole minutes")
        check(all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars + daily + updated),
              "bars are consistent")
        print(f"stock stream: {len(bars)} bars, {len(daily)} daily bars, {len(updated)} updated bars", flush=True)
    finally:
        await data.stop_ws()
        await trading.stop_ws()
        done, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.cancel()


try:
    asyncio.run(asyncio.wait_for(main(), 120))
except Exception as error:
    failures.append(f"{type(error).__name__}: {error}")
    print(f"FAIL: {type(error).__name__}: {error}", flush=True)

if failures:
    print(f"{len(failures)} stream check(s) failed", flush=True)
    sys.exit(1)
print("stream checks passed", flush=True)
