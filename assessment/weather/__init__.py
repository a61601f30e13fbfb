"""Outdoor temperature for weather-sensitive baselines: weather stations and their hourly temperatures
(imported from NOAA ISD-Lite or Meteostat-style files), premise locations mapped to their nearest station, and
the weather source interface the regression baseline reads through (``sources.py``)."""
