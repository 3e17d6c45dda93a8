# One image for every dnsorch role; the command picks the role:
#   docker run dnsorch api | worker | consumer | migrate
# Built and run by docker-compose.yml; deploy/README.md has the walkthrough.
# No secret is baked in: the TSIG key and the database password arrive at run time
# (a mounted file and an environment variable).

# Both stages on one base: the virtualenv's python is a link to the base image's interpreter.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv holding the dependencies and the dnsorch wheel -----------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# No pip or setuptools inside the virtualenv: the base image's pip fills it (--python), so the
# run stage carries only what dnsorch imports.
RUN python -m venv --without-pip /opt/dnsorch
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them.
# They include ansible-core, ansible-runner, the `ansible` package (community.general.nsupdate)
# and dnspython; the dev extras (embedded servers, test tools) stay out.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip --python /opt/dnsorch/bin/python install -r /tmp/requirements.txt

# The project as a normal (non-editable) install. The wheel carries the packages and what they
# read at run time beside them: playbooks/, env/<ENV>.env and migrations/ (pyproject.toml's
# [tool.setuptools] sections; tests/integration/test_packaging.py checks it). .dockerignore keeps
# the venv, local state, tests, deploy/ (secrets) and .env out of this context.
COPY . .
RUN pip --python /opt/dnsorch/bin/python install --no-deps .

# --- run: the virtualenv only; no source tree, no build tools ----------------------------------
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/dnsorch/bin:$PATH

COPY --from=build /opt/dnsorch /opt/dnsorch

# Non-root, and fine with any UID: OpenShift runs the container with a random UID in group 0,
# so nothing may depend on this user's home. HOME and Ansible's temp dir point at /tmp; the
# state dir (ansible-runner's per-run directories) is group-0 writable. The installed code is
# root's and read-only to the dnsorch user.
RUN useradd --uid 10001 --gid 0 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin dnsorch \
    && mkdir -p /var/lib/dnsorch \
    && chown 10001:0 /var/lib/dnsorch \
    && chmod 0770 /var/lib/dnsorch

ENV HOME=/tmp \
    ANSIBLE_LOCAL_TEMP=/tmp/ansible-local \
    STATE_DIR=/var/lib/dnsorch \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    METRICS_HOST=0.0.0.0

USER 10001
WORKDIR /var/lib/dnsorch
# 8000: the API; 9464 and 9465: the worker's and the consumer's Prometheus endpoints.
EXPOSE 8000 9464 9465

# No HEALTHCHECK here: only the api role serves HTTP (compose and Kubernetes probe /healthz
# and /readyz on that role alone).
ENTRYPOINT ["dnsorch"]
CMD ["--help"]
