#!/usr/bin/env python3
"""Calls llm-orchestrator from Python through stubs generated from proto/ (see generate.sh).

Usage:
  python3 client.py ADDRESS chat   PROMPT [--model M]
  python3 client.py ADDRESS stream PROMPT [--model M] [--json]
  python3 client.py ADDRESS race   PROMPT [--models a,b,...]

Options for every command: --temperature T, --max-tokens N, --timeout SECONDS (the call's
deadline, default 30), --request-id ID (sent as x-request-id metadata; a fresh one otherwise),
--retries N (chat: retry UNAVAILABLE / RESOURCE_EXHAUSTED after the delay RetryInfo gives),
--json (print the response as proto JSON; for stream, one JSON object per event and line).
--api-key KEY (default $LLMO_API_KEY) is sent as "authorization: Bearer KEY". TLS: --ca-file
trusts that CA (else --tls trusts the system's roots); --cert-file and --key-file present a
client certificate (mTLS).

Exit status: 0 on success, 1 when the call failed (the gRPC code, message and the
google.rpc.ErrorInfo reason are printed on stderr), 2 for a usage error.

Needs grpcio and protobuf. On Debian: apt-get install -y python3-grpcio (and use
/usr/bin/python3, which sees Debian's packages).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

# The generated modules must not leave __pycache__ folders next to the committed stubs.
sys.dont_write_bytecode = True
# The stubs: the installed package llm-orchestrator-client (pip install ./clients/python), else
# its sources in this checkout; google.rpc from googleapis-common-protos, else the copy in gen/
# (Debian ships no googleapis-common-protos). LLMO_PY_PATH puts other trees first (os.pathsep-separated).
_here = Path(__file__).resolve().parent
for _path in reversed(os.environ.get("LLMO_PY_PATH", "").split(os.pathsep)):
    if _path:
        sys.path.insert(0, _path)
sys.path.append(str(_here.parent.parent / "clients" / "python" / "src"))
sys.path.append(str(_here / "gen"))

try:
    import grpc
    from google.protobuf import json_format
except ImportError as err:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"{err}: this client needs grpcio and protobuf. On Debian: apt-get install -y python3-grpcio, "
        "then run it with /usr/bin/python3\n"
    )
    sys.exit(3)

from google.rpc import error_details_pb2, status_pb2  # noqa: E402  (generated, see generate.sh)
from orchestrator.v1 import chat_pb2, chat_pb2_grpc, common_pb2  # noqa: E402

STATUS_DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    request_id = args.request_id or str(uuid.uuid4())
    metadata = ((REQUEST_ID_KEY, request_id),)
    if args.api_key:
        metadata += (("authorization", f"Bearer {args.api_key}"),)
    # Keepalive pings only while calls are open, at most every 30 s (see docs/clients/python.md).
    options = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 0),
    ]
    with open_channel(args, options) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        try:
            if args.command == "chat":
                with_retries(lambda: chat(stub, args, metadata), args.retries)
            elif args.command == "stream":
                stream(stub, args, metadata)
            else:
                race(stub, args, metadata)
        except grpc.RpcError as err:
            print_error(err)
            return 1
    return 0


def checked(kind, what: str, ok):
    """An argparse type: a value that cannot be sent as given is a usage error (exit 2), where it
    would fail the call at once (a deadline already past), raise from protobuf (an int32 out of
    range) or, for --retries, make no call at all and exit 0."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}")
        return value

    return convert


INT32_MAX = 2**31 - 1


def open_channel(args: argparse.Namespace, options: list) -> grpc.Channel:
    """Plaintext, as the gateway listens by default, or TLS when a TLS option is given (the
    gateway's TLS_CERT_FILE; TLS_CLIENT_CA_FILE asks for a client certificate too)."""
    if not (args.tls or args.ca_file or args.cert_file or args.key_file):
        return grpc.insecure_channel(args.address, options=options)

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca_file),  # None: the system's roots
        private_key=read(args.key_file),
        certificate_chain=read(args.cert_file),
    )
    return grpc.secure_channel(args.address, credentials, options=options)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="llm-orchestrator Python client example")
    parser.add_argument("address", help="host:port of the gateway, e.g. 127.0.0.1:50051")
    parser.add_argument("command", choices=["chat", "stream", "race"])
    parser.add_argument("prompt")
    parser.add_argument("--model", default="", help="model id or alias (default: the server's DEFAULT_MODEL)")
    parser.add_argument("--models", default="", help="race: comma-separated racers")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", type=checked(int, "an integer", lambda n: abs(n) <= INT32_MAX))
    parser.add_argument(
        "--timeout",
        type=checked(float, "a positive number of seconds", lambda t: 0 < t < float("inf")),
        default=30.0,
        help="deadline in seconds (default 30)",
    )
    parser.add_argument("--request-id", default="")
    parser.add_argument("--retries", type=checked(int, "a number of retries, 0 or more", lambda n: n >= 0), default=0, help="chat: retries after what RetryInfo asks (default 0)")
    parser.add_argument("--json", action="store_true", help="print proto JSON")
    parser.add_argument("--api-key", default=os.environ.get("LLMO_API_KEY", ""), help="sent as authorization: Bearer (default $LLMO_API_KEY)")
    parser.add_argument("--tls", action="store_true", help="TLS with the system's root certificates")
    parser.add_argument("--ca-file", help="TLS: trust this PEM CA certificate (implies --tls)")
    parser.add_argument("--cert-file", help="mTLS: PEM client certificate (with --key-file)")
    parser.add_argument("--key-file", help="mTLS: PEM client key (with --cert-file)")
    args = parser.parse_args(argv)
    if bool(args.cert_file) != bool(args.key_file):
        parser.error("--cert-file and --key-file go together")
    for flag in ("ca_file", "cert_file", "key_file"):
        path = getattr(args, flag)
        if path and not Path(path).is_file():
            parser.error(f"--{flag.replace('_', '-')}: no such file: {path}")
    return args


RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def retry_delay(err: grpc.RpcError) -> float | None:
    """Seconds the server asked to wait: RetryInfo, else the grpc-retry-pushback-ms trailer.

    None when it asked nothing, or asked not to retry within the call (a negative pushback, gRFC
    A6): a request over a limit by itself, a wait too long to sit out (a spent budget), or an
    UNAVAILABLE no retry mends (the provider refused the gateway's key).
    """
    trailers = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
    pushback = trailers.get("grpc-retry-pushback-ms")
    if pushback and pushback.startswith("-"):
        return None
    if STATUS_DETAILS_KEY in trailers:
        for detail in status_pb2.Status.FromString(trailers[STATUS_DETAILS_KEY]).details:
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(retry):
                return retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return int(pushback) / 1000 if pushback and pushback.isdigit() else None


def with_retries(call, retries: int) -> None:
    """Runs call(); on a retryable status with a delay from the server, waits it and tries again."""
    for attempt in range(1, retries + 2):
        try:
            return call()
        except grpc.RpcError as err:
            delay = retry_delay(err)
            if err.code() not in RETRYABLE or delay is None or attempt > retries:  # type: ignore[attr-defined]
                raise
            sys.stderr.write(f"retry: {err.code().name} after attempt {attempt}; waiting {delay:.3f}s (RetryInfo)\n")  # type: ignore[attr-defined]
            time.sleep(delay)


def sampling(args: argparse.Namespace) -> dict:
    """The optional fields: left unset (not 0) when not given, so the server's defaults apply."""
    fields: dict = {}
    if args.temperature is not None:
        fields["temperature"] = args.temperature
    if args.max_tokens is not None:
        fields["max_tokens"] = args.max_tokens
    return fields


def chat(stub: chat_pb2_grpc.ChatServiceStub, args: argparse.Namespace, metadata) -> None:
    request = chat_pb2.ChatRequest(model=args.model, prompt=args.prompt, **sampling(args))
    response = stub.Chat(request, timeout=args.timeout, metadata=metadata)
    if args.json:
        print(to_json(response))
        return
    print(f"model: {response.model} ({response.provider})")
    print(f"content: {response.content}")
    print_summary(response.usage, response.cost_usd, response.latency_ms, response.finish_reason)
    print_attempts(response.attempts)
    print(f"request_id: {response.request_id}")


def stream(stub: chat_pb2_grpc.ChatServiceStub, args: argparse.Namespace, metadata) -> None:
    request = chat_pb2.StreamChatRequest(model=args.model, prompt=args.prompt, **sampling(args))
    completed = False
    mid_line = False
    try:
        # Each event is handled as soon as it arrives: the iterator yields while the call runs.
        for event in stub.StreamChat(request, timeout=args.timeout, metadata=metadata):
            if args.json:
                print(to_json(event, indent=None), flush=True)
            else:
                mid_line = print_event(event)
            completed = completed or event.WhichOneof("event") == "completed"
    except grpc.RpcError:
        # The tokens so far end their line, so the error (on stderr) does not continue it.
        if mid_line:
            print(flush=True)
        raise
    if not completed:
        # Cannot happen with this server (a cut stream ends with an error status), but a client
        # must never treat a stream without `completed` as a full answer.
        raise SystemExit("stream ended without a completed event")


def print_event(event) -> bool:
    """Prints one stream event as text; answers whether the output is now mid-line."""
    kind = event.WhichOneof("event")
    if kind == "started":
        s = event.started
        print(f"started: model={s.model} provider={s.provider} request_id={s.request_id}", flush=True)
    elif kind == "delta":
        sys.stdout.write(event.delta.content)
        sys.stdout.flush()
        return True
    elif kind == "restarted":
        r = event.restarted
        # Everything printed so far came from a model that failed: a real UI would erase it.
        print(f"\nrestarted: {r.failed_model} failed ({r.reason}); {r.next_model} starts over", flush=True)
    elif kind == "completed":
        c = event.completed
        print()
        print(f"completed: model={c.model} provider={c.provider} time_to_first_token_ms={c.time_to_first_token_ms:.1f}")
        print_summary(c.usage, c.cost_usd, c.latency_ms, c.finish_reason)
        print_attempts(c.attempts)
    return False


def race(stub: chat_pb2_grpc.ChatServiceStub, args: argparse.Namespace, metadata) -> None:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    request = chat_pb2.RaceRequest(model=args.model, prompt=args.prompt, models=models, **sampling(args))
    response = stub.Race(request, timeout=args.timeout, metadata=metadata)
    if args.json:
        print(to_json(response))
        return
    print(f"winner: {response.model} ({response.provider})")
    print(f"content: {response.content}")
    print_summary(response.usage, response.cost_usd, response.latency_ms, response.finish_reason)
    print_attempts(response.attempts)
    print(f"request_id: {response.request_id}")


def print_summary(usage: common_pb2.Usage, cost_usd: float, latency_ms: float, finish_reason: int) -> None:
    print(f"usage: prompt={usage.prompt_tokens} completion={usage.completion_tokens} total={usage.total_tokens}")
    print(f"cost_usd: {cost_usd:.8f}")
    print(f"latency_ms: {latency_ms:.1f}")
    print(f"finish_reason: {common_pb2.FinishReason.Name(finish_reason)}")


def print_attempts(attempts) -> None:
    for a in attempts:
        outcome = common_pb2.AttemptOutcome.Name(a.outcome).removeprefix("ATTEMPT_OUTCOME_")
        reason = f" {a.reason}" if a.reason and a.reason != outcome else ""
        print(f"attempt: {a.model} {outcome}{reason} {a.latency_ms:.1f}ms")


def print_error(err: grpc.RpcError) -> None:
    """The code and message, then the google.rpc details from the grpc-status-details-bin trailer."""
    code = err.code()  # type: ignore[attr-defined]  (a failed call's RpcError is also a grpc.Call)
    sys.stderr.write(f"error: {code.name}: {err.details()}\n")  # type: ignore[attr-defined]
    trailers = err.trailing_metadata() or ()  # type: ignore[attr-defined]
    for key, value in trailers:
        if key == REQUEST_ID_KEY:
            sys.stderr.write(f"request_id: {value}\n")
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                sys.stderr.write(f"reason: {info.reason} (domain {info.domain})\n")
                for k in sorted(info.metadata):
                    sys.stderr.write(f"  {k}: {info.metadata[k]}\n")
            elif detail.Unpack(bad):
                for v in bad.field_violations:
                    sys.stderr.write(f"field {v.field}: {v.description}\n")
            elif detail.Unpack(retry):
                delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
                sys.stderr.write(f"retry after: {delay:.3f}s\n")


def to_json(message, indent: int | None = 2) -> str:
    # Same field names as the server's proto JSON (lowerCamelCase).
    return json_format.MessageToJson(message, indent=indent)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        # `client.py ... | head`: the reader went away. Silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
