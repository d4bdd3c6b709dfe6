"""Exact numbers: parsing decimal strings into Fractions, rounding, and rendering for the step log.

Quotas, quotients and thresholds are ``int`` or :class:`fractions.Fraction`, never ``float``. The step
log carries them as strings: ``"p/q"`` (or ``"p"`` for whole numbers) and, for readability, a decimal
string rounded half up to a fixed number of places.
"""
from __future__ import annotations

from fractions import Fraction
from math import gcd

Number = int | Fraction


def parse_decimal(text: str) -> Fraction:
    """``"1.8"`` -> ``Fraction(9, 5)``; exact (no float on the way). Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty number")
    if any(c in text for c in "eE") or text.lower() in {"nan", "inf", "-inf", "infinity"}:
        raise ValueError(f"not a plain decimal number: {text!r}")
    return Fraction(text)


def floor(x: Number) -> int:
    x = Fraction(x)
    return x.numerator // x.denominator


def ceil(x: Number) -> int:
    x = Fraction(x)
    return -((-x.numerator) // x.denominator)


def round_half_up(x: Number) -> int:
    """Nearest whole number, halves up (x >= 0)."""
    x = Fraction(x)
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


def frac_str(x: Number) -> str:
    """Exact rendering: ``"7"`` or ``"3779764/18"`` (lowest terms)."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    return f"{x.numerator}/{x.denominator}"


def decimal_str(x: Number, places: int = 4) -> str:
    """Decimal rendering rounded half up to ``places`` (exact when the expansion is short)."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    x = abs(x)
    # shortest exact expansion if it fits
    for p in range(1, places + 1):
        scaled = x * 10 ** p
        if scaled.denominator == 1:
            places = p
            break
    scaled = round_half_up(x * 10 ** places)
    whole, frac = divmod(scaled, 10 ** places)
    return f"{sign}{whole}.{frac:0{places}d}"


def divisor_str(x: Number) -> str:
    """A divisor as people write it: ``"1.2"``, ``"3"``; ``"p/q"`` if not a short decimal."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    for p in range(1, 7):
        if (x * 10 ** p).denominator == 1:
            return decimal_str(x, p)
    return frac_str(x)


def ratio_str(num: int, den: int) -> str:
    """:func:`frac_str` of ``num / den`` (non-negative ints) without building a Fraction."""
    g = gcd(num, den)
    num, den = num // g, den // g
    return str(num) if den == 1 else f"{num}/{den}"


def ratio_decimal(num: int, den: int, places: int = 4) -> str:
    """:func:`decimal_str` of ``num / den`` (non-negative ints) in integer arithmetic."""
    whole, rest = divmod(num, den)
    if not rest:
        return str(whole)
    for p in range(1, places + 1):
        if rest * 10 ** p % den == 0:
            places = p
            break
    scaled = (2 * num * 10 ** places + den) // (2 * den)
    whole, frac = divmod(scaled, 10 ** places)
    return f"{whole}.{frac:0{places}d}"
