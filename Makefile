# cnnscore developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3.11
VENV ?= .venv
SMOKE := testdata/na12878_chr20_smoke
IMAGE ?= cnnscore:local
BIN := $(VENV)/bin

.PHONY: setup demo test lint image fuzz clean

# pysam is built from source so that its htslib inflates BAM/CRAM with libdeflate (PyPI's wheels
# use zlib, and decompression is a third of the compiled encoder's time with one reader thread,
# bench/RESULTS.md); Debian's headers are installed when missing (root), and the build is checked.
# The venv module, a C compiler and Python's headers (pysam and the encoder compile) likewise.
BUILD_DEPS := libdeflate-dev zlib1g-dev libbz2-dev liblzma-dev libcurl4-openssl-dev libssl-dev \
	python3.11-venv python3.11-dev gcc libc6-dev
# The editable install also compiles the read-tensor encoder in place (python/setup.py).
$(BIN)/cnnscore: python/pyproject.toml python/setup.py python/cnnscore/encode/_pileup.pyx \
		python/requirements.lock tools/miniwdl_podman_local/pyproject.toml
	dpkg -s $(BUILD_DEPS) >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq $(BUILD_DEPS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24,<27"
	rm -rf $(VENV)/wheels
	$(BIN)/pip wheel --quiet --no-deps --no-binary pysam -c python/requirements.lock pysam \
	  -w $(VENV)/wheels
	$(BIN)/pip install --quiet --no-deps --force-reinstall $(VENV)/wheels/pysam-*.whl
	$(BIN)/pip install --quiet -c python/requirements.lock -e "python[test]" \
	  -e tools/miniwdl_podman_local
	$(BIN)/python -c "from cnnscore.io.htslib import features as f; \
	  assert f().get('libdeflate') == 'yes', f'pysam built without libdeflate: {f()}'"
	touch $@

setup: $(BIN)/cnnscore

## Score the real NA12878 smoke set (testdata/) with no model given, so GATK's small_2d (shipped in
## the package) scores, then compare with GATK 4.6.0's 2D scores of the same set (the golden file,
## testdata/README.md): no network, and no compiled-model cache outside the repository.
demo: setup
	mkdir -p demo-out
	$(BIN)/cnnscore score \
	  -V $(SMOKE)/hc.gatk4.vcf.gz \
	  -R $(SMOKE)/ref.chr20.fa.gz \
	  -I $(SMOKE)/NA12878.chr20_10M_10.1M.bam \
	  --tensor-type read_tensor \
	  --metrics-json demo-out/metrics.json --compiled-cache off \
	  -O demo-out/smoke.cnn_2d.vcf.gz
	$(BIN)/cnnscore compare \
	  --baseline $(SMOKE)/gatk460_oracle.cnn_2d.vcf.gz --baseline-label "GATK 4.6.0" \
	  --candidate demo-out/smoke.cnn_2d.vcf.gz --candidate-label cnnscore \
	  --fail-if "max_abs_delta>0.001" --fail-if "missing_in_candidate>0" \
	  --fail-if "unscored_in_candidate>0" -O demo-out/vs_gatk

lint: setup
	$(BIN)/ruff check python tests tools bench models notebooks
	$(BIN)/ruff format --check python tests tools bench models notebooks

## The task images, built with rootful podman (no Docker engine needed); need root on Debian 12.
image:
	docker/podman-build.sh $(IMAGE)
	docker/podman-build.sh cnnscore-ovtf:local docker/Dockerfile.ovtf

## Everything: lint, the image, then all tests (unit, end-to-end, the WDL runs under miniwdl);
## shellcheck checks the WDL commands, headless Chromium renders the compare report, and Debian's
## htsjdk (with a JDK) reads the plain-VCF outputs' .idx as GATK does.
test: lint image
	command -v shellcheck >/dev/null || (apt-get update -qq && apt-get install -y -qq shellcheck)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	command -v docker-registry >/dev/null || (apt-get update -qq && apt-get install -y -qq docker-registry)
	(test -f /usr/share/java/htsjdk.jar && command -v javac >/dev/null) \
	  || (apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless libhtsjdk-java)
	$(BIN)/python -m pytest

## The fuzzed-input battery at length (make test runs 240 cases of it): FUZZ_CASES mutated inputs
## from FUZZ_SEED; prints the outcomes by input and any case that went wrong (bench/RESULTS.md).
FUZZ_CASES ?= 3000
FUZZ_SEED ?= 1
fuzz: setup
	$(BIN)/python tests/fuzz_battery.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED)

clean:
	rm -rf $(VENV) demo-out
