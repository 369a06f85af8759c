"""The load drill's parts, run by scripts/load.py (`make load`): `stack` brings the processes up
and down and reads their CPU time, `seed` fills the fresh database, `profile_mix` says which API
reads are sent and how often, `client` sends them open-loop, and `report` prints the table.

Hand-written rather than a load-testing tool (locust, k6): the drill needs open-loop timing from
each request's due time, and a client lean enough to share two cores with the server it measures.
"""
