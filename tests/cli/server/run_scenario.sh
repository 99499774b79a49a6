#!/bin/sh
# Starts the real sabre-server on a free port of 127.0.0.1 (tiny fixture model, API key TOKEN), runs one
# scenario against it with curl, stops it with SIGINT and checks that it exits 0. Prints "PASS" at the
# end when every check held; any failed check prints why and exits 1.
#   run_scenario.sh SERVER MODELS_DIR SCENARIO
set -u
server=$1 models=$2 scenario=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- server log:"; cat "$work/server.log"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; exit 1; }

extra=
[ "$scenario" = overloaded ] && extra="--max-num-seqs 1 --max-waiting 1"
# engine_failure: rank 0 fails its third step as a device error would (fault injection for tests).
if [ "$scenario" = engine_failure ]; then SABRE_FAULT_INJECT_RANK_STEP=3; export SABRE_FAULT_INJECT_RANK_STEP; fi
# tp_rank_failure / tp_restart: the model on two ranks, rank 1 fails its third step; the engine stops, or
# loads its ranks again.
case $scenario in
  tp_rank_failure) extra="--tp 2"; SABRE_FAULT_INJECT_RANK_STEP=1:3; export SABRE_FAULT_INJECT_RANK_STEP ;;
  tp_restart) extra="--tp 2 --on-rank-failure restart"; SABRE_FAULT_INJECT_RANK_STEP=1:3
    export SABRE_FAULT_INJECT_RANK_STEP ;;
  # draft_model: BladeLLM's spelling of speculative decoding with a draft model (the target drafting
  # for itself).
  draft_model) extra="--decode_algo sps --draft.model $models/qwen3_qknorm --gamma 3" ;;
esac
# shellcheck disable=SC2086
"$server" --model "$models/qwen3_qknorm" --tokenizer "$models/byte_tokenizer" --host 127.0.0.1 --port 0 \
  --threads 1 --kv-cache-memory 64MiB --api-key TOKEN $extra >"$work/server.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/server.log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited during start-up"
  sleep 0.1
done
[ -n "$port" ] || fail "the server did not log its address"
url=http://127.0.0.1:$port

case $scenario in
  seed_curl)
    # The seed deployment's call, verbatim but for the port.
    curl -H "Authorization: TOKEN" -d '{"prompt":"What is the capital of Canada?", "stream":"true"}' \
      http://127.0.0.1:$port/v1/completions >"$work/out" 2>/dev/null || fail "curl failed"
    grep -q '^data: {"id":"cmpl-[0-9a-f]*","choices":\[{"finish_reason":"","index":0,"logprobs":null,"text":' "$work/out" \
      || fail "no BladeLLM chunk in: $(head -c 400 "$work/out")"
    grep -q '"finish_reason":"\(stop\|length\)","index":0,"logprobs":null,"text":""}\],"object":"text_completion"' "$work/out" \
      || fail "no final chunk in: $(tail -c 400 "$work/out")"
    [ "$(tail -n 2 "$work/out" | head -n 1)" = "data: [DONE]" ] || fail "the stream does not end with [DONE]"
    echo "seed curl: $(grep -c '^data: ' "$work/out") events, [DONE] last"
    ;;
  auth)
    code=$(curl -s -o "$work/out" -w '%{http_code}' -d '{"prompt":"hi"}' "$url/v1/completions")
    [ "$code" = 401 ] || fail "no key: status $code"
    grep -q '"type":"authentication_error"' "$work/out" || fail "no error object: $(cat "$work/out")"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: WRONG" "$url/v1/models")
    [ "$code" = 401 ] || fail "wrong key: status $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer TOKEN" "$url/v1/models")
    [ "$code" = 200 ] || fail "Bearer key: status $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health")
    [ "$code" = 200 ] || fail "/health without a key: status $code"
    echo "auth: 401 without or with a wrong key, 200 with it, /health open"
    ;;
  sigint_mid_stream)
    # A long stream (64 samples x 200 tokens) is running when SIGINT arrives: it must still end properly.
    curl -s -N -H "Authorization: TOKEN" \
      -d '{"prompt":"Hi","stream":true,"max_tokens":200,"ignore_eos":true,"n":64}' "$url/v1/completions" \
      >"$work/out" 2>&1 &
    curl_pid=$!
    for _ in $(seq 1 100); do [ -s "$work/out" ] && break; sleep 0.02; done
    [ -s "$work/out" ] || fail "the stream did not start"
    kill -INT "$pid"
    wait "$curl_pid" || fail "curl failed: the stream was cut"
    grep -q '"finish_reason":"abort"' "$work/out" || fail "no abort final chunk: $(tail -c 400 "$work/out")"
    [ "$(tail -n 2 "$work/out" | head -n 1)" = "data: [DONE]" ] || fail "the stream does not end with [DONE]"
    echo "SIGINT mid-stream: $(grep -c '"finish_reason":"abort"' "$work/out") samples ended with abort, then [DONE]"
    ;;
  overloaded)
    # One running sequence and one waiting place: of twelve long streams at once, some must get a 503.
    curls=
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
      curl -s -o "$work/body$i" -D "$work/head$i" -H "Authorization: TOKEN" \
        -d '{"prompt":"Hi","stream":true,"max_tokens":250,"ignore_eos":true}' "$url/v1/completions" &
      curls="$curls $!"
    done
    for c in $curls; do wait "$c"; done  # not a bare wait: the server is a child too
    busy=$(grep -l '^HTTP/1.1 503' "$work"/head* | wc -l)
    ok=$(grep -l '^HTTP/1.1 200' "$work"/head* | wc -l)
    [ "$busy" -ge 1 ] || fail "no 503 among twelve concurrent requests"
    [ "$ok" -ge 1 ] || fail "no request was served"
    for f in $(grep -l '^HTTP/1.1 503' "$work"/head*); do
      grep -q '^Retry-After: 1' "$f" || fail "a 503 without Retry-After"
    done
    grep -l '"code":"server_overloaded"' "$work"/body* >/dev/null || fail "no server_overloaded error object"
    echo "overloaded: $busy x 503 with Retry-After, $ok x 200"
    ;;
  engine_failure|tp_rank_failure)
    # The stream running when the rank fails ends with an error event and [DONE]; the server then stops
    # by itself, exits 1, and says why.
    curl -s -N -H "Authorization: TOKEN" -d '{"prompt":"Hi","stream":true,"max_tokens":50,"ignore_eos":true}' \
      "$url/v1/completions" >"$work/out" 2>&1 || fail "curl failed"
    # Internal causes stay in the server's log; the client sees an internal_error.
    grep -q '"type":"internal_error"' "$work/out" || fail "no internal_error event: $(tail -c 400 "$work/out")"
    [ "$(tail -n 2 "$work/out" | head -n 1)" = "data: [DONE]" ] || fail "the stream does not end with [DONE]"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "the server still runs 10 s after its engine stopped"
    wait "$pid"
    status=$?
    [ "$status" = 1 ] || fail "the server exited with $status after its engine stopped, expected 1"
    grep -q "fault injected at step 3" "$work/server.log" || fail "the log does not name the cause"
    grep -q "the engine stopped" "$work/server.log" || fail "the log does not say the engine stopped"
    echo "engine failure: error event and [DONE] to the client, server exit status 1"
    echo PASS
    exit 0
    ;;
  tp_restart)
    # The stream running when rank 1 fails ends with an error and [DONE]; the server keeps running,
    # answers 503 while its ranks load again, then serves.
    curl -s -N -H "Authorization: TOKEN" -d '{"prompt":"Hi","stream":true,"max_tokens":50,"ignore_eos":true}' \
      "$url/v1/completions" >"$work/out" 2>&1 || fail "curl failed"
    grep -q '"type":"internal_error"' "$work/out" || fail "no internal_error event: $(tail -c 400 "$work/out")"
    [ "$(tail -n 2 "$work/out" | head -n 1)" = "data: [DONE]" ] || fail "the stream does not end with [DONE]"
    code=
    # Waits for the restart as long as a hang would take to notice (a loaded machine reloads slowly).
    for _ in $(seq 1 1200); do
      code=$(curl -s -o "$work/out" -w '%{http_code}' -H "Authorization: TOKEN" \
        -d '{"prompt":"Hi","max_tokens":8,"ignore_eos":true}' "$url/v1/completions")
      [ "$code" = 200 ] && break
      [ "$code" = 503 ] || fail "status $code while restarting: $(cat "$work/out")"
      sleep 0.05
    done
    [ "$code" = 200 ] || fail "no completion after the restart: status $code"
    grep -q '"completion_tokens":8' "$work/out" || fail "no 8-token completion: $(cat "$work/out")"
    grep -q "ranks restarted" "$work/server.log" || fail "the log does not say the ranks restarted"
    echo "rank failure with restart: error event to the running stream, then 200 with 8 tokens"
    ;;
  draft_model)
    grep -q "engine: draft model .*qwen3_qknorm .* proposing up to 3 tokens" "$work/server.log" \
      || fail "no draft model line in the start-up log"
    body='{"prompt":"Hello there","max_tokens":24,"temperature":0,"ignore_eos":true}'
    code=$(curl -s -o "$work/out" -w '%{http_code}' -H "Authorization: TOKEN" -d "$body" "$url/v1/completions")
    [ "$code" = 200 ] || fail "completion: status $code: $(cat "$work/out")"
    grep -q '"completion_tokens":24' "$work/out" || fail "not 24 tokens: $(cat "$work/out")"
    curl -s "$url/metrics" >"$work/metrics"
    proposed=$(sed -n 's/^sabre:spec_decode_num_draft_tokens_total{[^}]*} \([0-9]*\).*/\1/p' "$work/metrics")
    [ -n "$proposed" ] && [ "$proposed" -gt 0 ] || fail "no proposed tokens on /metrics"
    grep -q "spec=[0-9]*/[0-9]*" "$work/server.log" || fail "no spec= in the access log"
    echo "draft model: 24 tokens, $proposed proposed by the draft, spec= in the access log"
    ;;
  openai_client)
    # OPENAI_PYTHON: a Python interpreter that can import openai (tests/cli/server.cmake finds one).
    "$OPENAI_PYTHON" "$(dirname "$0")/openai_client_check.py" "$url" TOKEN >"$work/out" 2>&1 \
      || fail "the openai client check failed: $(cat "$work/out")"
    grep -v '^PASS$' "$work/out"
    ;;
  guided)
    # Random JSON Schemas and regexes at temperature 1, checked by Python's jsonschema and re.
    "$OPENAI_PYTHON" "$(dirname "$0")/guided_check.py" "$url" TOKEN 300 >"$work/out" 2>&1 \
      || fail "the guided decoding check failed: $(tail -c 3000 "$work/out")"
    grep -v '^PASS$' "$work/out"
    ;;
  prompt_logprobs)
    # echo + logprobs and vLLM's prompt_logprobs against transformers' logits of the fixture.
    "$OPENAI_PYTHON" "$(dirname "$0")/prompt_logprobs_check.py" "$url" TOKEN "$models" >"$work/out" 2>&1 \
      || fail "the prompt logprobs check failed: $(tail -c 3000 "$work/out")"
    grep -v '^PASS$' "$work/out"
    ;;
  *) fail "unknown scenario $scenario" ;;
esac

kill -INT "$pid" 2>/dev/null
wait "$pid"
status=$?
[ "$status" = 0 ] || fail "the server exited with $status after SIGINT"
grep -q "SIGINT: shutting down" "$work/server.log" || fail "no shutdown line in the log"
echo "server exit status 0"
echo PASS
