"""`pricing.currency`: an ISO 4217 code, upper-cased, or RMB (the catalog's name for CNY).

Until 2026-12-06 any three letters were taken (`currency: ZZZ`, a typo such as `UDS`), and every
cost was printed in them; the code now has to be one ISO 4217 lists.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from planner.errors import suggest

RMB_CODES = ("RMB", "CNY")   # the catalog's currency under its common and its ISO 4217 name

# ISO 4217 list one (current codes, 2026), without XTS (reserved for testing) and XXX (no currency),
# and the codes withdrawn since 2021 that price lists may still carry (ANG, CUC, HRK, SLL, ZWL)
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU
XUA YER ZAR ZMW ZWG ZWL""".split()) | {"RMB", "CNH"}   # and offshore yuan, as banks and price lists quote it

# the schema's pattern of the same codes, in any case (plan reads `eur` as EUR)
PATTERN = r"^\s*(?:" + "|".join("".join(f"[{c}{c.lower()}]" for c in code) for code in sorted(ISO_4217)) + r")\s*$"


def currency_code(v: Any) -> Any:
    """A currency code as written → upper case; ValueError unless ISO 4217 lists it (or it is RMB)."""
    if not isinstance(v, str):
        return v
    code = v.strip().upper()
    if not re.fullmatch(r"[A-Za-z]{3}", v.strip()):
        raise ValueError(f"{v!r} is not an ISO 4217 currency code (three letters: USD, EUR, CNY, RMB)")
    if code not in ISO_4217:
        close = suggest(code, ISO_4217)
        raise ValueError(f"{code} is not an ISO 4217 currency code (USD, EUR, CNY, RMB, …)"
                         + (f".{close}" if close else ""))
    return code


Currency = Annotated[str, BeforeValidator(currency_code), Field(json_schema_extra={"pattern": PATTERN})]
