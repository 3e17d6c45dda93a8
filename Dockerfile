# One image for every dnsorch role; the command picks the role:
#   docker run dnsorch api | worker | consumer | migrate
# Built and run by docker-compose.yml; deploy/README.md has the walkthrough.
# No secret is baked in: the TSIG key and the database password arrive at run time
# (a mounted file and an environment variable).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them.
# They include ansible-core, ansible-runner, the `ansible` package (community.general.nsupdate)
# and dnspython; the dev extras (embedded servers, test tools) stay out.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project: code, playbooks/, migrations/, alembic.ini, env/<ENV>.env (.dockerignore keeps
# out the venv, state, tests, secrets and .env).
#
# Installed in place (-e) on purpose: dnsorch/settings.py finds env/<ENV>.env and
# playbooks/nsupdate.yml relative to the source tree. A plain `pip install .` copies the
# packages into site-packages without env/ and playbooks/, so ENV=uta|prod would silently
# load no defaults and the default PLAYBOOK_PATH would not exist.
COPY . .
RUN pip install --no-deps -e . \
    && python -m compileall -q /app

# Non-root, and fine with any UID: OpenShift runs the container with a random UID in group 0,
# so nothing may depend on this user's home. HOME and Ansible's temp dir point at /tmp; the
# state dir (ansible-runner's per-run directories) is group-0 writable.
RUN useradd --uid 10001 --gid 0 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin dnsorch \
    && mkdir -p /var/lib/dnsorch \
    && chown 10001:0 /var/lib/dnsorch \
    && chmod 0770 /var/lib/dnsorch

ENV HOME=/tmp \
    ANSIBLE_LOCAL_TEMP=/tmp/ansible-local \
    STATE_DIR=/var/lib/dnsorch \
    API_HOST=0.0.0.0 \
    API_PORT=8000

USER 10001
EXPOSE 8000

# No HEALTHCHECK here: only the api role serves HTTP (compose and Kubernetes probe /healthz
# and /readyz on that role alone).
ENTRYPOINT ["dnsorch"]
CMD ["--help"]
