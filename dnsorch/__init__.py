"""The core every role shares: rooms with a public face (contracts, dns, store, temporal, requests,
zones, cli), layered in that order from cli down, and the process plumbing beside them."""
