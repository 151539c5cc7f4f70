# One-command workflows for developers and CI. Everything runs from .venv, which `install`
# creates and refreshes only when pyproject.toml changed (the stamp file records that).

VENV := .venv
STAMP := $(VENV)/.perfbudget-installed
# Every dependency's exact version, as the suite last passed with them (`make lock` refreshes it):
# a new release of the Temporal SDK can change how workflows replay, and the suite turns any new
# warning into an error, so neither may arrive unannounced on a fresh machine or in an image.
LOCK := constraints.txt
# Newest first; pyenv shims may exist for versions that are not selected, so each candidate is
# run, not just looked up, before it is chosen.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3

.PHONY: install bytecode lock run test bench lint histories migration clean

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@if [ ! -x $(VENV)/bin/python ]; then \
	  py=""; \
	  for c in $(PYTHON_CANDIDATES); do \
	    if $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
	      py=$$c; break; \
	    fi; \
	  done; \
	  if [ -z "$$py" ]; then echo "perfbudget needs Python >= 3.11 (tried: $(PYTHON_CANDIDATES))" >&2; exit 1; fi; \
	  echo "creating $(VENV) with $$py"; \
	  $$py -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install -c $(LOCK) -e '.[dev]'
	@touch $@

# The newest releases pyproject.toml's ranges admit, resolved in a venv of their own and pinned
# in constraints.txt; then `make test` (and `make histories` if the SDK moved) before committing.
lock:
	rm -rf .lock-venv
	$$( [ -x $(VENV)/bin/python ] && echo $(VENV)/bin/python || echo python3 ) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet '.[dev,helm]'
	( echo '# Pinned by `make lock` from pyproject.toml (all extras); see the Makefile.'; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^perfbudget' ) > $(LOCK)
	rm -rf .lock-venv build

# Our packages' bytecode, as the image ships it (pip compiles at install; an editable install
# does not). Temporal's sandbox imports a workflow's module afresh for every workflow run; where
# PYTHONDONTWRITEBYTECODE is set (as on these machines) and no .pyc exists, each of those
# imports compiles workflows/project.py from source: 14 % of the worker's CPU in the
# fiscal-year benchmark. Incremental: only what changed since is compiled again.
bytecode: install
	$(VENV)/bin/python -m compileall -q models workflows activities service tests/bench

run: install bytecode
	$(VENV)/bin/perfbudget up

test: install bytecode
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmark suite against bare Temporal (minutes; not part of `make test`). Set
# PERFBUDGET_TEST_DATABASE_URL to include PostgreSQL reads; BENCH_ARGS to narrow it.
bench: install bytecode
	$(VENV)/bin/python -m tests.bench $(BENCH_ARGS)

# Record new workflow histories for the replay test (after a change guarded by workflow.patched);
# commit them beside the old ones, which must keep replaying.
histories: install
	$(VENV)/bin/python -m tests.workflows.record_histories

# A new schema revision after a change to the SQLModel tables (a new table module is imported in
# service/db.py): Alembic compares the tables with a scratch database at head and writes the
# difference to service/migrations/versions/. Read it before committing it.
migration: install
	@test -n "$(MESSAGE)" || { echo 'usage: make migration MESSAGE="add the kind table"' >&2; exit 2; }
	@mkdir -p var && rm -f var/migration-scratch.db
	PERFBUDGET_DATABASE_URL=sqlite:///var/migration-scratch.db $(VENV)/bin/alembic upgrade head
	PERFBUDGET_DATABASE_URL=sqlite:///var/migration-scratch.db $(VENV)/bin/alembic revision --autogenerate -m "$(MESSAGE)"
	@rm -f var/migration-scratch.db

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Leaves ./var alone on purpose: it holds the embedded Temporal history and the application
# database, which are user data, not build output.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
