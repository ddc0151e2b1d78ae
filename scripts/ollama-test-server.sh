#!/usr/bin/env bash
# ollama-test-server.sh brings up a real Ollama server on 127.0.0.1 for
# flexrec's integration tests and CI, loaded with flexrec's own tiny test
# model (no model is downloaded: cmd/flexrec-testmodel writes it).
#
# Usage:
#   eval "$(scripts/ollama-test-server.sh)"          # start (default), export the host
#   scripts/ollama-test-server.sh start|stop|status|build|env
#
# start   builds the server once (about 3.5 min cold on 2 cores, cached
#         afterwards), writes the test model, starts `ollama serve` on
#         127.0.0.1:$FLEXREC_OLLAMA_PORT when nothing answers there yet,
#         creates the model, and prints `export FLEXREC_OLLAMA_HOST=...`
#         and `export FLEXREC_OLLAMA_MODEL=...` on stdout. Idempotent: a
#         second call with a running server takes about a second.
# stop    stops the server this script started (by its pid file).
# status  exits 0 when the server answers, 1 otherwise.
# build   only builds (or finds) the ollama binary.
# env     prints the exports without starting anything.
#
# Environment (all optional):
#   FLEXREC_OLLAMA_PORT   port on 127.0.0.1 (default 11435, not Ollama's 11434)
#   FLEXREC_CACHE         cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/flexrec)
#   FLEXREC_OLLAMA_MODEL  model name to create (default flexrec-tiny)
#
# Progress goes to stderr; only the export lines go to stdout.
set -euo pipefail

readonly OLLAMA_VERSION=0.17.4
readonly PORT="${FLEXREC_OLLAMA_PORT:-11435}"
readonly HOSTPORT="127.0.0.1:${PORT}"
readonly URL="http://${HOSTPORT}"
readonly MODEL="${FLEXREC_OLLAMA_MODEL:-flexrec-tiny}"
readonly CACHE="${FLEXREC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flexrec}"
readonly BINDIR="${CACHE}/ollama-${OLLAMA_VERSION}"
readonly BIN="${BINDIR}/ollama"
readonly STATE="${CACHE}/ollama-server-${PORT}"
readonly REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'ollama-test-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

print_env() {
	printf 'export FLEXREC_OLLAMA_HOST=%s\n' "${URL}"
	printf 'export FLEXREC_OLLAMA_MODEL=%s\n' "${MODEL}"
}

answers() { curl -fsS --max-time 2 "${URL}/api/version" >/dev/null 2>&1; }

# ensure_headers installs the two system header packages the cgo build
# needs (the third header, miniaudio.h, is the stand-in in ollama-stubs/).
ensure_headers() {
	if [[ -f /usr/include/nlohmann/json.hpp && -f /usr/include/stb/stb_image.h ]]; then
		return
	fi
	log "installing nlohmann-json3-dev and libstb-dev"
	local sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	${sudo} apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq nlohmann-json3-dev libstb-dev >&2
}

# cpu_flags picks -march=x86-64-v3 (twice as fast) where the CPU has AVX2;
# -march=native fails to link.
cpu_flags() {
	if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
		echo "-O3 -march=x86-64-v3"
	else
		echo "-O3"
	fi
}

build() {
	# The folder is per version; the stamp marks a build that finished.
	if [[ -x "${BIN}" && -f "${BINDIR}/built" ]]; then
		return
	fi
	command -v go >/dev/null || die "go is not on PATH"
	ensure_headers
	mkdir -p "${BINDIR}"
	local flags
	flags="$(cpu_flags)"
	log "building ollama v${OLLAMA_VERSION} into ${BINDIR} (cgo, CPU backend; a few minutes cold)"
	# go install pkg@version ignores the current module; run it from the
	# cache folder so no go.mod or GOFLAGS of ours gets in the way.
	(
		cd "${BINDIR}"
		env GOFLAGS=-mod=mod GOBIN="${BINDIR}" CGO_ENABLED=1 \
			CGO_CPPFLAGS="-I${REPO}/scripts/ollama-stubs" \
			CGO_CFLAGS="${flags}" CGO_CXXFLAGS="${flags}" \
			go install -ldflags "-s -w -X github.com/ollama/ollama/version.Version=${OLLAMA_VERSION}" \
			"github.com/ollama/ollama@v${OLLAMA_VERSION}"
	) >&2 || die "go install github.com/ollama/ollama@v${OLLAMA_VERSION} failed"
	[[ -x "${BIN}" ]] || die "build finished but ${BIN} is missing"
	date -u +%FT%TZ >"${BINDIR}/built"
}

# write_model writes the GGUF and Modelfile; they are rebuilt when the
# generator's source is newer than the model file.
write_model() {
	local dir="${CACHE}/testmodel"
	local gguf="${dir}/${MODEL}.gguf"
	mkdir -p "${dir}"
	local newer
	newer="$(find "${REPO}/cmd/flexrec-testmodel" "${REPO}/llm/testmodel" "${REPO}/llm/internal/gguf" -name '*.go' ! -name '*_test.go' -newer "${gguf}" 2>/dev/null | head -1 || true)"
	if [[ ! -s "${gguf}" || -n "${newer}" ]]; then
		log "writing test model ${gguf}"
		(cd "${REPO}" && go run ./cmd/flexrec-testmodel -o "${gguf}" -modelfile "${dir}/Modelfile") >&2 ||
			die "cmd/flexrec-testmodel failed"
		rm -f "${STATE}/model-created"
	fi
}

start_server() {
	if answers; then
		local v
		v="$(curl -fsS --max-time 2 "${URL}/api/version" || true)"
		[[ "${v}" == *"${OLLAMA_VERSION}"* ]] || die "port ${PORT} answers with ${v}, not ollama ${OLLAMA_VERSION}: stop it or set FLEXREC_OLLAMA_PORT"
		return
	fi
	mkdir -p "${STATE}/home" "${STATE}/models"
	log "starting ollama serve on ${HOSTPORT} (log ${STATE}/serve.log)"
	rm -f "${STATE}/model-created"
	# setsid detaches the server from this shell, so it outlives the script.
	HOME="${STATE}/home" OLLAMA_MODELS="${STATE}/models" OLLAMA_HOST="${HOSTPORT}" \
		OLLAMA_NUM_PARALLEL="${OLLAMA_NUM_PARALLEL:-4}" OLLAMA_KEEP_ALIVE=-1 OLLAMA_NOPRUNE=1 \
		setsid "${BIN}" serve </dev/null >"${STATE}/serve.log" 2>&1 &
	echo $! >"${STATE}/pid"
	local i
	for i in $(seq 1 100); do
		answers && return
		kill -0 "$(cat "${STATE}/pid")" 2>/dev/null || { tail -20 "${STATE}/serve.log" >&2; die "ollama serve exited"; }
		sleep 0.1
	done
	tail -20 "${STATE}/serve.log" >&2
	die "ollama serve did not answer on ${URL} within 10 s"
}

create_model() {
	if [[ -f "${STATE}/model-created" ]] && curl -fsS --max-time 2 "${URL}/api/tags" | grep -q "\"${MODEL}:latest\""; then
		return
	fi
	log "creating model ${MODEL}"
	(cd "${CACHE}/testmodel" && HOME="${STATE}/home" OLLAMA_HOST="${HOSTPORT}" "${BIN}" create "${MODEL}" -f Modelfile) >&2 ||
		die "ollama create ${MODEL} failed"
	touch "${STATE}/model-created"
}

stop_server() {
	if [[ -f "${STATE}/pid" ]]; then
		local pid
		pid="$(cat "${STATE}/pid")"
		if kill -0 "${pid}" 2>/dev/null; then
			log "stopping ollama serve (pid ${pid})"
			kill "${pid}"
		fi
		rm -f "${STATE}/pid" "${STATE}/model-created"
	fi
}

command -v curl >/dev/null || die "curl is not on PATH"
case "${1:-start}" in
start)
	build
	write_model
	start_server
	create_model
	log "ready: ${URL} serves ${MODEL}"
	print_env
	;;
build) build ;;
stop) stop_server ;;
status) answers || exit 1 ;;
env) print_env ;;
*) die "unknown command ${1}; want start, stop, status, build or env" ;;
esac
