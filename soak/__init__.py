"""`make soak`: a seeded, randomized run of the whole system under faults, checked afterwards.

Modules: stack (the real servers and roles), generator (the seeded schedule of requests, operator
actions and changes made by hand), hand (a person's TSIG nsupdate), faults (the seeded fault
schedule), schedule (a run's schedule as a replayable file), history (the JSON Lines record of
everything), settle (waiting for rest, and one last drift scan), checker (the invariants, read
from the history, PostgreSQL, Temporal and both DNS servers; one module per family: check_requests,
check_workflows, check_dns, drift_check, ownership_model; findings in report), run (the command
line), shrink (a failing schedule made smaller by delta debugging).
"""
