"""Guided decoding against a running sabre-server, checked by independent validators: random JSON Schemas
(validated with Python's `jsonschema`) and random regular expressions (Python's `re.fullmatch`), sampled at
temperature 1 through the official `openai` client, on both endpoints, streamed and not.

    python guided_check.py http://127.0.0.1:PORT API_KEY [COUNT]

Every output that finished with "stop" must be valid; an output cut by max_tokens ("length") is not
judged, but most outputs must finish. Prints one line per kind and "PASS" at the end.
"""
import concurrent.futures
import json
import random
import re
import sys

import jsonschema
import openai

url, key = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 100
client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=300)
model = client.models.list().data[0].id
rng = random.Random(20261207)

WORDS = ["alpha", "beta", "x", "long name", "é", "quote\"d", "back\\slash"]


def random_schema(depth=0):
    """A schema whose valid documents are short: bounded strings, arrays and numbers."""
    kinds = ["string", "integer", "boolean", "null", "enum", "const", "pattern", "format", "number"]
    if depth < 2:
        kinds += ["object", "object", "array", "anyOf", "nullable"]
    kind = rng.choice(kinds)
    if kind == "string":
        lo = rng.randint(0, 3)
        return {"type": "string", "minLength": lo, "maxLength": lo + rng.randint(0, 5)}
    if kind == "integer":
        lo = rng.randint(-50, 50)
        return {"type": "integer", "minimum": lo, "maximum": lo + rng.randint(0, 200)}
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "null":
        return {"type": "null"}
    if kind == "enum":
        return {"enum": rng.sample(WORDS + [1, 2.5, None, True], rng.randint(1, 4))}
    if kind == "const":
        return {"const": rng.choice(WORDS + [7, {"k": [1, "v"]}])}
    if kind == "pattern":
        return {"type": "string", "pattern": "^" + random_regex(depth=1) + "$"}
    if kind == "format":
        return {"type": "string", "format": rng.choice(["date", "time", "date-time", "uuid", "ipv4"])}
    if kind == "object":
        names = rng.sample(["id", "name", "value", "items", "ok", "nested"], rng.randint(0, 4))
        props = {n: random_schema(depth + 1) for n in names}
        schema = {"type": "object", "properties": props, "required": rng.sample(names, rng.randint(0, len(names)))}
        if rng.random() < 0.3:
            schema["additionalProperties"] = False
        return schema
    if kind == "array":
        lo = rng.randint(0, 2)
        return {"type": "array", "items": random_schema(depth + 1), "minItems": lo, "maxItems": lo + rng.randint(0, 2)}
    if kind == "anyOf":
        return {"anyOf": [random_schema(depth + 1) for _ in range(rng.randint(1, 3))]}
    inner = random_schema(depth + 1)
    if inner.get("type") == "null":
        return inner
    if "type" in inner and isinstance(inner["type"], str):
        inner["type"] = [inner["type"], "null"]
        return inner
    return {"anyOf": [inner, {"type": "null"}]}


def random_regex(depth=0):
    """A regular expression in the syntax both Python's re and Sabre read, matching short strings."""
    atoms = ["a", "b", "\\d", "[a-c]", "[^a-z\\n]", "\\.", "x", "é", "[0-9a-f]", "\\w", "\\s"]
    parts = []
    for _ in range(rng.randint(1, 4)):
        if depth < 2 and rng.random() < 0.25:
            atom = "(" + "|".join(random_regex(depth + 1) for _ in range(rng.randint(1, 3))) + ")"
        else:
            atom = rng.choice(atoms)
        quantifier = rng.choice(["", "", "?", "{2}", "{1,3}", "+", "*"])
        if quantifier in ("+", "*") and depth > 0:
            quantifier = "{0,2}"
        parts.append(atom + quantifier)
    return "".join(parts)


def run(index):
    chat = index % 2 == 0
    stream = index % 5 == 0
    if index % 2 == 0 or index % 3 == 0:
        schema = random_schema()
        body = {"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}} \
            if chat else {"guided_json": schema}
        check = ("schema", schema)
    else:
        pattern = random_regex()
        body = {"guided_regex": pattern}
        check = ("regex", pattern)
    common = dict(model=model, max_tokens=200, temperature=1.0, seed=index, extra_body=body if check[0] == "regex" or not chat else {})
    if chat and check[0] == "schema":
        common["response_format"] = body["response_format"]
    if chat:
        if stream:
            text, finish = "", None
            for chunk in client.chat.completions.create(messages=[{"role": "user", "content": "Answer."}], stream=True,
                                                        **common):
                for choice in chunk.choices:
                    text += choice.delta.content or ""
                    finish = choice.finish_reason or finish
        else:
            reply = client.chat.completions.create(messages=[{"role": "user", "content": "Answer."}], **common)
            text, finish = reply.choices[0].message.content, reply.choices[0].finish_reason
    else:
        if stream:
            text, finish = "", None
            for chunk in client.completions.create(prompt="Answer:", stream=True, **common):
                for choice in chunk.choices:
                    text += choice.text
                    finish = choice.finish_reason or finish
        else:
            reply = client.completions.create(prompt="Answer:", **common)
            text, finish = reply.choices[0].text, reply.choices[0].finish_reason
    return check, text, finish


results = {"schema": [0, 0], "regex": [0, 0]}  # finished, cut by max_tokens
with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
    for (kind, spec), text, finish in pool.map(run, range(count)):
        if finish == "length":
            results[kind][1] += 1
            continue
        assert finish == "stop", (kind, spec, text, finish)
        if kind == "schema":
            try:
                jsonschema.validate(json.loads(text), spec)
            except Exception as e:  # noqa: BLE001 - any failure is a wrong output
                raise AssertionError(f"schema {json.dumps(spec)}: output {text!r} is not valid: {e}")
        else:
            assert re.fullmatch(spec, text), f"regex {spec!r}: output {text!r} does not match"
        results[kind][0] += 1
# Tool calls forced by tool_choice "required" or a named function, streamed and not: every call names a
# declared function and its arguments satisfy the function's parameters.
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 8},
                                         "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "days"]}}},
    {"type": "function", "function": {"name": "now"}},
]
PARAMETERS = {t["function"]["name"]: t["function"].get("parameters", {"type": "object", "properties": {},
                                                                        "additionalProperties": False})
              for t in TOOLS}


def tool_run(index):
    choice = "required" if index % 2 == 0 else {"type": "function", "function": {"name": "get_weather"}}
    stream = index % 4 >= 2
    parallel = index % 3 != 0
    args = dict(model=model, messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS, tool_choice=choice,
                temperature=1.0, max_tokens=200, seed=1000 + index, parallel_tool_calls=parallel)
    if not stream:
        reply = client.chat.completions.create(**args)
        message = reply.choices[0].message
        calls = [(c.id, c.function.name, c.function.arguments) for c in (message.tool_calls or [])]
        return choice, parallel, calls, reply.choices[0].finish_reason, message.content
    pieces, finish, content = {}, None, ""
    for chunk in client.chat.completions.create(stream=True, **args):
        for c in chunk.choices:
            content += c.delta.content or ""
            finish = c.finish_reason or finish
            for call in c.delta.tool_calls or []:
                entry = pieces.setdefault(call.index, ["", "", ""])
                entry[0] += call.id or ""
                entry[1] += call.function.name or ""
                entry[2] += call.function.arguments or ""
    return choice, parallel, [tuple(pieces[i]) for i in sorted(pieces)], finish, content or None


called = cut_calls = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
    for choice, parallel, calls, finish, content in pool.map(tool_run, range(32)):
        if finish == "length":
            cut_calls += 1
            continue
        assert finish == "tool_calls", (choice, calls, finish, content)
        assert calls and content is None, (calls, content)
        assert parallel or len(calls) == 1, ("parallel_tool_calls false", calls)
        for call_id, name, arguments in calls:
            assert call_id.startswith("call_"), call_id
            assert name in PARAMETERS, name
            if choice != "required":
                assert name == "get_weather", name
            jsonschema.validate(json.loads(arguments), PARAMETERS[name])
        called += 1
print(f"tool calls: {called} forced calls valid, {cut_calls} cut by max_tokens")
assert called >= 12, "too few forced calls finished for the check to mean much"

for kind, (done, cut) in results.items():
    print(f"{kind}: {done} finished outputs valid, {cut} cut by max_tokens")
    assert done >= 3 * cut, f"{kind}: too many outputs cut by max_tokens for the check to mean much"
print("PASS")
