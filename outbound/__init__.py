"""Outbound HTTP for every Relink call to the outside world (webhook receivers, HR providers).

A plain package below the four app floors: it imports no Django app, so accounts, issues, syncs
and linking may all use it. `addresses` decides which IP addresses may be reached; `http` owns
the shared clients, the pinned connections, timeouts, the size-capped read and Retry-After.
"""
