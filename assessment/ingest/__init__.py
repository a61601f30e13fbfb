"""Meter data ingestion: pure parsers (CSV, Green Button ESPI XML) returning typed rows or errors naming
the line or element, and the import services that store a whole file all-or-nothing (``services.py``)."""
