# The two set-up commands README.md promises. Both are idempotent.
.PHONY: demo test venv

venv:
	@scripts/bootstrap.sh

# Install everything and run the whole pipeline on the embedded synthetic data.
demo: venv
	.venv/bin/cdnrec run --output runs/demo

# Install everything and run the test suite.
test: venv
	.venv/bin/python -m pytest -q tests
