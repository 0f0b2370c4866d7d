"""The symbol universe: the 28 majors, USD/EUR crosses with smaller currencies, gold, silver."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mesh.tiers import CATALOG, MAJOR_PAIRS, Tier

BROKERS: tuple[str, ...] = CATALOG[Tier.ENTERPRISE].brokers
"""The brokers the synthetic collectors simulate (ic_markets, pepperstone, fxcm)."""

# Quoted spread relative to the symbol's typical (ic_markets raw-like) spread: a broker's
# pricing model shows up as a wider or tighter book, which the aggregator's best bid/ask
# and provenance should reflect.
BROKER_SPREAD_FACTOR: dict[str, float] = {"ic_markets": 1.0, "pepperstone": 1.25, "fxcm": 1.9}

# Value of one unit of each currency (or troy ounce of metal) in USD, a 2024-ish snapshot;
# every pair's reference mid is derived from it so crosses agree with their legs.
_USD_VALUE: dict[str, float] = {
    "USD": 1.0, "EUR": 1.0850, "GBP": 1.2700, "JPY": 1 / 150.50, "CHF": 1 / 0.8800,
    "CAD": 1 / 1.3600, "AUD": 0.6550, "NZD": 0.6000, "SEK": 1 / 10.50, "NOK": 1 / 10.70,
    "DKK": 1 / 6.870, "PLN": 1 / 3.980, "HUF": 1 / 360.0, "CZK": 1 / 23.20, "TRY": 1 / 32.50,
    "ZAR": 1 / 18.60, "MXN": 1 / 17.10, "SGD": 1 / 1.345, "HKD": 1 / 7.820, "CNH": 1 / 7.250,
    "XAU": 2350.0, "XAG": 28.50,
}  # fmt: skip

# Currencies quoted with 3 digits (a pip of 0.01) rather than 5 (a pip of 0.0001).
_THREE_DIGIT_QUOTES = {"JPY", "HUF"}

# symbol: (typical spread in pips, daily volatility in percent). fxcm does not quote the
# thinner exotics, so those symbols have two brokers and exercise the 2-broker paths.
_TABLE: dict[str, tuple[float, float]] = {
    "EURUSD": (0.2, 0.45), "GBPUSD": (0.4, 0.55), "USDJPY": (0.3, 0.60), "USDCHF": (0.5, 0.50),
    "USDCAD": (0.5, 0.45), "AUDUSD": (0.3, 0.65), "NZDUSD": (0.6, 0.70), "EURGBP": (0.5, 0.35),
    "EURJPY": (0.6, 0.65), "EURCHF": (0.8, 0.35), "EURCAD": (1.0, 0.50), "EURAUD": (1.0, 0.60),
    "EURNZD": (1.8, 0.65), "GBPJPY": (1.0, 0.75), "GBPCHF": (1.2, 0.55), "GBPCAD": (1.5, 0.55),
    "GBPAUD": (1.5, 0.65), "GBPNZD": (2.5, 0.70), "CHFJPY": (1.2, 0.60), "CADJPY": (1.0, 0.65),
    "AUDJPY": (0.8, 0.80), "NZDJPY": (1.2, 0.80), "AUDCAD": (1.0, 0.55), "AUDCHF": (1.0, 0.60),
    "AUDNZD": (1.2, 0.40), "CADCHF": (1.2, 0.50), "NZDCAD": (1.8, 0.60), "NZDCHF": (1.8, 0.65),
    "USDSEK": (20.0, 0.70), "USDNOK": (25.0, 0.75), "USDDKK": (8.0, 0.45), "USDPLN": (20.0, 0.80),
    "USDHUF": (15.0, 0.85), "USDCZK": (25.0, 0.75), "USDTRY": (80.0, 1.00), "USDZAR": (70.0, 1.10),
    "USDMXN": (50.0, 0.90), "USDSGD": (2.0, 0.30), "USDHKD": (3.0, 0.05), "USDCNH": (12.0, 0.25),
    "EURSEK": (25.0, 0.45), "EURNOK": (30.0, 0.50), "EURDKK": (5.0, 0.02), "EURPLN": (25.0, 0.40),
    "EURHUF": (20.0, 0.50), "EURCZK": (30.0, 0.35), "EURTRY": (120.0, 1.0), "EURZAR": (100.0, 1.1),
    "EURMXN": (70.0, 0.90), "EURSGD": (4.0, 0.35),
    "XAUUSD": (2.5, 1.10), "XAGUSD": (2.5, 1.80),
}  # fmt: skip

_NOT_AT_FXCM = {"USDCZK", "EURCZK", "USDHUF", "EURHUF", "USDDKK", "EURDKK", "USDCNH"}

# Metals: digits and pip differ from FX; gold in dollars and dimes, silver in cents.
_METAL_DIGITS = {"XAUUSD": (2, 0.1), "XAGUSD": (3, 0.01)}

# Size that counts as "deep" at the top of the book (base units: currency or ounces).
_REFERENCE_SIZE = {"XAUUSD": 2_000.0, "XAGUSD": 100_000.0}
_FX_REFERENCE_SIZE = 5_000_000.0

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What the aggregator and collectors know about one symbol."""

    symbol: str
    mid: float
    """Reference mid price the synthetic walk starts from."""
    digits: int
    pip_size: float
    typical_spread_pips: float
    """Typical spread at the tightest broker, in pips."""
    daily_vol: float
    """Daily volatility as a fraction of the price (0.0045 = 0.45 %)."""
    major: bool
    brokers: tuple[str, ...]
    """Brokers whose synthetic feed quotes it."""
    reference_size: float

    @property
    def typical_spread(self) -> float:
        """Typical spread in price units."""
        return self.typical_spread_pips * self.pip_size

    def broker_spread(self, broker: str) -> float:
        """Typical spread at `broker`, price units (unknown brokers: 1.5x typical)."""
        return self.typical_spread * BROKER_SPREAD_FACTOR.get(broker, 1.5)

    def sigma(self, seconds: float) -> float:
        """Standard deviation of the price change over `seconds` (random-walk scaling)."""
        return self.mid * self.daily_vol * math.sqrt(max(seconds, 0.0) / _SECONDS_PER_DAY)


def _spec(symbol: str, spread_pips: float, vol_pct: float) -> SymbolSpec:
    base, quote = symbol[:3], symbol[3:]
    if symbol in _METAL_DIGITS:
        digits, pip = _METAL_DIGITS[symbol]
    elif quote in _THREE_DIGIT_QUOTES:
        digits, pip = 3, 0.01
    else:
        digits, pip = 5, 0.0001
    brokers = tuple(b for b in BROKERS if not (b == "fxcm" and symbol in _NOT_AT_FXCM))
    return SymbolSpec(
        symbol=symbol,
        mid=round(_USD_VALUE[base] / _USD_VALUE[quote], digits),
        digits=digits,
        pip_size=pip,
        typical_spread_pips=spread_pips,
        daily_vol=vol_pct / 100,
        major=symbol in MAJOR_PAIRS,
        brokers=brokers,
        reference_size=_REFERENCE_SIZE.get(symbol, _FX_REFERENCE_SIZE),
    )


UNIVERSE: dict[str, SymbolSpec] = {s: _spec(s, *row) for s, row in _TABLE.items()}
"""Every symbol Ingestion knows, majors first."""

assert set(MAJOR_PAIRS) <= set(UNIVERSE), "every major pair must be in the universe"
