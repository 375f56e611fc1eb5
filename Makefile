# mvtimeline: `make demo` and `make test` do all set-up themselves on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages: command they provide (to test for) = package
APT_PKGS := ffmpeg melt frei0r-plugins espeak-ng sox kdenlive xvfb xdotool imagemagick dbus-x11 chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Kdenlive 24.12 (Debian 13) and 26.08 (Debian testing) for the open tests: chroots made by the team's
# tool beside the checkout, cached outside the repository (a second run costs seconds)
KDENLIVE_CHROOT ?= $(abspath ../shared/tools/kdenlive_chroot.sh)
KD_ROOT ?= /var/cache/mvtimeline

.PHONY: deps apt venv kdenlive-chroots demo test bench clean

deps: apt venv

apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the local CPU wheel (never the CUDA builds)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,whisper,diffusers,separate,ray]'
	# compile numba's code once, in one process: parallel first compiles can corrupt its cache
	$(BIN)/python -m mvtimeline.doctor --warm-up
	touch $@

demo: deps
	$(BIN)/mvtimeline demo -o demo-out

kdenlive-chroots:
	@if [ ! -f "$(KDENLIVE_CHROOT)" ]; then \
	  echo "note: no $(KDENLIVE_CHROOT): the Kdenlive 24.12/26.08 tests are skipped"; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "note: not root: the Kdenlive 24.12/26.08 tests (chroots) are skipped"; \
	else \
	  for suite in trixie forky; do \
	    [ -x "$(KD_ROOT)/kdenlive-$$suite/usr/bin/kdenlive" ] || \
	      KD_ROOT=$(KD_ROOT) bash "$(KDENLIVE_CHROOT)" setup $$suite || exit 1; \
	  done; \
	fi

test: deps kdenlive-chroots
	KD_ROOT=$(KD_ROOT) MVT_KDENLIVE_CHROOT_TOOL=$(KDENLIVE_CHROOT) $(BIN)/pytest -n 2 --dist loadgroup -q

bench: deps
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_encode.py
	$(BIN)/python bench/bench_align.py
	$(BIN)/python bench/bench_plan.py
	$(BIN)/python bench/bench_peers.py
	$(BIN)/python bench/bench_diffusers.py
	$(BIN)/python bench/bench_batch.py
	$(BIN)/python bench/bench_comfyui.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_ray.py
	$(BIN)/python bench/bench_review.py

clean:
	rm -rf demo-out .pytest_cache
