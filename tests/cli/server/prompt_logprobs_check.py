"""Prompt logprobs against a running sabre-server on the tiny qwen3_qknorm fixture, through the official
`openai` client, compared with transformers: golden_logits.f32 (made by make_tiny_models.py) holds HF's
logits at every position of the fixture's prompt + greedy continuation, so the log-probability of
prompt token i is log_softmax(row i - 1)[token i]. Checks echo + logprobs (streamed and not) and vLLM's
prompt_logprobs on both endpoints.

    python prompt_logprobs_check.py http://127.0.0.1:PORT API_KEY MODELS_DIR

Prints what it compared and "PASS" at the end.
"""
import array
import json
import math
import sys

import openai

url, key, models = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)
model = client.models.list().data[0].id
TOLERANCE = 2e-3

golden = json.load(open(f"{models}/qwen3_qknorm/golden.json"))
vocab = golden["vocab_size"]
logits = array.array("f")
with open(f"{models}/qwen3_qknorm/golden_logits.f32", "rb") as f:
    logits.frombytes(f.read())
sequence = golden["prompt_ids"] + golden["greedy_ids"][:-1]


def reference(i):
    """log_softmax of HF's logits at position i - 1: the distribution prompt token i was drawn from."""
    row = logits[(i - 1) * vocab:i * vocab]
    top = max(row)
    log_sum = top + math.log(sum(math.exp(x - top) for x in row))
    return [x - log_sum for x in row]


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def near(a, b):
    return a is not None and abs(a - b) < TOLERANCE


# echo + logprobs, not streamed: the prompt's tokens come first, the first with null.
done = client.completions.create(model=model, prompt=sequence, max_tokens=1, temperature=0, echo=True, logprobs=3,
                                 extra_body={"return_tokens_as_token_ids": True})
lp = done.choices[0].logprobs
if len(lp.tokens) != len(sequence) + 1:
    fail(f"echo: {len(lp.tokens)} tokens for a {len(sequence)}-token prompt and 1 generated")
if lp.token_logprobs[0] is not None or lp.top_logprobs[0] is not None:
    fail("echo: the first prompt token has a log-probability")
worst = 0.0
for i in range(1, len(sequence)):
    ref = reference(i)
    if lp.tokens[i] != f"token_id:{sequence[i]}":
        fail(f"echo: token {i} is {lp.tokens[i]}, not token_id:{sequence[i]}")
    if not near(lp.token_logprobs[i], ref[sequence[i]]):
        fail(f"echo: token {i}: {lp.token_logprobs[i]} against transformers' {ref[sequence[i]]}")
    worst = max(worst, abs(lp.token_logprobs[i] - ref[sequence[i]]))
    best = sorted(range(vocab), key=lambda t: -ref[t])[:3]
    for t in best:
        got = lp.top_logprobs[i].get(f"token_id:{t}")
        if got is not None and not near(got, ref[t]):
            fail(f"echo: alternative {t} at {i}: {got} against {ref[t]}")
    if len(lp.top_logprobs[i]) < 3:
        fail(f"echo: {len(lp.top_logprobs[i])} alternatives at {i}")
print(f"echo + logprobs: {len(sequence) - 1} prompt tokens within {worst:.2e} of transformers")

# max_tokens 0 with echo: the prompt alone, scored (OpenAI's original way to score text).
alone = client.completions.create(model=model, prompt=sequence, max_tokens=0, echo=True, logprobs=0)
if len(alone.choices[0].logprobs.token_logprobs) != len(sequence) or alone.usage.completion_tokens != 0:
    fail(f"max_tokens 0: {len(alone.choices[0].logprobs.token_logprobs)} log-probabilities, "
         f"{alone.usage.completion_tokens} completion tokens")
if any(not near(alone.choices[0].logprobs.token_logprobs[i], reference(i)[sequence[i]]) for i in range(1, len(sequence))):
    fail("max_tokens 0: the prompt's log-probabilities differ from transformers'")
print(f"echo + max_tokens 0: the prompt alone, {len(sequence)} tokens, 0 completion tokens")

# The same streamed: the echo chunk carries the prompt's scores.
stream = client.completions.create(model=model, prompt=sequence, max_tokens=2, temperature=0, echo=True, logprobs=0,
                                   stream=True)
streamed = []
for chunk in stream:
    for choice in chunk.choices:
        if choice.logprobs:
            streamed += choice.logprobs.token_logprobs
if len(streamed) != len(sequence) + 2 or streamed[0] is not None:
    fail(f"echo stream: {len(streamed)} log-probabilities, the first {streamed[:1]}")
for i in range(1, len(sequence)):
    if not near(streamed[i], reference(i)[sequence[i]]):
        fail(f"echo stream: token {i}: {streamed[i]}")
print(f"echo + logprobs streamed: {len(sequence) - 1} prompt tokens match")

# vLLM's prompt_logprobs on completions: rank and alternatives.
done = client.completions.create(model=model, prompt=sequence, max_tokens=1, temperature=0,
                                 extra_body={"prompt_logprobs": 2})
scores = done.model_extra.get("choices", [{}])[0].get("prompt_logprobs") if done.model_extra else None
if scores is None:
    scores = getattr(done.choices[0], "prompt_logprobs", None)
if scores is None or len(scores) != len(sequence) or scores[0] is not None:
    fail(f"prompt_logprobs: {scores!r:.300}")
for i in range(1, len(sequence)):
    ref = reference(i)
    entry = scores[i].get(str(sequence[i]))
    if entry is None or not near(entry["logprob"], ref[sequence[i]]):
        fail(f"prompt_logprobs: token {i}: {scores[i]}")
    rank = 1 + sum(1 for x in ref if x > ref[sequence[i]] + TOLERANCE)
    if abs(entry["rank"] - rank) > sum(1 for x in ref if abs(x - ref[sequence[i]]) <= TOLERANCE):
        fail(f"prompt_logprobs: token {i} has rank {entry['rank']}, transformers {rank}")
    if len(scores[i]) < 2:
        fail(f"prompt_logprobs: {len(scores[i])} entries at {i}")
print(f"prompt_logprobs (completions): {len(sequence) - 1} tokens with ranks match")

# And on chat: one list for the rendered prompt.
chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi there"}], max_tokens=1,
                                      extra_body={"prompt_logprobs": 0})
chat_scores = chat.model_extra.get("prompt_logprobs")
if chat_scores is None or len(chat_scores) != chat.usage.prompt_tokens or chat_scores[0] is not None:
    fail(f"chat prompt_logprobs: {chat_scores!r:.300} for {chat.usage.prompt_tokens} prompt tokens")
if any(len(entry) != 1 or next(iter(entry.values()))["logprob"] > 0 for entry in chat_scores[1:]):
    fail(f"chat prompt_logprobs: entries {chat_scores[1:3]}")
print(f"prompt_logprobs (chat): {len(chat_scores)} entries for {chat.usage.prompt_tokens} prompt tokens")

# Streamed prompt_logprobs is refused by name.
try:
    client.completions.create(model=model, prompt=sequence, max_tokens=1, stream=True, extra_body={"prompt_logprobs": 1})
    fail("prompt_logprobs with stream was accepted")
except openai.BadRequestError as e:
    if "prompt_logprobs" not in str(e):
        fail(f"the refusal does not name prompt_logprobs: {e}")
print("prompt_logprobs with stream: 400 naming the field")
print("PASS")
