"""Bollinger reversion: buy when the close falls below the lower Bollinger band (20 bars, 2 standard deviations), sell everything when it climbs back above the middle band."""

# Written in the original AutoTrader design's form: a class Algorithm with on_data, run unchanged by
# the executor's Python runner (standard library only). See algorithm/README.md.

import math

PERIOD = 20
WIDTH = 2.0
CUSHION = 0.005  # a market order fills at the next price, not this close: keep 0.5 % back


class Algorithm:
    def __init__(self, ticker, initial_capital):
        self.ticker = ticker
        self.initial_capital = initial_capital

    def get_data_requirements(self, current_time):
        return {"bars": PERIOD + 1}

    def on_data(self, bars, transaction_history):
        if len(bars) < PERIOD:
            return ("hold", 0, "warming up: %d of %d bars" % (len(bars), PERIOD))
        closes = [bar["ohlcv"]["c"] for bar in bars[-PERIOD:]]
        middle = sum(closes) / PERIOD
        deviation = math.sqrt(sum((close - middle) ** 2 for close in closes) / PERIOD)
        lower = middle - WIDTH * deviation
        price = closes[-1]

        shares = 0
        cash = self.initial_capital
        for trade in transaction_history:
            amount = trade["shares"] * trade["price"]
            if trade["type"] == "buy":
                shares += trade["shares"]
                cash -= amount
            else:
                shares -= trade["shares"]
                cash += amount

        if shares == 0 and price < lower:
            affordable = int(cash // (price * (1 + CUSHION)))
            if affordable > 0:
                return ("buy", affordable, "close %.2f below the lower band %.2f" % (price, lower))
            return ("hold", 0, "below the lower band, but the cash buys no share")
        if shares > 0 and price > middle:
            return ("sell", shares, "close %.2f back above the middle band %.2f" % (price, middle))
        return ("hold", 0, "close %.2f, bands %.2f / %.2f" % (price, lower, middle))
