# The two commands a newcomer needs: `make run` (demo on 127.0.0.1:8000, or $PORT) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# The local demo, set explicitly: without it the settings are production's (DEBUG off, a
# SECRET_KEY required). DEMO=true allows the public demo key; never set it on a server.
DEMO_ENV := DEMO=true DEBUG=true
# The demo's port: `PORT=8001 make run`.
PORT ?= 8000

.PHONY: run test bench bench-full messages lint format install migrate demo clean-demo mutation mutation-db mutation-services mutation-score audit

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

migrate: install
	$(DEMO_ENV) $(PY) manage.py migrate --no-input

demo: migrate
	$(DEMO_ENV) $(PY) manage.py seed_demo

## make run: install, migrate, load demo data, then web + two Celery workers + Celery beat (Ctrl-C stops all)
run: demo
	$(DEMO_ENV) $(PY) manage.py collectstatic --no-input --verbosity 0
	@echo "Serving on http://127.0.0.1:$(PORT)/ (web, worker, deliveries and beat; Ctrl-C stops all four)"
	$(DEMO_ENV) SITE_URL=http://127.0.0.1:$(PORT) $(VENV)/bin/honcho start -f Procfile -p $(PORT)

## make test: the whole suite (PostgreSQL/Redis/browser suites run when available; CI=true requires them)
## (the suite sets DEMO=true itself: tests/demo_env.py)
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: benchmarks that print figures (not tests)
bench: install
	$(DEMO_ENV) $(PY) bench/run.py

bench-full: install
	$(DEMO_ENV) $(PY) bench/run.py --full

## make messages: refresh the German catalogue from the source and compile it
messages: install
	$(DEMO_ENV) $(PY) manage.py makemessages --locale de --no-location --ignore ".venv/*" --ignore "var/*" --ignore "tests/*" --ignore "bench/*"
	$(DEMO_ENV) $(PY) manage.py makemessages --locale de --domain djangojs --no-location --ignore ".venv/*" --ignore "var/*" --ignore "static/vendor/*" --ignore "tests/*"
	$(DEMO_ENV) $(PY) manage.py compilemessages --locale de --ignore ".venv/*"

## make audit: pip-audit of every pin in pyproject.toml (runtime and dev) against the vulnerability
## database. Needs that database online, so it is not part of `make test` (CI here cannot reach it).
## --strict: a pin that could not be looked up fails the audit instead of passing unaudited.
## Findings reviewed as not applying: deploy/audit-allowlist.txt (id, package, why, who, when).
AUDIT_ALLOWLIST ?= deploy/audit-allowlist.txt
audit: install
	@mkdir -p var
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + [r for g in p['optional-dependencies'].values() for r in g]))" > var/audit-requirements.txt
	timeout 600 $(VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off \
		-r var/audit-requirements.txt \
		$$(sed -e 's/#.*//' $(AUDIT_ALLOWLIST) | awk 'NF { print "--ignore-vuln", $$1 }')

## make mutation: mutmut over the pure core with its fast tests (not in CI: tens of minutes on
## 2 cores); prints the score per module and the survivors. Config: [tool.mutmut] in pyproject.toml;
## equivalent survivors: docs/mutation.md. One child at low priority (nice) by default; bounded by MUTATION_TIMEOUT.
MUTATION_JOBS ?= 1
# MUTANTS='escalation.risk*': only these mutants (fnmatch patterns); empty: the whole pure core
MUTANTS ?=
MUTATION_PURE := 'escalation.engine.*' 'sla.clock.*' 'sla.deadlines.*' 'escalation.risk.*' 'notifications.addresses.*'
MUTATION_TIMEOUT ?= 3600
# mutmut, also mutating the functions decorated with a bare @transaction.atomic (the services'
# use cases), which mutmut itself leaves alone: see tools/mutmut_atomic.py.
MUTMUT_RUN := $(PY) tools/mutmut_atomic.py run
mutation: install
	rm -rf mutants
	DEMO=true PYTEST_ADDOPTS='-m "not django_db"' timeout $(MUTATION_TIMEOUT) nice -n 10 \
		$(MUTMUT_RUN) --max-children $(MUTATION_JOBS) $(or $(MUTANTS),$(MUTATION_PURE)) > /dev/null || true
	@$(MAKE) --no-print-directory mutation-score

## make mutation-db: the database-backed set (the outbox claim, `visible_to`) with their database
## tests, on a PostgreSQL test database migrated once (by the first pytest) and reused by every
## mutant (--reuse-db; not in CI).
## MUTATION_DATABASE_URL names the database (its test database is test_<name>); MUTANTS as above.
MUTATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/helpdesk_mutation
MUTATION_DB := 'notifications.outbox.x_claim__mutmut_*' 'notifications.outbox.x__claim_for_relay__mutmut_*' \
	'notifications.outbox.x__recover_stale__mutmut_*' 'tickets.models.x?TicketQuerySet?visible_to__mutmut_*'
mutation-db: install
	rm -rf mutants
	DEMO=true DATABASE_URL=$(MUTATION_DATABASE_URL) PYTEST_ADDOPTS='--reuse-db -m django_db' timeout $(MUTATION_TIMEOUT) \
		nice -n 10 $(MUTMUT_RUN) --max-children $(MUTATION_JOBS) $(or $(MUTANTS),$(MUTATION_DB)) > /dev/null || true
	@$(MAKE) --no-print-directory mutation-score

## make mutation-services: the SLA services, the escalation actions and both sweep lanes (the
## per-ticket evaluation and the bulk lane) with their database tests, the same way as
## mutation-db (one reused PostgreSQL test database; not in CI). MUTANTS='escalation.sweep.*':
## one module or function at a time (the whole set takes hours on 2 shared cores).
MUTATION_SERVICES := 'sla.services.*' 'escalation.services.*' 'escalation.handoff.*' \
	'escalation.sweep.*' 'escalation.bulk.*' 'escalation.evaluation.*'
# The other sets' test files are left out: mutmut's first pytest runs every selected test once
# (to learn which reach which function), and on a loaded machine at `nice` each minute counts.
MUTATION_OTHER_TESTS := tests/escalation/test_engine.py tests/sla/test_clock.py \
	tests/sla/test_clock_mutants.py tests/sla/test_deadlines.py tests/escalation/test_risk.py \
	tests/notifications/test_webhook_transport.py tests/notifications/test_outbox.py \
	tests/notifications/test_outbox_mutants.py tests/tickets/test_visibility.py \
	tests/tickets/test_rights.py tests/tickets/test_visibility_mutants.py
# MUTATION_DESELECT='tests/escalation/test_sweep_lanes.py …': leave out more test files.
MUTATION_DESELECT ?=
MUTATION_LEFT_OUT = $(addprefix --deselect ,$(MUTATION_OTHER_TESTS) $(MUTATION_DESELECT))
mutation-services: install
	rm -rf mutants
	DEMO=true DATABASE_URL=$(MUTATION_DATABASE_URL) PYTEST_ADDOPTS='--reuse-db $(MUTATION_LEFT_OUT)' \
		timeout $(MUTATION_TIMEOUT) \
		nice -n 10 $(MUTMUT_RUN) --max-children $(MUTATION_JOBS) $(or $(MUTANTS),$(MUTATION_SERVICES)) > /dev/null || true
	@$(MAKE) --no-print-directory mutation-score

## make mutation-score: the score and survivors of the last (or a running) `make mutation`
mutation-score:
	@DEMO=true $(VENV)/bin/mutmut results --all true | awk -F': ' 'NF == 2 { \
		name = $$1; gsub(/ /, "", name); match(name, /\.x/); module = substr(name, 1, RSTART - 1); \
		if ($$2 == "not checked") { unchecked[module]++; next } total[module]++; \
		if ($$2 == "killed" || $$2 == "timeout") killed[module]++; \
		else survivors = survivors "\n  " name ": " $$2 } \
		END { for (m in total) { k += killed[m]; t += total[m]; u += unchecked[m]; \
		printf "%-20s %4d/%-4d killed  %5.1f %%  (%d not checked: not reached, or outside MUTANTS)\n", \
			m, killed[m], total[m], 100 * killed[m] / total[m], unchecked[m] } \
		printf "%-20s %4d/%-4d killed  %5.1f %%  (%d not checked)\n", "all", k, t, 100 * k / t, u; \
		print "Survivors (show one with: mutmut show NAME):" survivors }'

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(DEMO_ENV) $(PY) manage.py makemigrations --check --dry-run

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean-demo:
	rm -rf db.sqlite3 var/broker var/celerybeat-schedule*
