"""Tax identifiers: the format each country's identifier must have, checked where the rule is simple.

Formats (a format check, not a registry look-up):

* EU VAT identification numbers, as the European Commission's VIES service lists them ("VAT number
  structure", VIES FAQ Q11), for the member states below, written with the country prefix (``DE123456789``);
  Greece uses the prefix ``EL``.
* GB: the UK VAT registration number (HMRC VAT Notice 700/1 §3: ``GB`` + 9 digits, 12 digits for branch
  traders, ``GD``/``HA`` + 3 digits for government departments and health authorities).
* US: a taxpayer identification number as Form W-9 asks for it: an EIN ``NN-NNNNNNN`` or an SSN/ITIN
  ``NNN-NN-NNNN`` (IRS Publication 1635), or its nine digits without dashes.

Other countries: 4 to 30 letters, digits, dashes or dots (no rule is claimed).
"""

from __future__ import annotations

import re

EU_VAT = {
    "AT": r"ATU\d{8}",
    "BE": r"BE[01]\d{9}",
    "BG": r"BG\d{9,10}",
    "CY": r"CY\d{8}[A-Z]",
    "CZ": r"CZ\d{8,10}",
    "DE": r"DE\d{9}",
    "DK": r"DK\d{8}",
    "EE": r"EE\d{9}",
    "GR": r"EL\d{9}",
    "ES": r"ES[0-9A-Z]\d{7}[0-9A-Z]",
    "FI": r"FI\d{8}",
    "FR": r"FR[0-9A-HJ-NP-Z]{2}\d{9}",
    "HR": r"HR\d{11}",
    "HU": r"HU\d{8}",
    "IE": r"IE\d{7}[A-W][A-I]?|IE\d[A-Z+*]\d{5}[A-W]",
    "IT": r"IT\d{11}",
    "LT": r"LT(\d{9}|\d{12})",
    "LU": r"LU\d{8}",
    "LV": r"LV\d{11}",
    "MT": r"MT\d{8}",
    "NL": r"NL\d{9}B\d{2}",
    "PL": r"PL\d{10}",
    "PT": r"PT\d{9}",
    "RO": r"RO\d{2,10}",
    "SE": r"SE\d{10}01",
    "SI": r"SI\d{8}",
    "SK": r"SK\d{10}",
}
OTHER = {
    "GB": r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})",
    "US": r"\d{2}-\d{7}|\d{3}-\d{2}-\d{4}|\d{9}",
}
PATTERNS = {country: re.compile(rf"(?:{p})") for country, p in {**EU_VAT, **OTHER}.items()}
GENERIC = re.compile(r"[A-Z0-9][A-Z0-9.\-]{3,29}")
EXAMPLES = {"DE": "DE123456789", "FR": "FRXX999999999", "NL": "NL123456789B01", "GB": "GB123456789", "US": "12-3456789"}
COUNTRY = re.compile(r"[A-Z]{2}")


class TaxIdInvalid(ValueError):
    """The identifier does not have its country's format; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


def tax_id_normalise(*, country: str, value: str) -> str:
    """The identifier as stored (upper case, no spaces, with its country prefix where VIES writes one), or :class:`TaxIdInvalid`."""
    country = (country or "").strip().upper()
    if not COUNTRY.fullmatch(country):
        raise TaxIdInvalid("The country is an ISO 3166-1 alpha-2 code (e.g. DE, US).", field="country")
    cleaned = re.sub(r"\s+", "", value or "").upper()
    if not cleaned:
        raise TaxIdInvalid("Enter the tax identifier.", field="tax_id")
    pattern = PATTERNS.get(country)
    if pattern is None:
        if not GENERIC.fullmatch(cleaned):
            raise TaxIdInvalid("4 to 30 letters, digits, dashes or dots.", field="tax_id")
        return cleaned
    if country in EU_VAT or country == "GB":
        prefix = "EL" if country == "GR" else country
        if not cleaned.startswith(prefix):
            cleaned = prefix + cleaned
    if not pattern.fullmatch(cleaned):
        example = EXAMPLES.get(country)
        raise TaxIdInvalid(
            f"Not a {country} tax identifier"
            + (f" (expected the format of {example})." if example else f" (format {pattern.pattern})."),
            field="tax_id",
        )
    return cleaned
