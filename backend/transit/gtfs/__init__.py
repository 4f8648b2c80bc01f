"""GTFS feeds of the county's buses: the static feed built from the bus lines, stops and the
configured timetable (`static`), GTFS-Realtime vehicle positions matched to its trips
(`matching`, `realtime`)."""
