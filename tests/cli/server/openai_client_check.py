"""The official `openai` Python client against a running sabre-server: completions and chat, streamed
and not, the model list, and the client's own error classes for a bad field and a wrong key.

    python openai_client_check.py http://127.0.0.1:PORT API_KEY
Prints one line per check and "PASS" at the end; an assertion error or exception fails it.
"""
import sys

import openai

url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)

models = client.models.list()
model = models.data[0].id
assert model == "qwen3_qknorm", model
print("models.list:", model)

completion = client.completions.create(model=model, prompt="What is the capital of Canada?", max_tokens=5,
                                       temperature=0, extra_body={"ignore_eos": True})
assert completion.object == "text_completion"
assert completion.choices[0].finish_reason == "length"
assert completion.usage.completion_tokens == 5 and completion.usage.prompt_tokens == 31, completion.usage
print("completions.create: finish", completion.choices[0].finish_reason, "usage", completion.usage.total_tokens)

pieces, finish = [], None
for chunk in client.completions.create(model=model, prompt=["a", "b"], max_tokens=4, stream=True,
                                       extra_body={"ignore_eos": True}):
    for choice in chunk.choices:
        pieces.append((choice.index, choice.text))
        if choice.finish_reason:
            finish = choice.finish_reason
assert {index for index, _ in pieces} == {0, 1}, pieces
assert finish == "length", finish
print("completions.create(stream=True):", len(pieces), "chunks over 2 choices")

chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello!"}], max_tokens=3,
                                      n=2, extra_body={"ignore_eos": True})
assert chat.object == "chat.completion"
assert len(chat.choices) == 2 and chat.choices[0].message.role == "assistant"
assert chat.usage.completion_tokens == 6, chat.usage
print("chat.completions.create: 2 choices, usage", chat.usage.total_tokens)

roles, content, finish = [], "", None
stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello!"}], max_tokens=4,
                                        stream=True, stream_options={"include_usage": True},
                                        extra_body={"ignore_eos": True})
usage = None
for chunk in stream:
    if chunk.usage and not chunk.choices:
        usage = chunk.usage
    # OpenAI's stream: the usage only in the final chunk, which has no choices.
    assert not chunk.choices or chunk.usage is None, chunk
    for choice in chunk.choices:
        if choice.delta.role:
            roles.append(choice.delta.role)
        content += choice.delta.content or ""
        finish = choice.finish_reason or finish
assert roles == ["assistant"], roles
assert finish == "length", finish
assert usage is not None and usage.completion_tokens == 4, usage
print("chat.completions.create(stream=True): role, content, finish", finish, "include_usage", usage.total_tokens)

try:
    client.completions.create(model=model, prompt="a", max_tokens=-1)
    raise AssertionError("max_tokens -1 was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400 and e.body["param"] == "max_tokens", e.body
    print("BadRequestError:", e.body["message"])

try:
    client.completions.create(model="gpt-4", prompt="a")
    raise AssertionError("another model name was accepted")
except openai.NotFoundError:
    raise AssertionError("model_not_found must be a 400 as in docs/API.md")
except openai.BadRequestError as e:
    assert e.body["code"] == "model_not_found", e.body
    print("unknown model: 400", e.body["code"])

for name, kwargs, param in [
    ("temperature 2.5", {"temperature": 2.5}, "temperature"),
    ("five stop strings", {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ("a tool message without tool_call_id",
     {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "sunny"}]}, "messages[1].tool_call_id"),
    ("tool_choice naming an undeclared function",
     {"tools": [{"type": "function", "function": {"name": "f"}}],
      "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice.function.name"),
]:
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **kwargs}
    try:
        client.chat.completions.create(**request)
        raise AssertionError(name + " was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == param, (name, e.body)
        print(name + ": 400 naming", param)

wrong = openai.OpenAI(base_url=url + "/v1", api_key="WRONG", max_retries=0)
try:
    wrong.models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401
    print("AuthenticationError: 401")

print("PASS")
