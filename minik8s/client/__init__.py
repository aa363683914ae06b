"""Clients of the API server: in-process (:mod:`.local`) and over HTTP (:mod:`.http`)."""
