"""Threads and executor jobs started inside a request run in a copy of its context; worker
threads of servers and libraries, and everything started outside a request, are left alone.

In process for the rules, and on a real uvicorn for a FastAPI app: the canary printed or
logged from ``run_in_executor`` jobs and ``threading.Thread``s the app starts never reaches
the server's stdout/stderr, while output those threads make outside requests does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import pytest

import zerolog_mw
from zerolog_mw import request_values, stdio, threads
from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan
from zerolog_mw.request_values import PLACEHOLDER, RequestValues

APPS = Path(__file__).parent / "apps"


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """The suppressor and the stdio guard installed, as a middleware would (in the test's
    body: capfd puts its own streams back when the test starts)."""
    handle = zerolog_mw.suppress_logging()
    stdio.patchset.claim()
    try:
        yield
    finally:
        stdio.patchset.release()
        handle.restore()


def dropping() -> RequestValues:
    """A request's values under ``stdio="drop"``, as the middleware puts in its context."""
    return RequestValues({}, None, "drop")


def in_a_request(func: object) -> None:
    """Run ``func()`` in a context marked as handling a request (``stdio="drop"``)."""
    token = request_values.CURRENT.set(dropping())
    try:
        func()  # type: ignore[operator]
    finally:
        request_values.CURRENT.reset(token)


def join_new(target: object, *args: object) -> None:
    thread = threading.Thread(target=target, args=args)  # type: ignore[arg-type]
    thread.start()
    thread.join()


# --- in process ------------------------------------------------------------------------------


def test_thread_started_in_a_request_is_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = new_canary()
    with guarded():
        in_a_request(lambda: join_new(lambda: print(f"lambda {secret}")))
        in_a_request(lambda: join_new(print, f"print-target {secret}"))
        join_new(print, "started outside a request")
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "started outside a request" in out


def test_library_functions_the_app_starts_as_threads_or_jobs_are_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``Thread(target=pprint.pprint)``, a ``Timer`` of it, ``Thread(target=sys.stderr.write)``
    and ``pool.submit(json.dump, data, sys.stdout)``, started by the app's code in a request:
    library code, but the app's threads and jobs (they ran outside the request, printing)."""
    import pprint

    secret = new_canary()

    def leak() -> None:
        for thread in (
            threading.Thread(target=pprint.pprint, args=({"v": secret},)),
            threading.Thread(target=sys.stderr.write, args=(f"write {secret}\n",)),
            threading.Timer(0.01, pprint.pprint, [{"t": secret}]),
        ):
            thread.start()
            thread.join()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(json.dump, {"j": secret}, sys.stdout).result()

    with guarded():
        in_a_request(leak)
        pprint.pprint("outside a request")
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "outside a request" in out


def test_timer_and_executor_jobs_started_in_a_request_are_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = new_canary()

    def timer() -> None:
        thread = threading.Timer(0, lambda: print(f"timer {secret}"))
        thread.start()
        thread.join()

    with guarded(), concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_a_request(timer)
        in_a_request(lambda: pool.submit(lambda: print(f"submit {secret}")).result())
        pool.submit(lambda: print("submitted outside a request")).result()
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "submitted outside a request" in out


def test_done_callbacks_and_executor_map_of_a_request_are_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A done-callback the app adds runs on the pool's thread when the job ends (after the
    request, here); ``pool.map(sys.stdout.write, ...)`` submits from the standard library's
    ``Executor.map``. Both printed the request's data outside it; outside a request, as is."""
    secret = new_canary()
    release = threading.Event()

    def leak(pool: concurrent.futures.ThreadPoolExecutor) -> concurrent.futures.Future[str]:
        job = pool.submit(lambda: release.wait(5) and secret)
        job.add_done_callback(lambda done: print(f"callback {done.result()}"))
        list(pool.map(sys.stdout.write, [f"map {secret}\n"]))
        return job

    with guarded(), concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs: list[concurrent.futures.Future[str]] = []
        in_a_request(lambda: jobs.append(leak(pool)))
        release.set()  # the job ends, and its callback runs, after the request
        concurrent.futures.wait(jobs)
        outside = pool.submit(lambda: "done outside")
        outside.add_done_callback(lambda done: print(done.result()))
        concurrent.futures.wait([outside])
    time.sleep(0.1)  # the callbacks have run by the time wait() returns: margin only
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "done outside" in out


def test_run_in_executor_on_a_process_pool_still_works_in_a_request() -> None:
    """A process pool pickles its jobs: a job wrapped in the request's context cannot be
    pickled (the app got a TypeError, and a 500). It runs as handed over."""

    async def request() -> int:
        loop = asyncio.get_running_loop()
        with concurrent.futures.ProcessPoolExecutor(1) as pool:
            return await loop.run_in_executor(pool, pow, 2, 10)

    with guarded():
        results: list[int] = []
        in_a_request(lambda: results.append(asyncio.run(request())))
    assert results == [1024]


def test_thread_pool_jobs_submitted_in_a_request_are_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``multiprocessing.pool.ThreadPool``: its workers are started by the standard library,
    so only the jobs carry the request's context — each call in a copy of its own (a map
    runs the function on several threads at once)."""
    from multiprocessing.pool import ThreadPool

    secret = new_canary()

    def shout(n: int) -> int:
        print(f"job {n} {secret}")
        time.sleep(0.01)  # overlapping calls: one context entered by two threads would fail
        return n

    with guarded(), ThreadPool(4) as pool:
        results: list[object] = []

        def request() -> None:
            results.append(pool.map(shout, range(8)))
            results.append(pool.apply_async(shout, (9,)).get())
            results.append(sorted(pool.imap_unordered(shout, range(3))))
            results.append(pool.starmap(shout, [(1,), (2,)]))
            # library functions the app hands over, and callbacks (the pool's result thread)
            pool.map(print, [f"map {secret}"])
            pool.apply(print, (f"apply {secret}",))
            pool.starmap(json.dump, [({"q": secret}, sys.stdout)])
            done = pool.apply_async(shout, (5,), callback=lambda r: print(f"cb {r} {secret}"))
            done.wait()
            pool.map_async(shout, [6], None, lambda r: print(f"cb2 {secret}")).wait()
            time.sleep(0.05)  # the callbacks run just after the results are set
            # every argument by name, as the standard library allows
            results.append(pool.map(func=shout, iterable=[7]))
            results.append(pool.apply_async(func=shout, args=(8,), callback=print).get())

        in_a_request(request)
        pool.apply(print, ("applied outside a request",))
    assert results == [list(range(8)), 9, [0, 1, 2], [1, 2], [7], 8]
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "applied outside a request" in out


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_run_in_executor_in_a_request_is_dropped(
    capfd: pytest.CaptureFixture[str], loop: str
) -> None:
    """Under asyncio the loop's run_in_executor is patched; uvloop's cannot be, and its jobs
    are covered by the patched ``ThreadPoolExecutor.submit`` it calls."""
    run = asyncio.run if loop == "asyncio" else pytest.importorskip("uvloop").run
    secret = new_canary()

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def request() -> None:
            request_values.CURRENT.set(dropping())  # this task's context only
            await loop.run_in_executor(None, print, f"default {secret}")
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                await loop.run_in_executor(pool, print, f"own pool {secret}")

        await asyncio.create_task(request())
        await loop.run_in_executor(None, print, "job outside a request")

    with guarded():
        run(main())
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "job outside a request" in out


def test_worker_threads_spawned_in_a_request_keep_no_request_context(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The pool's worker, and anyio's, are first spawned inside a request; later jobs
    # submitted outside any request are not dropped.
    pool = concurrent.futures.ThreadPoolExecutor(1)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def request() -> None:
            request_values.CURRENT.set(dropping())
            await loop.run_in_executor(pool, print, "in request")
            await anyio.to_thread.run_sync(print, "in request")

        await asyncio.create_task(request())
        await loop.run_in_executor(pool, print, "pool job outside")
        await anyio.to_thread.run_sync(print, "anyio job outside")

    with guarded():
        try:
            asyncio.run(main())
            pool.submit(print, "submitted outside").result()
        finally:
            pool.shutdown()
    out, _ = capfd.readouterr()
    assert "in request" not in out
    assert "pool job outside" in out
    assert "anyio job outside" in out
    assert "submitted outside" in out


def test_thread_logs_are_redacted_with_the_request_values() -> None:
    secret = new_canary()
    values = RequestValues({"type": "http", "headers": [(b"x-note", secret.encode())]})
    seen: list[str] = []
    token = request_values.CURRENT.set(values)
    try:
        with guarded():
            join_new(lambda: seen.append(zerolog_mw.redact(f"note {secret}")))
    finally:
        request_values.CURRENT.reset(token)
    assert seen == [f"note {PLACEHOLDER}"]


def test_a_variable_the_thread_sets_does_not_reach_the_request() -> None:
    def mark_redacting() -> None:
        request_values.CURRENT.set(RequestValues({}, None, "redact"))

    with guarded():
        in_a_request(lambda: join_new(mark_redacting))
    assert request_values.CURRENT.get() is None


def test_library_and_own_code_is_not_app_code() -> None:
    import concurrent.futures.thread as pool_module

    from zerolog_mw.metrics import recorder

    assert not threads.is_app_code(pool_module._worker)
    assert not threads.is_app_code(threading.Thread.run)
    assert not threads.is_app_code(recorder.Recorder.__init__)
    assert not threads.is_app_code(json.dumps)
    assert threads.is_app_code(join_new)
    assert threads.is_app_code(lambda: None)
    assert threads.is_app_code(print)


def test_restore_puts_thread_start_and_run_in_executor_back() -> None:
    start, run_in_executor = threading.Thread.start, asyncio.BaseEventLoop.run_in_executor
    handle = zerolog_mw.suppress_logging()
    assert threading.Thread.start is not start
    assert asyncio.BaseEventLoop.run_in_executor is not run_in_executor
    handle.restore()
    assert threading.Thread.start is start
    assert asyncio.BaseEventLoop.run_in_executor is run_in_executor


# --- a real uvicorn ----------------------------------------------------------------------------


def call(port: int, method: str, path: str, body: bytes = b"", **headers: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_fastapi_on_uvicorn_threads_print_nothing_of_the_request(tmp_path: Path) -> None:
    canary, port = new_canary(), free_port()
    argv = [
        *f"{sys.executable} -m uvicorn threads_fastapi:app --port {port}".split(),
        *["--log-level", "trace"],
    ]
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1"}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env):
        text = {"Content-Type": "text/plain"}
        assert call(port, "POST", "/executor", canary.encode(), **text) == 200
        assert call(port, "POST", "/thread", canary.encode(), **text) == 200
        body = json.dumps({"value": canary}).encode()
        assert call(port, "POST", "/sync-thread", body, **{"Content-Type": "application/json"})
        assert call(port, "GET", "/outside") == 200
        deadline = time.monotonic() + 10
        while "outside thread zlmarker" not in (tmp_path / "stdout.log").read_text():
            assert time.monotonic() < deadline, "the task outside requests printed nothing"
            time.sleep(0.1)
    assert scan(tmp_path, canary) == {}
    out = (tmp_path / "stdout.log").read_text()
    err = (tmp_path / "stderr.log").read_text()
    for kind in ("default-executor", "own-executor", "anyio-worker", "thread"):
        assert f"outside {kind} zlmarker" in out  # worker threads first spawned in a request
    # The threads' records of the allowlisted logger went through, redacted.
    assert f"log {PLACEHOLDER}" in err


_INSTALLED_APP = """
import threading

import zerolog_mw


def _shout(text):
    print("thread says", text, flush=True)


async def raw_app(scope, receive, send):
    if scope["type"] != "http":
        return
    worker = threading.Thread(target=_shout, args=(scope["query_string"].decode(),))
    worker.start()
    worker.join()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def make_app():
    return zerolog_mw.wrap(raw_app)  # called from the app's own package
"""


@pytest.mark.parametrize("wrapped_by", ["the app's package", "another module"])
def test_an_app_installed_among_the_libraries_is_app_code_once_it_calls_wrap(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    wrapped_by: str,
) -> None:
    """``pip install .`` puts the app in site-packages, with the libraries: the package that
    calls ``wrap()`` still counts as the app's, so a thread it starts in a request prints
    nothing. Wrapped from elsewhere, its thread looks like a library's and prints (control)."""
    from starlette.testclient import TestClient

    site_dir = tmp_path / "site-packages"
    package = site_dir / f"zl_installed_{wrapped_by[0]}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_INSTALLED_APP)
    monkeypatch.syspath_prepend(str(site_dir))
    monkeypatch.setattr(threads, "_LIBRARY_DIRS", (*threads._LIBRARY_DIRS, f"{site_dir}/"))
    threads._is_app_file.cache_clear()
    module = __import__(package.name)
    canary = new_canary()
    capfd.readouterr()
    if wrapped_by == "the app's package":
        app = module.make_app()
    else:
        app = zerolog_mw.wrap(module.raw_app)
    try:
        assert TestClient(app).get(f"/?{canary}").text == "ok"
    finally:
        threads._is_app_file.cache_clear()
    out, err = capfd.readouterr()
    if wrapped_by == "the app's package":
        assert canary not in out + err
    else:
        assert f"thread says {canary}" in out  # the gap count_as_app() closes


def test_the_standard_library_and_zerolog_mw_are_never_counted_as_the_app() -> None:
    before = (threads._APP_DIRS, threads._APP_FILES)
    for name in ("json.decoder", "concurrent.futures", "zerolog_mw.asgi", "__main__", ""):
        threads.count_as_app(name)
    assert before == (threads._APP_DIRS, threads._APP_FILES)
    assert not threads.is_app_code(json.dumps)


def test_the_flask_extension_counts_the_app_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask import Flask

    from zerolog_mw.flask import ZeroLog

    package = tmp_path / "site-packages" / "zl_flask_installed"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(package.parent))
    __import__(package.name)
    ZeroLog(Flask(package.name))
    assert f"{package.resolve()}/" in threads._APP_DIRS
