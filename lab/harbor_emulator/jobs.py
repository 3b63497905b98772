"""The job service of an emulator process: a queue of jobs in the database, a few worker
threads, an event thread for registry events, and a cron scheduler.

- Jobs are documents of kind "job" ({type, ref, status}). A worker claims one by flipping
  Pending -> Running inside a transaction (row lock FOR UPDATE on PostgreSQL; SQLite
  transactions are serialised), so several processes sharing one database never run a
  job twice. A finished job's document is deleted.
- Other modules plug in at import time:
    register_handler(job_type, fn)            fn(emulator, ref) runs one job
    register_schedule(name, crons_fn, fire_fn) crons_fn(tx) -> [(key, cron)], fire_fn(emulator, key)
    register_event_handler(fn)                 fn(emulator, event) for registry events
  and queue work with submit(tx, job_type, ref).
- Each runner writes a heartbeat (kind "job_owner"); a Running job whose runner has not
  been seen for STALE_SECONDS (its process died) is claimed again, and its handler resumes
  the work (handlers must therefore tolerate being called for work already started).
- Crons have Harbor's 6 fields (seconds first). Each due slot is claimed in the database
  (a unique key per schedule, key and slot), so two processes never fire the same slot.
- LAB ONLY: tick(emulator, at) fires what is due at `at` now, so tests need not wait for
  the clock (also exposed as POST /lab/schedules/tick).
"""

import datetime
import os
import queue
import sys
import threading
import time
import traceback
import uuid

from .store import Duplicate

HANDLERS = {}
SCHEDULES = {}
EVENT_HANDLERS = []
# Harbor's jobservice runs jobs in a pool of `max_job_workers` workers (harbor.yml, 10 by default), so the
# executions of several policies (a fan-out to many replicas) copy side by side; the same default here, and
# HARBOR_EMULATOR_JOB_WORKERS sets the pool size of an emulator process as max_job_workers does.
WORKERS = 10
WORKERS_VARIABLE = "HARBOR_EMULATOR_JOB_WORKERS"
POLL_SECONDS = 0.5  # how often other processes' jobs are looked for; local submits wake at once
SCHEDULER_SECONDS = 1.0
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a runner silent this long is considered dead
SLOT_MEMORY = datetime.timedelta(hours=1)  # claimed slots older than this are forgotten

_RUNNERS = set()  # runners of this process, woken when a job is submitted
_RUNNERS_LOCK = threading.Lock()


def configured_workers():
    """The worker count of this process: HARBOR_EMULATOR_JOB_WORKERS (1-100), else WORKERS."""
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return WORKERS
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ValueError(f"{WORKERS_VARIABLE} must be a number of workers from 1 to 100, not {raw!r}")
    return int(raw)


def register_handler(job_type, fn):
    HANDLERS[job_type] = fn


def register_schedule(name, crons_fn, fire_fn):
    SCHEDULES[name] = (crons_fn, fire_fn)


def register_event_handler(fn):
    if fn not in EVENT_HANDLERS:
        EVENT_HANDLERS.append(fn)


def submit(tx, job_type, ref):
    """Queue a job (committed with `tx`); local runners are woken to claim it."""
    job_id = tx.next_id("job")
    tx.insert("job", job_id, {"id": job_id, "type": job_type, "ref": ref, "status": "Pending", "owner": ""})
    with _RUNNERS_LOCK:
        runners = list(_RUNNERS)
    for runner in runners:
        runner.wake.set()
    return job_id


def stopping(emulator):
    """True when this process's job service is shutting down (long jobs should stop early)."""
    runner = getattr(emulator, "jobs", None)
    return runner is None or runner.stopping.is_set()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def latest_slot(cron, since, until):
    """The latest time in (since, until] matching a 6-field cron, or None."""
    from croniter import croniter

    try:
        prev = croniter(cron, until + datetime.timedelta(microseconds=1),
                        second_at_beginning=True).get_prev(datetime.datetime)
    except (ValueError, KeyError, TypeError):
        return None
    return prev if since < prev <= until else None


def tick(emulator, at=None):
    """LAB ONLY: fire the schedules due at `at` (default now); returns [(name, key, slot)] fired here."""
    at = at or utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    return fire_due(emulator, at - datetime.timedelta(seconds=1), at)


def fire_due(emulator, since, until):
    fired = []
    for name, (crons_fn, fire_fn) in list(SCHEDULES.items()):
        try:
            with emulator.store.tx() as tx:
                entries = list(crons_fn(tx))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            continue
        for key, cron in entries:
            slot = latest_slot(cron, since, until)
            if slot is None or not claim_slot(emulator.store, name, key, slot):
                continue
            try:
                fire_fn(emulator, key)
                fired.append((name, key, slot.isoformat()))
            except Exception:
                traceback.print_exc(file=sys.stderr)
    return fired


def claim_slot(store, name, key, slot):
    """True for the one caller (of any process) that claims this slot first."""
    series = f"{name}:{key}"
    try:
        with store.tx() as tx:
            oid = tx.next_id("schedule_slot")
            tx.insert("schedule_slot", oid, {"schedule": name, "key": key, "slot": slot.isoformat()},
                      name=series, unique=[f"{series}@{slot.isoformat()}"])
            forget_old_slots(tx, series, oid, slot - SLOT_MEMORY)
    except Duplicate:
        return False
    return True


def forget_old_slots(tx, series, newest, cutoff):
    while True:
        oldest = tx.get_by_name("schedule_slot", series)
        if oldest is None or oldest.oid == newest:
            return
        if datetime.datetime.fromisoformat(oldest["slot"]) >= cutoff:
            return
        tx.delete("schedule_slot", oldest.oid)


class Runner:
    """The job service of one emulator process."""

    def __init__(self, emulator, workers=WORKERS):
        self.emulator = emulator
        self.owner = uuid.uuid4().hex  # who claimed a job (visible in the job document)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.idle = threading.Semaphore(workers)
        self.work = queue.Queue()
        self.events = queue.Queue()
        self.threads = [threading.Thread(target=self._worker, name=f"harbor-job-{i}", daemon=True)
                        for i in range(workers)]
        self.threads += [threading.Thread(target=self._poller, name="harbor-job-poller", daemon=True),
                         threading.Thread(target=self._scheduler, name="harbor-scheduler", daemon=True),
                         threading.Thread(target=self._event_loop, name="harbor-events", daemon=True)]

    def start(self):
        with _RUNNERS_LOCK:
            _RUNNERS.add(self)
        self.beat()
        for thread in self.threads:
            thread.start()
        self.wake.set()
        return self

    def stop(self, timeout=5.0):
        self.stopping.set()
        self.wake.set()
        self.events.put(None)
        for _ in range(len(self.threads)):
            self.work.put(None)
        for thread in self.threads:
            thread.join(timeout)
        with _RUNNERS_LOCK:
            _RUNNERS.discard(self)
        self.forget()

    # -- registry events: queued, so listeners never touch the database in the caller's thread
    def enqueue_event(self, event):
        if not self.stopping.is_set():
            self.events.put(dict(event))

    def _event_loop(self):
        while True:
            event = self.events.get()
            if event is None or self.stopping.is_set():
                return self.emulator.store.close()  # this thread's connection
            for handler in list(EVENT_HANDLERS):
                try:
                    handler(self.emulator, event)
                except Exception:
                    traceback.print_exc(file=sys.stderr)

    # -- jobs --------------------------------------------------------------------------
    def _poller(self):
        while not self.stopping.is_set():
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()
            while not self.stopping.is_set() and self.idle.acquire(blocking=False):
                job = self._claim()
                if job is None:
                    self.idle.release()
                    break
                self.work.put(job)
        self.emulator.store.close()

    def _claim(self):
        try:
            with self.emulator.store.tx() as tx:
                for candidate in tx.list("job"):
                    if candidate["type"] not in HANDLERS or not self._claimable(tx, candidate):
                        continue
                    job = tx.get("job", candidate.oid, for_update=True)
                    if job is None or not self._claimable(tx, job):
                        continue  # another process took it while we looked
                    job.update(status="Running", owner=self.owner)
                    tx.update("job", job.oid, dict(job))
                    return job
        except Exception:
            traceback.print_exc(file=sys.stderr)
        return None

    def _claimable(self, tx, job):
        """Pending, or Running for a runner that stopped beating (its process died)."""
        if job["status"] == "Pending":
            return True
        if job["owner"] == self.owner:
            return False
        owner = tx.get_by_name("job_owner", job["owner"])
        return owner is None or owner["seen"] < time.time() - STALE_SECONDS

    # -- heartbeat ---------------------------------------------------------------------
    def beat(self):
        try:
            with self.emulator.store.tx() as tx:
                doc = tx.get_by_name("job_owner", self.owner)
                if doc is None:
                    oid = tx.next_id("job_owner")
                    tx.insert("job_owner", oid, {"owner": self.owner, "seen": time.time()}, name=self.owner)
                else:
                    doc["seen"] = time.time()
                    tx.update("job_owner", doc.oid, dict(doc))
        except Exception:
            traceback.print_exc(file=sys.stderr)

    def forget(self):
        """A runner stopping cleanly leaves no heartbeat behind (unless it still owns a job)."""
        try:
            with self.emulator.store.tx() as tx:
                if any(job["owner"] == self.owner for job in tx.list("job")):
                    return
                doc = tx.get_by_name("job_owner", self.owner)
                if doc is not None:
                    tx.delete("job_owner", doc.oid)
        except Exception:
            traceback.print_exc(file=sys.stderr)

    def _worker(self):
        while True:
            job = self.work.get()
            if job is None:
                return self.emulator.store.close()
            try:
                HANDLERS[job["type"]](self.emulator, job["ref"])
            except Exception:
                traceback.print_exc(file=sys.stderr)
            finally:
                self._finish(job)

    def _finish(self, job):
        try:
            with self.emulator.store.tx() as tx:
                tx.delete("job", job.oid)
        except Exception:
            traceback.print_exc(file=sys.stderr)
        self.idle.release()
        self.wake.set()

    # -- cron ----------------------------------------------------------------------------
    def _scheduler(self):
        last, beaten = utcnow(), time.monotonic()
        while not self.stopping.wait(SCHEDULER_SECONDS):
            now = utcnow()
            fire_due(self.emulator, last, now)
            last = now
            if time.monotonic() - beaten >= HEARTBEAT_SECONDS:
                self.beat()
                beaten = time.monotonic()
        self.emulator.store.close()


def attach(emulator):
    from . import replicator  # noqa: F401  (registers the replication job and event handlers)
    from .resources import gc  # noqa: F401  (registers the GC job and schedule)

    runner = Runner(emulator, workers=configured_workers()).start()
    emulator.jobs = runner
    emulator.listeners.append(runner.enqueue_event)
    background = getattr(emulator, "background", None)
    if background is not None:
        background.append(lambda: detach(emulator))
    return runner


def detach(emulator):
    runner = getattr(emulator, "jobs", None)
    if runner is None:
        return
    if runner.enqueue_event in emulator.listeners:
        emulator.listeners.remove(runner.enqueue_event)
    runner.stop()
