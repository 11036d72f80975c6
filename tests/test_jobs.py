"""JobRunner: results, progress events in order, cancel (queued and running), errors, and the event
hub; no display needed."""
from __future__ import annotations

import threading

import pytest

from lab.gui.hub import TOPICS, EventHub
from lab.jobs import JobEnded, JobProgress, JobRunner, JobStarted


def test_a_job_reports_progress_in_order_then_its_result():
    runner = JobRunner()
    events = []

    def work(job, n):
        for i in range(n):
            job.report((i + 1) / n, f"step {i + 1}")
            job.emit(("custom", i))
        return n * 2

    job = runner.submit(work, 3, title="double", on_event=events.append)
    assert runner.wait_all(timeout=10)
    assert job.state == "done" and job.result == 6
    assert isinstance(events[0], JobStarted) and isinstance(events[-1], JobEnded)
    assert [e for e in events if isinstance(e, tuple)] == [("custom", 0), ("custom", 1), ("custom", 2)]
    assert [e.fraction for e in events if isinstance(e, JobProgress)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert job.progress == (1.0, "step 3")
    runner.shutdown()


def test_events_are_only_delivered_by_poll_on_the_callers_thread():
    runner = JobRunner()
    threads = set()
    job = runner.submit(lambda job: job.emit("x"), title="t",
                        on_event=lambda e: threads.add(threading.get_ident()))
    job.wait(5)
    assert threads == set(), "nothing is delivered until poll()"
    runner.wait_all(timeout=5)
    assert threads == {threading.get_ident()}
    runner.shutdown()


def test_a_running_job_sees_its_cancel_token_and_ends_cancelled():
    runner = JobRunner()
    started = threading.Event()

    def loop(job):
        started.set()
        while not job.cancel_token.is_set():
            job.cancel_token.wait(0.01)
        return "stopped cleanly"

    job = runner.submit(loop, title="loop")
    started.wait(5)
    job.cancel()
    assert runner.wait_all(timeout=5)
    assert job.state == "cancelled" and job.result == "stopped cleanly"
    runner.shutdown()


def test_a_queued_job_that_is_cancelled_never_runs():
    runner = JobRunner(workers=1)
    gate = threading.Event()
    ran = []
    first = runner.submit(lambda job: gate.wait(5), title="first")
    second = runner.submit(lambda job: ran.append(1), title="second")
    second.cancel()
    gate.set()
    assert runner.wait_all(timeout=5)
    assert first.state == "done" and second.state == "cancelled" and ran == []
    runner.shutdown()


def test_an_exception_in_a_job_becomes_its_error_not_the_callers():
    runner = JobRunner()

    def broken(job):
        raise KeyError("no such gene")

    job = runner.submit(broken, title="broken")
    assert runner.wait_all(timeout=5)
    assert job.state == "failed" and "KeyError" in job.error and "no such gene" in job.error
    assert "Traceback" in job.details
    runner.shutdown()


def test_a_listener_that_raises_does_not_stop_delivery_and_is_reraised_after():
    runner = JobRunner()
    seen = []

    def bad_listener(event):
        seen.append(event)
        raise RuntimeError("listener broke")

    job = runner.submit(lambda job: job.emit(1), title="t", on_event=bad_listener)
    job.wait(5)
    with pytest.raises(RuntimeError, match="listener broke"):
        runner.poll()
    assert job.state == "done" and len(seen) == 3  # started, 1, ended
    runner.shutdown()


def test_hub_delivers_to_subscribers_and_unsubscribe_works():
    hub = EventHub()
    got = []
    unsubscribe = hub.subscribe("genome_selected", lambda genome_id: got.append(genome_id))
    assert hub.publish("genome_selected", genome_id="abc") == 1
    unsubscribe()
    assert hub.publish("genome_selected", genome_id="def") == 0
    assert got == ["abc"]
    with pytest.raises(ValueError, match="unknown event topic 'genome_picked'"):
        hub.publish("genome_picked", genome_id="x")
    assert "send_to_stress_chamber" in TOPICS


def test_hub_reports_a_broken_subscriber_and_still_delivers_to_the_rest():
    errors = []
    hub = EventHub(on_error=errors.append)
    got = []
    hub.subscribe("status", lambda text: 1 / 0)
    hub.subscribe("status", lambda text: got.append(text))
    assert hub.publish("status", text="hi") == 2
    assert got == ["hi"] and isinstance(errors[0], ZeroDivisionError)
