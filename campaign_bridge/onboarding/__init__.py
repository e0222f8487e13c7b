"""Onboarding a client: see what the systems hold, write a client file, check it can run.

discover.py  ``discover``: each connection's containers (members, statuses, source/target and why),
             its segment fields, and the calls that cost
needs.py     what each rule asks of the integration user on each connection (``connectors.discovery.Need``)
doctor.py    ``doctor``: credentials, permissions or scopes per need, API allowance, clock skew, state store
recipes.py   the common rules (the seed articles' segmentation criteria), written per system
clientfile.py ``init``: the questions a connection's settings ask, the client file and its env template

The connectors' own part is the optional ``connectors.discovery.SupportsDiscovery``; without it, a
connection is discovered and diagnosed from the connector contract alone.
"""
