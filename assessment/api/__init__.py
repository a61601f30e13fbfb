"""Assessment API: flexibility and capacity (``flexibility``), meter data ingestion and analysis (``meters``),
premise locations for weather (``weather``)."""

from . import flexibility, meters, weather

urlpatterns = [*flexibility.urlpatterns, *meters.urlpatterns, *weather.urlpatterns]
