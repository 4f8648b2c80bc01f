"""Maps: the layer catalog over HTTP, vector tiles, TileJSON and glyphs."""
