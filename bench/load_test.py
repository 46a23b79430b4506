"""Load test for `soundwave serve`: N concurrent clients on loopback for a bounded time.

    # start a server on a free loopback port, load it for 60 s with 8 clients, stop it
    python bench/load_test.py --model soundwave-mini --clients 8 --duration 60 --out bench/results/load.json
    # or load a server that is already running (give its pid to follow its memory)
    python bench/load_test.py --url http://127.0.0.1:8000 --server-pid 1234 --clients 8 --duration 60

Reports throughput (requests/s and audio seconds/s), latency p50/p90/p99 (and time to first piece when
streaming), errors by HTTP status, the deepest queue seen on /health, and the server's RSS at the start, peak
and end (memory should stay flat). Only loopback addresses are accepted: this is not a tool to load others.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

DEFAULT_AUDIO = Path(__file__).parents[1] / "tests/assets/soundwave-reference/audio/example_1.wav"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    first_piece: list[float] = field(default_factory=list)  # seconds, streamed requests
    statuses: Counter = field(default_factory=Counter)  # "200", "429", "timeout", ...
    rss: list[int] = field(default_factory=list)  # server RSS samples, bytes
    max_queued: int = 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def require_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise SystemExit(f"{url}: only loopback servers (127.0.0.1, ::1, localhost) may be load-tested")


# ---- one request ---------------------------------------------------------------------------------------------------
def chat_body(audio_b64: str, args: argparse.Namespace, stream: bool) -> dict:
    parts = [
        {"type": "input_audio", "input_audio": {"data": audio_b64, "format": "wav"}},
        {"type": "text", "text": args.prompt},
    ]
    body = {"model": "soundwave", "messages": [{"role": "user", "content": parts}], "max_tokens": args.max_tokens}
    return body | {"temperature": 0, "stream": stream}


async def one_request(
    client: httpx.AsyncClient, args: argparse.Namespace, audio: bytes, audio_b64: str, tally: Tally
) -> float:
    """Send one request and tally it; returns the seconds the server asked to wait (Retry-After), else 0."""
    start = time.perf_counter()
    try:
        if args.mode == "transcribe":
            response = await client.post("/v1/audio/transcriptions", files={"file": ("clip.wav", audio)})
        elif args.mode == "stream":
            async with client.stream("POST", "/v1/chat/completions", json=chat_body(audio_b64, args, True)) as response:
                first = None
                async for line in response.aiter_lines():
                    if first is None and has_content(line):
                        first = time.perf_counter() - start
                if first is not None:
                    tally.first_piece.append(first)
        else:
            response = await client.post("/v1/chat/completions", json=chat_body(audio_b64, args, False))
    except httpx.TimeoutException:
        tally.statuses["timeout"] += 1
        return 0.0
    except httpx.HTTPError as err:
        tally.statuses[type(err).__name__] += 1
        return 0.0
    tally.statuses[str(response.status_code)] += 1
    if response.status_code == 200:
        tally.latencies.append(time.perf_counter() - start)
    retry_after = response.headers.get("retry-after", "0")
    return float(retry_after) if response.status_code == 429 and retry_after.isdigit() else 0.0


def has_content(line: str) -> bool:
    """Whether a server-sent event line carries answer text."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


async def client_loop(client, args, audio, audio_b64, tally, deadline: float) -> None:
    """One client: request after request until the deadline, backing off as a 429's Retry-After asks."""
    while time.monotonic() < deadline:
        wait = await one_request(client, args, audio, audio_b64, tally)
        if wait and not args.no_backoff:
            await asyncio.sleep(min(wait, max(deadline - time.monotonic(), 0)))


# ---- watching the server -------------------------------------------------------------------------------------------
async def watch(client: httpx.AsyncClient, process: psutil.Process | None, tally: Tally, stop: asyncio.Event) -> None:
    """Sample the server's RSS and queue depth about once a second until `stop`."""
    while not stop.is_set():
        if process is not None:
            tally.rss.append(process.memory_info().rss)
        try:
            tally.max_queued = max(tally.max_queued, (await client.get("/health")).json()["queued"])
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def run_load(args: argparse.Namespace, url: str, server_pid: int | None) -> dict:
    audio = Path(args.audio).read_bytes()
    audio_b64 = base64.b64encode(audio).decode()
    import soundfile as sf

    clip_seconds = sf.info(args.audio).duration
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.clients + 2)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=args.request_timeout, limits=limits) as client:
        warm = Tally()
        await one_request(client, args, audio, audio_b64, warm)  # warm-up, not counted
        if warm.statuses.get("200") != 1:
            raise SystemExit(f"warm-up request failed: {dict(warm.statuses)} (is the server up at {url}?)")
        process = psutil.Process(server_pid) if server_pid else None
        tally = Tally()
        rss_start = process.memory_info().rss if process else None
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(client, process, tally, stop))
        started = time.monotonic()
        deadline = started + args.duration
        await asyncio.gather(
            *(client_loop(client, args, audio, audio_b64, tally, deadline) for _ in range(args.clients))
        )
        elapsed = time.monotonic() - started  # includes the requests still in flight at the deadline
        stop.set()
        await watcher
        rss_end = process.memory_info().rss if process else None
    ok = len(tally.latencies)
    mb = lambda n: round(n / 2**20, 1) if n is not None else None
    return {
        "url": url,
        "mode": args.mode,
        "clients": args.clients,
        "duration_s": round(elapsed, 2),
        "requests": sum(tally.statuses.values()),
        "ok": ok,
        "statuses": dict(tally.statuses),
        "throughput_rps": round(ok / elapsed, 3),
        "audio_seconds_per_s": round(ok * clip_seconds / elapsed, 2),
        "latency_s": {f"p{q}": _round(percentile(tally.latencies, q)) for q in (50, 90, 99)}
        | {"max": _round(max(tally.latencies, default=None))},
        "first_piece_s": {f"p{q}": _round(percentile(tally.first_piece, q)) for q in (50, 99)}
        if tally.first_piece
        else None,
        "max_queued": tally.max_queued,
        "server_rss_mb": {"start": mb(rss_start), "peak": mb(max(tally.rss, default=None)), "end": mb(rss_end)}
        if process
        else None,
        "server_rss_mb_timeline": [mb(n) for n in tally.rss[:: max(1, len(tally.rss) // 30)]],  # ~1 s apart, <= ~30
        "clip_seconds": round(clip_seconds, 2),
        "max_tokens": args.max_tokens,
    }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


# ---- starting a server of our own ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "soundwave", "serve", "--model", args.model, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--max-batch", str(args.max_batch), *args.serve_args]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:  # bounded wait for /health
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.terminate()
    raise SystemExit(f"the server did not answer /health within {args.start_timeout} s; see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8000")
    target.add_argument("--model", help="start `soundwave serve --model MODEL` on a free loopback port")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server, to follow its RSS")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (at most 3600)")
    parser.add_argument("--mode", choices=["chat", "stream", "transcribe"], default="chat")
    parser.add_argument("--audio", default=str(DEFAULT_AUDIO), help="wav file every request sends")
    parser.add_argument("--prompt", default="What does the person say?")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--request-timeout", type=float, default=180.0)
    parser.add_argument("--no-backoff", action="store_true", help="retry a 429 at once instead of after Retry-After")
    parser.add_argument("--max-batch", type=int, default=8, help="with --model: the server's --max-batch")
    parser.add_argument("--start-timeout", type=float, default=300.0, help="with --model: seconds to wait for it")
    parser.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[], help="with --model: more serve flags")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--log", default="load_test_server.log", help="with --model: the server's log file")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 3600 or not 0 < args.clients <= 1024:
        parser.error("--duration must be in (0, 3600] and --clients in (0, 1024]")

    process = None
    if args.model:
        process, url = start_server(args, Path(args.log))
        pid = process.pid
    else:
        require_loopback(args.url)
        url, pid = args.url.rstrip("/"), args.server_pid
    try:
        results = asyncio.run(run_load(args, url, pid))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
