"""Portal URLs of the market (namespace ``market-portal``): the public price page."""

from django.urls import path

from ..views import public

urlpatterns = [path("prices/", public.prices_page, name="prices")]
