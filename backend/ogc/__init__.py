"""OGC API - Features (Part 1: Core, GeoJSON) over the layer catalog, for QGIS and GDAL."""
