# The set-up commands README.md promises. All are idempotent.
.PHONY: demo test test-fast venv

# Tests run in one worker process per core (at most four); each test file
# stays in one worker.
PYTEST = .venv/bin/python -m pytest -q -n auto --maxprocesses=4 --dist loadfile

venv:
	@scripts/bootstrap.sh

# Install everything and run the whole pipeline on the embedded synthetic data.
demo: venv
	.venv/bin/cdnrec run --output runs/demo

# Install everything and run the whole test suite (CI runs this).
test: venv
	$(PYTEST) --no-loadscope-reorder tests  # longest files first (conftest.py)

# The fast tier: every module's logic, no long training, no whole-pipeline
# runs (tests marked slow are left out).
test-fast: venv
	$(PYTEST) -m "not slow" tests
