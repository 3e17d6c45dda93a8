"""`python -m dnsorch.cli …`, as the test fixtures and the dev stack start the roles."""

from dnsorch.cli.dispatch import main

main()
