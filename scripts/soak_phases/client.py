"""Requests: plain calls, streams read event by event (closed on purpose where asked), bodies and prompts."""
import http.client
import json
import socket
import time

from .common import HOST, REQUEST_TIMEOUT_S

WORDS = ("the river city market winter light stone garden music story morning bridge window mountain "
         "letter train harbor forest question answer engine paper silver village road evening voice "
         "table ocean field number cloud history summer machine school friend island kitchen theory").split()


class Reply:
    """A plain (not streamed) answer."""

    def __init__(self, status, retry_after, body, seconds):
        self.status, self.retry_after, self.body, self.seconds = status, retry_after, body, seconds

    def json(self):
        return json.loads(self.body)


class StreamResult:
    """What one streamed request saw, up to [DONE], an error, or the point where we closed it."""

    def __init__(self):
        self.status = None
        self.retry_after = None
        self.events = 0
        self.done = False  # `data: [DONE]` arrived
        self.finished_choices = 0  # chunks with a finish_reason
        self.finish_reasons = []
        self.completion_tokens = 0  # the last usage seen
        self.error_event = None
        self.disconnected = False  # we closed it before [DONE]
        self.exception = None
        self.seconds = 0.0


def call(server, method, path, body=None, timeout=REQUEST_TIMEOUT_S):
    """One plain request on a fresh connection; counted in the server's tally (a failure after connecting
    as "error")."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
    conn.connect()  # a refused connection (a server not listening yet) never reached it: not counted
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, payload, {"Content-Type": "application/json"} if payload else {})
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException):
        server.count("error")
        raise
    finally:
        conn.close()
    server.count(response.status)
    return Reply(response.status, response.getheader("Retry-After"), data, time.monotonic() - start)


def hard_close(sock):
    """Drops the connection now: shutdown sends the FIN even while the response object still holds the fd."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def stream(server, path, body, close_after_events=None, close_before_end=False, close_before_response=False,
           started=None):
    """One streamed request read event by event; it may close the socket on purpose at a chosen point.

    `started` (a threading.Event) is set at the first event, for a caller that waits for streams to be
    in flight."""
    result = StreamResult()
    start = time.monotonic()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.connect()
    except OSError as e:  # refused: the server never saw it, so it is not counted
        result.exception = f"connect: {type(e).__name__}: {e}"
        return result
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        sock = conn.sock
        if close_before_response:
            hard_close(sock)
            result.disconnected = True
        else:
            response = conn.getresponse()
            result.status = response.status
            result.retry_after = response.getheader("Retry-After")
            if response.status != 200:
                response.read()
            else:
                read_events(response, sock, result, body.get("n", 1), close_after_events, close_before_end, started)
    except (OSError, http.client.HTTPException, ValueError) as e:
        result.exception = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    result.seconds = time.monotonic() - start
    server.count("disconnected" if result.disconnected else "error" if result.exception else result.status)
    return result


def read_events(response, sock, result, n, close_after_events, close_before_end, started):
    """Reads `data:` events into `result` until [DONE] or the end, closing early where asked."""
    for raw in iter(response.readline, b""):
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            result.done = True
            return
        absorb_event(result, json.loads(payload))
        if started is not None:
            started.set()
        if (close_after_events and result.events >= close_after_events) or \
                (close_before_end and result.finished_choices >= n):
            hard_close(sock)
            result.disconnected = True
            return


def absorb_event(result, event):
    """Notes one chunk: its usage (running totals, or the final include_usage chunk), finishes, errors."""
    result.events += 1
    usage = event.get("usage")
    if usage:
        result.completion_tokens = usage.get("completion_tokens", result.completion_tokens)
    error = event.get("error")
    if error:
        result.error_event = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    for choice in event.get("choices") or []:
        if choice.get("finish_reason"):
            result.finished_choices += 1
            result.finish_reasons.append(choice["finish_reason"])


def request_body(chat, prompt, max_tokens, n=1, streamed=False, seed=None, ignore_eos=False):
    """A completion or chat body; streams ask for usage (chat has it only in the include_usage chunk)."""
    body = {"max_tokens": max_tokens, "n": n, "stream": streamed}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if streamed:
        body["stream_options"] = {"include_usage": True}
    if seed is not None:
        body["seed"] = seed
    if ignore_eos:
        body["ignore_eos"] = True
    return body


def path_of(chat):
    """The endpoint of a chat or a completion request."""
    return "/v1/chat/completions" if chat else "/v1/completions"


def random_prompt(rng):
    """Mostly a few words; a third of the time a few hundred (a long prefill next to the decodes)."""
    if rng.random() < 0.3:
        return "Summarize this text: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(200, 400)))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
