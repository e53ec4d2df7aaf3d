"""Where a study's independent tasks run: in this process, a local process pool, or a Dask
cluster. Results are handed over as they finish; Ctrl-C stops the workers at once (the caller
keeps what finished). `fn` must be a top-level function so that pools and Dask can pickle it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from planner.errors import BadInput, install_extra, shown_text


def default_workers() -> int:
    """Local cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_local(fn: Callable, tasks: list, collect: Callable, workers: int | None) -> None:
    """fn over the tasks: in-process when one worker, else a process pool; results handed to
    `collect` as they finish."""
    n = min(workers or default_workers(), len(tasks))
    if n < 1:
        raise BadInput(f"--workers: must be at least 1, got {workers}")
    if n == 1:
        for t in tasks:
            collect(fn(t))
        return
    pool = ProcessPoolExecutor(max_workers=n, initializer=_ignore_sigint)
    try:
        for f in as_completed([pool.submit(fn, t) for t in tasks]):
            collect(f.result())
    except BaseException:
        # Ctrl-C (or a failure): drop queued points and stop the workers now rather than after
        # their current solve; the executor has no public way to kill a running task.
        pool.shutdown(wait=False, cancel_futures=True)
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            p.terminate()
        raise
    pool.shutdown()


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent (which stops them), so none prints a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


LOCAL_DASK_WORKERS = 2


def run_dask(fn: Callable, address: str, tasks: list, collect: Callable) -> None:
    """Run the tasks on a Dask cluster at `address`, or on a LocalCluster for 'local'."""
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise BadInput(f"--dask needs the 'dask' extra: {install_extra('dask')}") from None
    if address != "local":
        probe_scheduler(address)
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=LOCAL_DASK_WORKERS, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        try:
            client = Client(cluster if cluster is not None else address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise BadInput(f"--dask {address}: cannot connect to the scheduler ({e})") from None
        with client:
            futures = client.map(fn, tasks, pure=False)
            try:
                for f in dask_completed(futures):
                    collect(f.result())
            except BaseException:
                client.cancel(futures)
                raise
    finally:
        if cluster is not None:
            cluster.close()


def probe_scheduler(address: str, timeout_s: float = 5.0) -> None:
    """BadInput unless a plain-TCP `address` answers as a Dask scheduler within `timeout_s`.

    A Dask server speaks first: a frame count then the frames' lengths (little-endian uint64).
    Another service either waits for us (timeout) or sends bytes that, read as those counts,
    would make Dask's client allocate absurd buffers; both are refused here before Dask connects.
    TLS and other transports are left to Dask's own timeout.
    """
    import socket
    import struct
    scheme, sep, rest = address.partition("://")
    if sep and scheme != "tcp":
        return
    hostport = rest if sep else address
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"--dask {shown_text(address)}: write the scheduler address as HOST:PORT or tcp://HOST:PORT")
    why = "it sent something that is not the Dask protocol"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            head = _recv_exactly(sock, 8)
            (n_frames,) = struct.unpack("<Q", head)
            if 1 <= n_frames <= 64:
                lengths = struct.unpack(f"<{n_frames}Q", _recv_exactly(sock, 8 * n_frames))
                if all(n <= 2**26 for n in lengths):
                    return
    except TimeoutError:
        why = f"it said nothing within {timeout_s:g} s"
    except (OSError, ValueError, struct.error) as e:
        why = f"cannot connect ({e})"
    raise BadInput(f"--dask {address}: does not answer as a Dask scheduler: {why}")


def _recv_exactly(sock, n: int) -> bytes:
    """n bytes from the socket, or ValueError if it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ValueError("the connection closed")
        buf += chunk
    return buf
