"""`make soak`: a seeded, randomized run of the whole system under faults, checked afterwards.

Modules: stack (the real servers and roles), generator (the seeded schedule of requests and
operator actions), faults (the seeded fault schedule), history (the JSON Lines record of both),
checker (the invariants, read from the history, PostgreSQL, Temporal and both DNS servers), run
(the command line).
"""
