#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/ (committed; rerun after editing).

Standard library only. Seeds are small, valid inputs of each format (a GGUF and a safetensors file built
here, HTTP requests, OpenAI request bodies, texts, the fixture chat templates and config.json files), so
that the fuzzers start from deep inside each parser instead of from its first byte.
"""
import json
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


# ---- GGUF ----
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)


def gguf_string(text):
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def gguf_value(kind, value):
    if kind == STRING:
        return gguf_string(value)
    if kind == ARRAY:
        element, items = value
        return struct.pack("<IQ", element, len(items)) + b"".join(gguf_value(element, v) for v in items)
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q",
           F64: "d"}[kind]
    return struct.pack("<" + fmt, value)


def f16(x):
    return struct.pack("<e", x)


def gguf_file(metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, dims innermost first, ggml type, data bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    offset = 0
    offsets = []
    for name, dims, ggml_type, data in tensors:
        offsets.append(offset)
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += b"\0" * ((-len(out)) % alignment)
    for (_, _, _, data), at in zip(tensors, offsets):
        out += data + b"\0" * ((-len(data)) % alignment)
    return out


def tiny_gguf():
    tokens = ["<s>", "</s>", "a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġa", "d", "e", "f", "de", "ef", "def"]
    metadata = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "fuzz seed"),
        ("general.alignment", U32, 32),
        ("llama.block_count", U32, 1),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, 32),
        ("llama.feed_forward_length", U32, 64),
        ("llama.attention.head_count", U32, 2),
        ("llama.attention.head_count_kv", U32, 1),
        ("llama.rope.freq_base", F32, 10000.0),
        ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("llama.vocab_size", U32, len(tokens)),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.pre", STRING, "smollm"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3] + [1] * (len(tokens) - 2))),
        ("tokenizer.ggml.merges", ARRAY, (STRING, ["a b", "b c", "a bc", "Ġ a", "d e", "e f", "d ef"])),
        ("tokenizer.ggml.bos_token_id", U32, 0),
        ("tokenizer.ggml.eos_token_id", U32, 1),
        ("tokenizer.chat_template", STRING, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"),
    ]
    embd = b"".join(struct.pack("<f", (i % 7) / 7.0) for i in range(32 * len(tokens)))
    q8_0 = b"".join(f16(0.5) + bytes((i * 7 + r) % 256 for i in range(32)) for r in range(4))  # 4 rows of 32
    q4_k = f16(0.25) + f16(0.125) + bytes(range(12)) + bytes((i * 13) % 256 for i in range(128))  # one 256-block
    tensors = [
        ("token_embd.weight", [32, len(tokens)], 0, embd),
        ("blk.0.attn_q.weight", [32, 4], 8, q8_0),
        ("blk.0.ffn_down.weight", [256, 1], 12, q4_k),
        ("output_norm.weight", [32], 0, struct.pack("<32f", *([1.0] * 32))),
    ]
    return gguf_file(metadata, tensors)


# ---- safetensors ----
def safetensors_file(tensors, metadata=None):
    header = {}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)

    write("fuzz_gguf", "tiny_llama.gguf", tiny_gguf())
    write("fuzz_gguf", "empty_v3.gguf", gguf_file([], []))

    write("fuzz_safetensors", "two_tensors.safetensors", safetensors_file([
        ("model.embed_tokens.weight", "F32", [2, 4], struct.pack("<8f", *range(8))),
        ("model.norm.weight", "BF16", [4], bytes(8)),
        ("lm_head.qweight", "I32", [1, 2], struct.pack("<2i", 7, -7)),
    ], {"format": "pt"}))
    write("fuzz_safetensors", "empty.safetensors", safetensors_file([]))

    http = {
        "get_health": b"\0GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "pipelined_in_pieces": b"\x07GET /health HTTP/1.1\r\nHost: a\r\n\r\nHEAD /v1/models HTTP/1.1\r\nHost: a\r\n\r\n",
        "post_content_length": b"\0POST /v1/completions HTTP/1.1\r\nHost: [::1]:8081\r\nContent-Length: 15\r\n"
                               b"Authorization: Bearer k\r\n\r\n{\"prompt\":\"hi\"}",
        "post_chunked": b"\x03POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n",
        "http10_no_host": b"\0GET /metrics HTTP/1.0\r\n\r\n",
        "expect_continue": b"\0POST /tokenize HTTP/1.1\r\nHost: h:1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        # Found by the fuzzer: an empty chunked body fed a byte at a time trips Boost 1.74's Beast assert.
        "chunked_byte_by_byte": b"\x01POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    }
    for name, data in http.items():
        write("fuzz_http_request", name, data)

    bodies = [
        (0, {"prompt": "Hello", "max_tokens": 4, "temperature": 0.7, "stop": ["\n"], "logprobs": 2, "stream": True,
             "stream_options": {"include_usage": True}, "logit_bias": {"5": -1}}),
        (0, {"prompt": [[1, 2, 3], [4]], "n": 2, "echo": True, "seed": 7, "top_k": -1}),
        (0, {"prompt": ["a", "b"], "response_format": {"type": "text"}, "min_tokens": 1, "max_tokens": 3}),
        (1, {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
             "max_completion_tokens": 8, "logprobs": True, "top_logprobs": 3}),
        (1, {"messages": [{"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                          {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                                "function": {"name": "w", "arguments": "{}"}}]},
                          {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
             "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
             "tool_choice": "auto", "chat_template_kwargs": {"enable_thinking": False}}),
        (2, {"prompt": "Hello world", "add_special_tokens": True, "return_token_strs": True}),
        (2, {"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": True}),
        (3, {"tokens": [9707, 1879]}),
        (0, {"prompt": "x", "guided_json": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}},
                                            "required": ["a"]}}),
        (1, {"messages": [{"role": "user", "content": "x"}], "guided_regex": "[a-c]{2,4}\\d"}),
        (1, {"messages": [{"role": "user", "content": "x"}],
             "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object",
                        "properties": {"city": {"type": "string"}}}}}], "tool_choice": "required"}),
        (0, {"prompt": "x", "structured_outputs": {"grammar": "root ::= \"a\" [0-9]+"}}),
    ]
    for i, (endpoint, body) in enumerate(bodies):
        write("fuzz_openai_request", f"body_{i}", bytes([endpoint]) + json.dumps(body).encode("utf-8"))

    texts = ["Hello world", "Héllo wörld — 東京 is big. 🚀 Done<|im_end|>", "  leading and trailing  ",
             "def f(x):\n\treturn x ** 2\n", "e\u0301 (decomposed) and \u00e9 (composed)", "<|im_start|>user\nhi"]
    for i, text in enumerate(texts):
        write("fuzz_tokenizer", f"text_{i}", text)

    chat = ROOT / "tests/fixtures/chat"
    for family in ["qwen3", "llama3_1", "smollm2"]:
        config = json.loads((chat / family / "tokenizer_config.json").read_text())
        template = config["chat_template"]
        if isinstance(template, list):
            template = template[0]["template"]
        write("fuzz_chat_template", family + ".jinja", template)
    snippets = [
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
        "{{ messages | map(attribute='role') | join(', ') }}{{ tools | tojson(indent=2) }}",
        "{% macro f(x) %}[{{ x | upper }}]{% endmacro %}{{ f('a') }}{{ '%5.2f' % 3.14159 }}{{ '{:>6}'.format('x') }}",
        "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{{ raise_exception('no') if false }}",
        # Found by the fuzzer: signed overflow in **, and an index past int64 escaping as std::out_of_range.
        "{{ 5555555555 ** 5555555555 }}{{ messages.99999999999999999999 }}",
    ]
    for i, text in enumerate(snippets):
        write("fuzz_chat_template", f"snippet_{i}.jinja", text)

    # fuzz_guided: the first byte picks the kind (0 JSON Schema, 1 regex, 2 GBNF, 3 choice list, 4 any object).
    constraints = [
        (0, json.dumps({"type": "object", "properties": {"name": {"type": "string", "maxLength": 5},
                        "tags": {"type": "array", "items": {"enum": ["a", 1, None]}, "maxItems": 2},
                        "n": {"type": "integer", "minimum": -20, "maximum": 300}}, "required": ["name"],
                        "$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}, {"type": "null"}]}}})),
        (0, json.dumps({"type": "string", "pattern": "^[A-Z]{2}-\\d+$", "format": "date"})),
        (1, "(a|b)*c{2,3}[^x-z]\\d+\\.?(?:é|ü)?"),
        (2, 'root ::= item ("," item)*\nitem ::= [a-z]+ | "\\"" [^"]* "\\""\n'),
        (3, json.dumps(["yes", "no", "maybe"])),
        (4, '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>'),
        # Found by the fuzzer: an empty <tool_call> block at the end handed simdjson a null pointer.
        (1, "t\x00(a|b)*c<t<tool_call>"),
        # Found by the fuzzer: a JSON call cut after a backslash made the Llama 3 reader read past the end.
        (4, '{"name": "a\\'),
    ]
    for i, (kind, text) in enumerate(constraints):
        write("fuzz_guided", f"constraint_{i}", bytes([kind]) + text.encode("utf-8"))

    for model in ["qwen3_qknorm", "llama_rope_llama3", "qwen2_bias"]:
        write("fuzz_model_config", model + ".json", (ROOT / "tests/fixtures/models" / model / "config.json").read_text())
    write("fuzz_model_config", "generation_config.json", json.dumps({"eos_token_id": [1, 2], "temperature": 0.6}))


if __name__ == "__main__":
    main()
