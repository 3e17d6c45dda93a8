"""`make soak`: a seeded, randomized run of the whole system under faults, checked afterwards.

Modules: stack (the real servers and roles), generator (the seeded schedule of requests, operator
actions and changes made by hand), hand (a person's TSIG nsupdate), faults (the seeded fault
schedule), schedule (a run's schedule as a replayable file), history (the JSON Lines record of
everything), settle (waiting for rest, and one last drift scan), checker and drift_check (the
invariants, read from the history, PostgreSQL, Temporal and both DNS servers), run (the command
line), shrink (a failing schedule made smaller by delta debugging).
"""
