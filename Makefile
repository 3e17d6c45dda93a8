# README's two commands: `make run` (the whole system on embedded servers) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format soak bench bench-batching bench-apply bench-latency bench-kafka bench-adopt bench-drift bench-playbook clean-state

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make run` runs Apache Kafka (KRaft, jars from Maven Central) where a JDK 17+ is present, else the
# embedded Tansu; `make run KAFKA=tansu` (or apache, none) chooses.
run: $(STAMP)
	$(if $(KAFKA),DEV_KAFKA=$(KAFKA) )$(BIN)/dnsorch dev

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dnsorch api worker workflows activities consumer
	$(BIN)/mypy --explicit-package-bases benchmarks soak devstack
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-state:
	rm -rf .dnsorch

# Starts its own servers: CPU ms per record per process (worker with its playbook runs, API,
# Temporal, PostgreSQL, BIND, Knot), records/s, the ratio to one request alone, accept p50/p95/p99,
# the worker's RSS, a request's history, for N creates (50 in flight) without and with PTRs, held
# against issue 24's targets; then Kafka ingestion against the raw workflow-start rate.
# PROFILE=dir adds py-spy profiles of worker and API; TEMPORAL=server uses the production server.
bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/cpu_per_record.py -n $(or $(N),200) -c 50 $(if $(PROFILE),--profile $(PROFILE)) $(if $(TEMPORAL),--temporal $(TEMPORAL))
	PYTHONPATH=. $(BIN)/python benchmarks/kafka_ingest_rate.py -n 300

# Starts its own servers: 500 creates (50 in flight) with batching off, then on; prints the ratio.
bench-batching: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/batching.py -n $(or $(N),500) -c 50

# Starts its own BIND: the batch's DNS step, dnsorch's module vs a loop over community.general.nsupdate.
bench-apply: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/nsupdate_vs_module.py -n $(or $(N),200)

# Starts its own BIND: median CPU-seconds of one apply playbook run (the worker's batch path) with 0, 1
# and 20 changes, split into the ansible-playbook tree and the worker side, N runs each.
bench-playbook: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/playbook_cost.py -n $(or $(N),7)

# Needs a running stack (`make run` in another terminal): POST -> COMPLETED latency.
bench-latency: $(STAMP)
	$(BIN)/python benchmarks/provisioning_latency.py -n 20 -c 4

# Starts its own servers; measures Kafka ingestion on Tansu and on Apache Kafka.
bench-kafka: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/kafka_ingest_rate.py -n 300

# Starts its own BIND and PostgreSQL; adopts a zone of N record sets (AXFR, plan, write timed apart).
bench-adopt: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/adoption.py -n $(or $(N),1000)

# Starts its own BIND (with a Knot secondary where knotd is installed) and PostgreSQL; times a drift
# scan of a zone of N record sets, by AXFR and record set by record set.
bench-drift: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/drift.py -n $(or $(N),1000)

# Starts its own stack (PostgreSQL, Temporal, BIND + Knot, Kafka, API, consumer, two workers), runs N
# seeded requests and operator actions under random faults, then checks the invariants; a failing run
# prints its seed, and `make soak SEED=… N=…` replays the same schedule. SOAK_KAFKA=tansu without a JDK.
# ENGINE=server runs it on the production Temporal server built from source (Go; minutes the first time).
# The roles run a copy of the code taken at start (CODE=HEAD: the last commit's, not the working tree's).
soak: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m soak.run -n $(or $(N),1000) $(if $(SEED),--seed $(SEED)) $(if $(FAULTS),--faults $(FAULTS)) $(if $(RATE),--rate $(RATE)) $(if $(ENGINE),--engine $(ENGINE)) $(if $(CODE),--code $(CODE))
