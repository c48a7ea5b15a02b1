"""Sensor facts: Sentinel-2 bands, resolutions, reflectance scale and its MTF sensor model, in one place.

A bottom layer: it imports nothing from geogen except ``geogen.errors``, so every other layer may use it.
"""
