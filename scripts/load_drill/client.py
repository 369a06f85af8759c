"""The drill's load client: open-loop API reads over lean keep-alive HTTP/1.1 connections.

Request i is due at start + i/rate and its latency counts from that due time (a stalled server
cannot hide its queueing). At most `concurrency` requests are in flight. Resyncs are asked at
1/s alongside, not counted in the latencies. The client runs in a process of its own
(`client_process`), so the sandbox provider and webhook receiver threads of the drill's main
process cannot hold up its event loop.
"""

import asyncio
import random
import time
from collections import Counter

from load_drill.profile_mix import NAMES, RESYNC_PATH, WEIGHTS, request_headers, request_path


class HttpError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as expected."""


class Connection:
    """One keep-alive HTTP/1.1 connection: a request is a few bytes out and a parsed status line,
    headers and body in. Lean on purpose: the client shares the machine's cores with the server,
    and a general-purpose client (httpx) spent more CPU per request than the server did."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.reader is not None and self.reader.at_eof():
            self.close()  # the server closed it while idle: not an error, open another
        if self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Length: 0"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            fields = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
            if "content-length" in fields:
                body = await self.reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                raise HttpError("an answer with neither Content-Length nor chunked encoding")
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            IndexError,
        ) as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_load(
    *,
    host: str,
    port: int,
    keys: list[str],
    tokens: list[tuple[str, str]],
    employee_ids: dict,
    rate: float,
    seconds: float,
    concurrency: int,
    warmup: float = 0.0,
) -> dict:
    rng = random.Random(7)
    latencies: dict[str, list[float]] = {n: [] for n in NAMES}
    statuses: Counter = Counter()
    errors: list[str] = []
    resyncs: Counter = Counter()
    # At most `concurrency` requests in flight, each on a keep-alive connection of its own.
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(Connection(host, port))

    async def send(method: str, path: str, headers: dict[str, str]) -> int | str:
        connection = await pool.get()
        try:
            status, _ = await connection.request(method, path, headers)
            return status
        except HttpError as exc:
            return str(exc)
        finally:
            pool.put_nowait(connection)

    async def one(due: float, kind: str, index: int, measured: bool):
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        account_index = index % len(tokens)
        account_id, token = tokens[account_index]
        headers = request_headers(keys[account_index % len(keys)], token)
        path = request_path(kind, employee_ids.get(account_id, account_id))
        code = await send("GET", path, headers)
        if measured:
            latencies[kind].append((time.perf_counter() - due) * 1000)
        statuses[code] += 1
        if code != 200:
            errors.append(f"{kind}: {code}")

    async def resync_loop(until: float):
        i = 0
        while time.perf_counter() < until:
            _, token = tokens[i % len(tokens)]
            resyncs[await send("POST", RESYNC_PATH, request_headers(keys[0], token))] += 1
            i += 1
            await asyncio.sleep(1)

    # The warm-up runs the same load first, unmeasured (each gunicorn process's first requests
    # import the views and open its connections); its errors still count.
    begin = time.perf_counter() + 0.2
    start = begin + warmup
    total = int(rate * (warmup + seconds))
    resync_task = asyncio.create_task(resync_loop(start + seconds))
    tasks = []
    for i in range(total):
        due = begin + i / rate
        # Create tasks just ahead of time so memory stays flat.
        while due - time.perf_counter() > 0.5:
            await asyncio.sleep(0.1)
        tasks.append(asyncio.create_task(one(due, rng.choices(NAMES, WEIGHTS)[0], i, due >= start)))
    await asyncio.gather(*tasks)
    await resync_task
    wall = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    every = [x for values in latencies.values() for x in values]
    return {
        "requests": len(every),
        "wall": wall,
        "latencies": latencies,
        "all": every,
        "statuses": statuses,
        "errors": errors,
        "resyncs": resyncs,
    }


def client_process(**kwargs) -> dict:
    """The load client, in a process of its own: the sandbox provider and webhook receiver
    threads of the main process must not hold up its event loop (that would count as server
    latency). Returns the results and the CPU time the client used."""
    started = time.process_time()
    result = asyncio.run(run_load(**kwargs))
    result["client_cpu"] = time.process_time() - started
    return result
