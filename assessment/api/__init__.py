"""Assessment API: flexibility and capacity (``flexibility``), meter data ingestion and analysis (``meters``)."""

from . import flexibility, meters

urlpatterns = [*flexibility.urlpatterns, *meters.urlpatterns]
