"""Salinity/alkalinity threshold schemes (YAML), read by :mod:`gis.salinity`."""
