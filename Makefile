# One entry point for the kit. `make help` lists the targets.
# Windows without make: see "Windows" in README.md for the same commands.

# The Python versions the kit is tested on (README, "Quick start", says the same).
SUPPORTED_PYTHONS := 3.11 3.12 3.13

# With no PYTHON given, .venv is built from python3 (as always). Naming a Python, e.g.
# `make test PYTHON=python3.13`, uses a virtual environment of that version, .venv-3.13,
# so that one never silently reuses another version's .venv.
PYTHON ?= python3
ifeq ($(origin PYTHON),file)
VENV   ?= .venv
else
VENV   ?= .venv-$(or $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null),unknown)
endif
NO_PYTHON := No $(PYTHON) on PATH. Install one of Python $(SUPPORTED_PYTHONS), then run: make setup PYTHON=python3.11
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.kit-installed
KERNEL := mlflow-kit
STORE  := mlflow_store
PORT   ?= 5000

.DEFAULT_GOAL := help
.PHONY: help setup start test test-latest notebook lab-check ui aws-stack reset labs nav check lint format \
        classroom grade gradebook translations messages clean-notebooks benchmark datasets hooks clean slides diagrams screenshots site

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(NO_PYTHON)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; ok = "$(SUPPORTED_PYTHONS)".split(); \
		sys.exit(0 if v in ok else "The kit supports Python %s; $(PYTHON) is %s. Install one of them, " \
		"then run: make setup PYTHON=python%s" % (", ".join(ok), v, ok[0]))'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (MLflow kit)" \
		--env MLFLOW_DISABLE_TELEMETRY true --env MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT true
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv with the pinned packages and the kit's Jupyter kernel

# The language of the lessons and of every message: `make start KIT_LANG=es` opens the
# Spanish edition (notebooks/es/) and its kernels speak Spanish.
KIT_LANG ?= en
START_NB := notebooks/$(if $(filter es,$(KIT_LANG)),es/,)00_welcome_and_setup.ipynb

start: $(STAMP)  ## Set up, then open JupyterLab on notebook 00 (in Spanish: make start KIT_LANG=es)
	KIT_LANG=$(KIT_LANG) $(BIN)/jupyter lab $(START_NB) $(if $(filter 0,$(shell id -u)),--allow-root) $(JUPYTER_ARGS)

test: $(STAMP)  ## Set up, then run every test: checks, notebooks and labs
	$(PY) -m pytest -n auto --dist worksteal $(ARGS)

test-latest: $(STAMP)  ## Run every test on the newest release of each dependency into TEST_LATEST.md
	$(PY) -m tools.test_latest --pinned $(VENV) $(if $(ARGS),-- $(ARGS))

notebook: $(STAMP)  ## Run one notebook as the tests do, e.g. make notebook NB=03
	$(PY) -m pytest tests/test_notebooks.py -k "$(NB)" -v

lab-check: $(STAMP)  ## Run one lab's solution and student notebooks, e.g. make lab-check LAB=01
	$(PY) -m pytest tests/test_labs.py -k "lab$(LAB)" -v

ui: $(STAMP)  ## Open the MLflow UI over the kit's store at http://127.0.0.1:$(PORT)
	mkdir -p $(STORE)/artifacts
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow server --workers 1 --port $(PORT) \
		--backend-store-uri sqlite:///$(CURDIR)/$(STORE)/mlflow.db \
		--artifacts-destination $(CURDIR)/$(STORE)/artifacts

aws-stack: $(STAMP)  ## Run the local AWS-style stack (PostgreSQL, S3, MLflow) until Ctrl+C
	$(PY) -m utils.aws_stack

classroom: $(STAMP)  ## Run a tracking server for a class: make classroom ROSTER=roster.txt DIR=~/class
	$(if $(and $(ROSTER),$(DIR)),,$(error Give a roster and a class folder: make classroom ROSTER=roster.txt DIR=~/class-mlflow))
	$(PY) -m utils.classroom start --roster "$(ROSTER)" --dir "$(DIR)" --port $(PORT) $(ARGS)

grade: $(STAMP)  ## Grade submitted lab notebooks, each in a kernel of its own: make grade SUBMISSIONS=DIR LAB=03
	$(if $(and $(SUBMISSIONS),$(LAB)),,$(error Give the submissions folder and the lab: make grade SUBMISSIONS=~/lab03 LAB=03))
	$(PY) -m tools.grade "$(SUBMISSIONS)" "$(LAB)" $(ARGS)

gradebook: $(STAMP)  ## Class progress from the class server into CSV and HTML: make gradebook DIR=~/class
	$(if $(DIR),,$(error Give the class folder: make gradebook DIR=~/class-mlflow))
	$(PY) -m tools.gradebook --dir "$(DIR)" --port $(PORT) $(ARGS)

reset:  ## Delete the kit's MLflow store (all local runs, models and logs)
	rm -rf $(STORE) mlruns

labs: $(STAMP)  ## Regenerate every lab's student notebook from its solution
	$(PY) -m tools.labs

translations: $(STAMP)  ## Regenerate the Spanish notebooks from the English ones and translations/es/
	$(PY) -m tools.translations

messages: $(STAMP)  ## Merge the code's messages into the Spanish catalogue utils/locale/es/
	$(PY) -m tools.messages

nav: $(STAMP)  ## Regenerate the notebooks' navigation, slide marks and the README's course map
	$(PY) -m tools.navigation

slides: $(STAMP)  ## Present one lesson as slides in JupyterLab, e.g. make slides NB=07 (KIT_LANG=es)
	$(if $(NB),,$(error Name the lesson: make slides NB=07))
	$(PY) -m tools.slides $(NB) --port 8888 --lang $(KIT_LANG)

diagrams: $(STAMP)  ## Redraw the course diagrams in images/diagrams/ from their sources
	$(PY) -m tools.diagrams

screenshots: $(STAMP)  ## Recapture the MLflow UI screenshots (needs the OS package chromium)
	$(PY) -m tools.screenshots

site: $(STAMP)  ## Execute every lesson and write the course as a static website to build/site
	$(PY) -m tools.site $(ARGS)

check: $(STAMP)  ## Quick checks: notebook hygiene, navigation, pictures, ruff
	$(PY) -m tools.notebook_checks
	$(PY) -m tools.navigation --check
	$(PY) -m tools.labs --check
	$(PY) -m tools.translations --check
	$(PY) -m tools.messages --check
	$(PY) -m tools.diagrams --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: check  ## Same as check

format: $(STAMP)  ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-notebooks: $(STAMP)  ## Strip outputs and execution counts from every notebook
	find notebooks labs -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' \
		-exec $(BIN)/nbstripout --keep-id {} +

benchmark: $(STAMP)  ## Time every notebook and lab (wall time, peak memory) into BENCHMARK.md
	$(PY) -m tools.benchmark $(ARGS)

datasets: $(STAMP)  ## Regenerate the case-study data (deterministic)
	$(PY) -m tools.generate_datasets

hooks: $(STAMP)  ## Install the git pre-commit hook (strip outputs, ruff)
	$(BIN)/pre-commit install

clean:  ## Remove the virtual environment, the store and build outputs
	rm -rf $(VENV) $(STORE) build .pytest_cache .ruff_cache
