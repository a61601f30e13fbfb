"""Template filters of the portal's formatting layer (``portal.formatting``): ``{% load fmt %}`` then
``{{ x|kwh }}``, ``{{ x|kw }}``, ``{{ x|money }}`` or ``{{ x|money:item.currency }}``, ``{{ x|price_mwh }}``,
``{{ x|token:"FLEX-NRG" }}``, ``{{ x|amount:unit }}``, ``{{ code|label }}``, ``{{ when|local:premise.timezone }}``,
``{{ x|percent }}``."""

from django import template

from .. import formatting as f

register = template.Library()


@register.filter
def kwh(value, places=2):
    return f.kwh(value, int(places))


@register.filter
def kw(value, places=2):
    return f.kw(value, int(places))


@register.filter
def money(value, currency=None):
    return f.money(value, currency or None)


@register.filter
def price_mwh(value, currency=None):
    return f.price_mwh(value, currency or None)


@register.filter
def token(value, symbol=""):
    return f.token(value, symbol or "")


@register.filter
def amount(value, unit=""):
    return f.amount(value, unit or "")


@register.filter
def percent(value, places=0):
    return f.percent(value, int(places))


@register.filter
def label(code):
    return f.label(code)


@register.filter
def local(value, tz=None):
    """``value`` in a timezone: an IANA name, or an object with a ``timezone`` (a premise; None -> UTC), so a
    template can write ``|local:item.premise`` for rows whose premise may be missing."""
    if tz is not None and not isinstance(tz, str):
        tz = getattr(tz, "timezone", None)
    return f.local(value, tz or None)


@register.filter
def num(value, places=2):
    return f.number(value, int(places))


@register.filter
def item_price(item):
    """A settlement item's price per MWh: a dash for a token or a fee (no energy price behind it)."""
    if not f.is_fiat(item.currency) or not item.price_per_mwh:
        return f.DASH
    return f.price_mwh(item.price_per_mwh, item.currency)
