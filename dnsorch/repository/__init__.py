"""Reads and idempotent writes of dnsorch's rows in PostgreSQL, one module per idea.

Every write can be repeated safely: a retried activity or a redelivered request must never add a
second row, a second record or a second copy of a log line.

- `request_rows`: a request's row, its log lines and status changes, and their outbox events;
- `served_records`: the records DNS serves for dnsorch, and the account that owns each name;
- `name_claims`: which request may change a name now, in the order the requests were accepted;
- `dead_letters`: the Kafka messages already sent to the dead-letter topic.
"""
