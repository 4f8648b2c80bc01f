"""Situation snapshots: the current view as one offline HTML file (pydeck, deck.gl embedded)."""
