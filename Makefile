# The set-up commands README.md promises. All are idempotent.
.PHONY: demo test test-fast venv

venv:
	@scripts/bootstrap.sh

# Install everything and run the whole pipeline on the embedded synthetic data.
demo: venv
	.venv/bin/cdnrec run --output runs/demo

# Install everything and run the whole test suite (CI runs this).
test: venv
	.venv/bin/python -m pytest -q tests

# The fast tier: every module's logic, no long training, no whole-pipeline
# runs (tests marked slow are left out).
test-fast: venv
	.venv/bin/python -m pytest -q -m "not slow" tests
