"""What the gateway asks of Triton, over its HTTP/REST protocol (KServe v2, with the binary
tensor extension): inference, model readiness and the repository index, on pooled keep-alive
HTTP/1.1 connections over asyncio streams.

Why not tritonclient's gRPC aio client, used before: one call cost the calling process about
0.87 ms of CPU above an idle wait's on the 2-core machine (grpc's aio machinery, its poller
thread, tritonclient's request objects), against about 0.17 ms here (`scripts/triton_call_cpu.py`
measures both on one stack). With pages batched per call that was still the gateway's largest
cost per page.

`url` names one or more `host:port` addresses, comma-separated; every DNS address of every name
takes calls in turn (a headless Kubernetes Service names each ready pod), and names are
resolved again every `RESOLVE_S`, so pods that come or go are followed.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from dataclasses import dataclass

import numpy as np
import orjson

from genrec.contract import TensorSpec

Address = tuple[str, int]


class TritonError(Exception):
    """A call Triton did not answer (`status` None: no connection, deadline, broken reply),
    or answered with an error status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    NOT_SERVED = frozenset({408, 502, 503, 504})  # statuses of a server that cannot serve now

    @property
    def refused(self) -> bool:
        """Triton answered, and refused these inputs (the model's own errors come back as
        500): sent again, the same request gets the same answer."""
        return self.status is not None and self.status not in self.NOT_SERVED


@dataclass
class _Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class _StaleConnection(Exception):
    """A kept-alive connection the server had closed: nothing was answered on it."""


class TritonHTTP:
    RESOLVE_S = 5.0  # how long one DNS answer is used
    MAX_IDLE = 32  # kept-alive connections per address (a worker keeps few calls in flight)

    def __init__(self, url: str):
        self.targets = [_address(part) for part in url.removeprefix("http://").split(",")]
        self._addresses: list[Address] = []
        self._resolved_at = -float("inf")
        self._turn = itertools.count()
        self._idle: dict[Address, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def infer(
        self,
        model: str,
        version: str,
        inputs: list[tuple[TensorSpec, np.ndarray]],
        outputs: list[TensorSpec],
        timeout_s: float,
    ) -> tuple[dict[str, np.ndarray], str]:
        """One inference → the outputs by name, and the version that answered. Tensors travel
        as raw bytes after a JSON header (the binary tensor extension)."""
        binary = {"binary_data": True}
        header = orjson.dumps({
            "inputs": [
                {"name": spec.name, "shape": list(values.shape), "datatype": spec.datatype,
                 "parameters": {"binary_data_size": values.nbytes}}
                for spec, values in inputs
            ],
            "outputs": [{"name": spec.name, "parameters": binary} for spec in outputs],
        })  # fmt: skip
        body = b"".join([header, *(np.ascontiguousarray(v).tobytes() for _, v in inputs)])
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        extra = b"Inference-Header-Content-Length: %d\r\n" % len(header)
        reply = await self._call(b"POST", path, body, extra, timeout_s)
        try:
            return _tensors(reply, {spec.name: spec for spec in outputs}, version)
        except (KeyError, TypeError, ValueError) as e:  # a reply no Triton sends: no answer
            raise TritonError(f"Triton's reply could not be read: {e!r}") from None

    async def model_ready(self, model: str, timeout_s: float) -> bool:
        try:
            reply = await self._call(b"GET", f"/v2/models/{model}/ready", b"", b"", timeout_s)
        except TritonError:
            return False
        return reply.status == 200

    async def repository_index(self, timeout_s: float) -> list[dict]:
        """Every model version Triton knows: `name`, `version`, `state`."""
        reply = await self._call(b"POST", "/v2/repository/index", b"{}", b"", timeout_s)
        return orjson.loads(reply.body)

    async def close(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    async def _call(
        self, method: bytes, path: str, body: bytes, extra: bytes, timeout_s: float
    ) -> _Reply:
        request = b"%s %s HTTP/1.1\r\nHost: triton\r\nContent-Length: %d\r\n%s\r\n%s" % (
            method, path.encode(), len(body), extra, body
        )  # fmt: skip
        try:
            async with asyncio.timeout(timeout_s):
                address = await self._next_address()
                try:
                    reply = await self._exchange(address, request, reuse=True)
                except _StaleConnection:  # nothing was answered: safe to send again, fresh
                    reply = await self._exchange(address, request, reuse=False)
        except TimeoutError:
            raise TritonError(f"no answer within {timeout_s:g} s") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            raise TritonError(f"Triton unreachable: {e!r}") from None
        if reply.status >= 400:
            try:
                message = orjson.loads(reply.body).get("error", "")
            except orjson.JSONDecodeError:
                message = reply.body[:200].decode("utf-8", "replace")
            raise TritonError(f"Triton answered {reply.status}: {message}", reply.status)
        return reply

    async def _exchange(self, address: Address, request: bytes, reuse: bool) -> _Reply:
        idle = self._idle.setdefault(address, [])
        reused = reuse and bool(idle)
        reader, writer = idle.pop() if reused else await asyncio.open_connection(*address)
        done = False
        try:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                if reused and not getattr(e, "partial", b""):
                    raise _StaleConnection(str(e)) from e
                raise
            status, headers = _head(head)
            length = int(headers.get(b"content-length", b"none"))  # ValueError without one
            reply = _Reply(status, headers, await reader.readexactly(length))
            done = headers.get(b"connection", b"").lower() != b"close"
            return reply
        finally:
            if done and len(idle) < self.MAX_IDLE:
                idle.append((reader, writer))
            else:  # mid-reply (deadline, cancel, error) or closing: never reused
                writer.close()

    async def _next_address(self) -> Address:
        if time.monotonic() - self._resolved_at > self.RESOLVE_S or not self._addresses:
            found = []
            for host, port in self.targets:
                found += [a for a in await _resolve(host, port) if a not in found]
            for gone in set(self._idle) - set(found):  # pods that left: drop their connections
                for _, writer in self._idle.pop(gone):
                    writer.close()
            self._addresses, self._resolved_at = found, time.monotonic()
        return self._addresses[next(self._turn) % len(self._addresses)]


def _tensors(
    reply: _Reply, outputs: dict[str, TensorSpec], version: str
) -> tuple[dict[str, np.ndarray], str]:
    """An inference reply's JSON header, then each output's raw bytes, in the header's order."""
    length = int(reply.headers.get(b"inference-header-content-length", len(reply.body)))
    answer, offset, tensors = orjson.loads(reply.body[:length]), length, {}
    for out in answer["outputs"]:
        size = out["parameters"]["binary_data_size"]
        raw = reply.body[offset : offset + size]
        tensors[out["name"]] = np.frombuffer(raw, outputs[out["name"]].dtype).reshape(out["shape"])
        offset += size
    return tensors, str(answer.get("model_version", version))


async def _resolve(host: str, port: int) -> list[Address]:
    """Every IPv4 address of `host` (a server listening on 127.0.0.1 is not on `localhost`'s
    ::1), else every address it has."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys((info[4][0], port) for info in infos))
    if not addresses:
        raise OSError(f"{host!r} has no address")
    return addresses


def _address(part: str) -> Address:
    host, _, port = part.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"Triton address {part!r}: expected host:port")
    return host.strip("[]"), int(port)


def _head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    """HTTP/1.1 status line and headers → (status, lower-cased header names → values)."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    return status, headers
