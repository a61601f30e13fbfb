"""Tax identifier formats (accounts.taxids): VIES VAT structures, UK VAT, US EIN/SSN; refusals first."""

from __future__ import annotations

import pytest

from accounts.taxids import TaxIdInvalid, tax_id_normalise


@pytest.mark.parametrize(
    ("country", "value", "field"),
    [
        ("DE", "DE12345678", "tax_id"),  # 8 digits: DE has 9
        ("DE", "DE1234567890", "tax_id"),
        ("NL", "NL123456789", "tax_id"),  # the B01 suffix is missing
        ("AT", "AT12345678", "tax_id"),  # ATU
        ("FR", "FRIO123456789", "tax_id"),  # I and O are not used in the key
        ("BE", "BE2123456789", "tax_id"),  # first digit 0 or 1
        ("GB", "GB12345678", "tax_id"),
        ("US", "12-345678", "tax_id"),
        ("US", "123-45-678", "tax_id"),
        ("CH", "x", "tax_id"),  # no rule: still 4-30 characters
        ("", "DE123456789", "country"),
        ("DEU", "DE123456789", "country"),
        ("DE", "   ", "tax_id"),
    ],
)
def test_wrong_formats_are_refused_naming_the_field(country, value, field):
    with pytest.raises(TaxIdInvalid) as exc:
        tax_id_normalise(country=country, value=value)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("country", "value", "stored"),
    [
        ("de", "de 123 456 789", "DE123456789"),
        ("DE", "123456789", "DE123456789"),  # the prefix is added
        ("GR", "123456789", "EL123456789"),  # Greece writes EL
        ("NL", "NL123456789B01", "NL123456789B01"),
        ("AT", "ATU12345678", "ATU12345678"),
        ("FR", "FRXX999999999", "FRXX999999999"),
        ("ES", "ESX1234567X", "ESX1234567X"),
        ("IT", "IT12345678901", "IT12345678901"),
        ("SE", "SE123456789001", "SE123456789001"),
        ("GB", "GB123456789", "GB123456789"),
        ("GB", "GBGD001", "GBGD001"),
        ("US", "12-3456789", "12-3456789"),
        ("US", "123-45-6789", "123-45-6789"),
        ("US", "123456789", "123456789"),
        ("CH", "CHE-123.456.788", "CHE-123.456.788"),
    ],
)
def test_right_formats_are_stored_normalised(country, value, stored):
    assert tax_id_normalise(country=country, value=value) == stored
