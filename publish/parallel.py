"""A full render on several processes: the site split by country, each process rendering one share.

The stage of a wave renders 24 languages of about 30 pages and draws a social card for each; in
one process the second core of the machine stays idle. Here the render forks (``os.fork``: the
templates, catalogs and bundle are already loaded; not ``multiprocessing``, which refuses to start
children from a daemonic process such as a Celery or Airflow task) and the child renders its share
of the site into the same folder. The work is split **by country**: a country's pages and its cards
in every language are in one process, so its card panel (the same in all 24 languages) is drawn
once. The EU-wide pages and cards, the history pages, the feeds and the widget are blocks of their
own, placed so that the shares take about the same time (:func:`plan`).

Rules of the split:

* Every page is rendered from the same context in whichever process renders it, so the bytes are
  those of a one-process render (``tests/test_render_parallel.py`` compares every file).
* A child returns what it wrote, the fingerprints of its pages and, for an incremental render on an
  object store, the pages it took from the previous version, through a pipe; the parent merges them,
  then the caller builds the manifest and signs (gpg stays in the parent process).
* A child that fails fails the render with its error (:class:`RenderProcessError`); a failure in the
  parent kills the children. Nothing is sealed either way.
* The fork happens while this thread holds the render lock and no other render runs; the card
  painters of a split render draw in their own process (no helper process of their own).

The number of processes: ``ENR_RENDER_PROCESSES`` (read at each render), else the CPUs this process
may use (``os.sched_getaffinity``), at most :data:`DEFAULT_MAX`. A render with little work (an
incremental render where one country changed) stays in one process: see :data:`MIN_CHILD_WORK`.
"""
from __future__ import annotations

import logging
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "ENR_RENDER_PROCESSES"
DEFAULT_MAX = 2

# The cost of each block in units of one country's pages and cards in every language, from CPU
# seconds measured on the fixture bundle (24 languages, cards drawn cold; a country 0.15-0.2 s:
# site 6.5-5.7 units, history 17-16.8, feeds 1-0.7) and on the bench's wave, whose split render
# (history + 8 countries against the rest) showed the history nearer 15 units:
SITE_WIDE = 6.0           # EU page and card, group pages, comparison, methodology, ...: ~1.1 s
SITE_ASSETS = 0.05        # the assets and the language chooser, when the EU-wide pages are split by language
HISTORY = 15.0            # the history pages (render_history, every language): ~3 s
FEEDS = 0.7               # data/: 0.14 s
WIDGET = 0.1              # widget/: 0.01 s
HISTORY_COPIED = 0.9      # an incremental render with the same history copies its pages: 0.17 s
COUNTRY_COPIED = 0.06     # an unchanged country in an incremental render (fingerprints, hard links)
# A country's pages and cards grow with its lists (its page's tables, its card's rows): measured on the
# bench's wave, 0.18-0.28 s for 7-16 lists, 0.30-0.39 s for 34-44 (CZ, FR, DE, UK), cards drawn cold.
# In units of a country of ~8 lists, for :func:`country_weight`:
COUNTRY_BASE = 0.85
COUNTRY_PER_LIST = 0.02
# Every process computes the per-language views of every country (0.51 s for 24 languages, 2.6
# units) and a fork costs 11 ms (165 MB process): a child must get at least that much real work,
# or the split only burns CPU that the other renders on the machine could use; and a margin for
# the fork, the pipe and the noise of these figures: 4 units (0.8 s).
MIN_CHILD_WORK = 4.0

BLOCKS = ("site", "history", "feeds", "widget")


class RenderProcessError(RuntimeError):
    """A process of a split render failed: the render fails with its error, nothing is sealed."""


class RenderSettingError(ValueError):
    """``ENR_RENDER_PROCESSES`` is not a whole number of processes (1 or more)."""


@dataclass(frozen=True)
class Share:
    """What one process renders: the pages and cards of ``countries`` (codes) in every language, and
    the blocks named in ``blocks`` (``site``: every page and card that is not a country's, the
    assets and the language chooser; ``history``; ``feeds``; ``widget``)."""

    index: int
    countries: frozenset
    blocks: frozenset
    # the EU-wide pages and cards split by language: blocks ``site:<lang>`` (``site`` keeps the
    # assets and the language chooser)
    site_by_language: bool = False

    def has(self, block: str) -> bool:
        return block in self.blocks

    def country(self, code: str) -> bool:
        return code in self.countries

    def owns(self, key: str) -> bool:
        """Whether this share renders the page or card at ``key`` (``<lang>/country/<cc>.html``,
        ``cards/<lang>/<cc>.png``: its country's; any other page or card: the ``site`` block's)."""
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "cards" and parts[2] != "eu.png":
            return parts[2].removesuffix(".png").upper() in self.countries
        if len(parts) == 3 and parts[1] == "country":
            return parts[2].removesuffix(".html").upper() in self.countries
        if self.site_by_language and len(parts) >= 2:
            return self.has(f"site:{parts[1] if parts[0] == 'cards' else parts[0]}")
        return self.has("site")

    def describe(self) -> str:
        return f"share {self.index} ({', '.join(sorted(self.blocks)) or 'no block'}; " \
               f"countries {', '.join(sorted(self.countries)) or 'none'})"


def processes() -> int:
    """The processes a full render may use: ``ENR_RENDER_PROCESSES`` if set, else the CPUs this
    process may run on, at most :data:`DEFAULT_MAX`."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            count = int(raw)
        except ValueError:
            count = 0
        if count < 1:
            raise RenderSettingError(f"{ENV}={raw!r}: give a whole number of render processes, 1 or more")
        return count
    return max(1, min(DEFAULT_MAX, usable_cpus()))


def usable_cpus() -> int:
    """The CPUs this process may run on (``os.sched_getaffinity``: a container's or ``taskset``'s
    limit, not the machine's count), at least 1: what a render, the card helpers and the hashing
    threads of sealing and staging size themselves by."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus)


def country_weight(country: dict) -> float:
    """A country's share of a full render, in the units of :func:`plan`, from its bundle entry."""
    return COUNTRY_BASE + COUNTRY_PER_LIST * len(country.get("lists") or ())


def _is_block(name: str) -> bool:
    return name in BLOCKS or name.startswith("site:")


def plan(countries: Iterable[str], count: int, *, history: bool, history_changed: bool = True,
         changed: Iterable[str] | None = None, languages: Iterable[str] | None = None,
         weights: dict[str, float] | None = None) -> list[Share]:
    """Split a render into at most ``count`` shares of about the same work (largest blocks first,
    each to the least loaded share). ``changed`` (an incremental render): the countries whose pages
    will be rendered again; the others are copied, and weigh little, as the history pages do when
    ``history_changed`` is false.

    One share (everything) when ``count`` is 1 or when a child's share would hold less than
    :data:`MIN_CHILD_WORK`. ``languages``: the EU-wide pages and cards are split by language too
    (blocks ``site:<lang>``; ``site`` keeps the assets and the language chooser), so that an
    incremental render, where they are most of the work, is shared out as well. ``weights``: a
    country's work when its pages are rendered (:func:`country_weight`; 1.0 where not given)."""
    codes = sorted(countries)
    languages = sorted(languages or ())
    blocks = {"site": SITE_ASSETS if languages else SITE_WIDE, "feeds": FEEDS, "widget": WIDGET}
    blocks.update({f"site:{lang}": SITE_WIDE / len(languages) for lang in languages})
    if history:
        blocks["history"] = HISTORY if history_changed else HISTORY_COPIED
    changed_set = set(codes) if changed is None else set(changed)
    items = [(weight, name) for name, weight in blocks.items()]
    items += [((weights or {}).get(code, 1.0) if code in changed_set else COUNTRY_COPIED, code) for code in codes]
    everything = [Share(0, frozenset(codes), frozenset(BLOCKS))]  # one process: "site" owns every language
    if count <= 1:
        return everything
    loads = [0.0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for weight, name in sorted(items, key=lambda item: (-item[0], item[1])):
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += weight
        members[target].append(name)
    if min(loads[1:]) < MIN_CHILD_WORK:
        return everything
    return [Share(i, frozenset(m for m in names if not _is_block(m)), frozenset(m for m in names if _is_block(m)),
                  site_by_language=bool(languages)) for i, names in enumerate(members)]


@dataclass
class Part:
    """What one process rendered: its files, its pages' fingerprints, the pages it took unchanged
    from the previous version in the object store (``Reuse.copied``)."""

    written: list
    prints: dict
    copied: dict
    checked: dict = field(default_factory=dict)  # Reuse.checked: copied files linked and still those read


def run(shares: list[Share], render: Callable[[Share], Part]) -> list[Part]:
    """Render ``shares[0]`` here and each other share in a forked child; returns every share's part,
    in share order. Raises :class:`RenderProcessError` when a child fails (after all have ended)."""
    started, cpu = time.perf_counter(), time.process_time()
    children: list[tuple[Share, int, int]] = []
    try:
        for share in shares[1:]:
            children.append(_fork(share, render))
        parts = [render(shares[0])]
        here = time.process_time() - cpu
        outcomes = [_collect(share, pid, fd) for share, pid, fd in children]
        children = []
    except BaseException:
        for _, pid, fd in children:  # no child outlives a failed render
            _kill(pid, fd)
        raise
    failures = [(share, error) for share, (error, _, _) in zip(shares[1:], outcomes) if error is not None]
    if failures:
        share, error = failures[0]
        raise RenderProcessError(f"render {share.describe()} failed: {error}")
    parts += [part for _, part, _ in outcomes]
    log.info("split render: processes=%d seconds=%.2f cpu_parent=%.2f cpu_children=%s", len(shares),
             time.perf_counter() - started, here, ",".join(f"{cpu:.2f}" for _, _, cpu in outcomes))
    return parts


def _fork(share: Share, render: Callable[[Share], Part]) -> tuple[Share, int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return share, pid, read_fd
    # the child: render its share, send the result, and leave without running the parent's exit code
    status = 1
    try:
        os.close(read_fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # killed means gone, whatever the parent installed
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _end_with_parent()
        records = _keep_log_records()
        try:
            part = render(share)
            payload = ("ok", part, time.process_time(), records)
            status = 0
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            log.error("render %s failed:\n%s", share.describe(), traceback.format_exc())
            payload = ("error", f"{type(exc).__name__}: {exc}", time.process_time(), records)
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
    finally:
        os._exit(status)


def _keep_log_records() -> list[tuple[str, int, str]]:
    """In the child: log lines are kept, not written, and the parent logs them when the child is done
    (:func:`_collect`). The child inherited the parent's handlers, and under Airflow a task's log is
    one stream to its supervisor: two processes writing it at once could interleave their frames."""
    kept: list[tuple[str, int, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                kept.append((record.name, record.levelno, record.getMessage()))
            except Exception:  # noqa: BLE001 - a bad format string is not worth a failed render
                kept.append((record.name, record.levelno, str(record.msg)))

    for logger in [logging.getLogger(), *[item for item in logging.Logger.manager.loggerDict.values()
                                          if isinstance(item, logging.Logger)]]:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
    logging.getLogger().addHandler(Keep())
    return kept


def _end_with_parent() -> None:
    """Linux: the child is killed when its parent dies (a task killed by Airflow or an operator leaves
    no renderer writing into a folder nobody will seal). Elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


def _collect(share: Share, pid: int, fd: int) -> tuple[str | None, Part | None, float]:
    """Read a child's result and wait for it; returns (error or None, part, CPU seconds)."""
    chunks = []
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    payload = None
    if chunks:
        try:
            payload = pickle.loads(b"".join(chunks))
        except Exception as exc:  # noqa: BLE001 - a truncated result is a failed child
            return f"unreadable result ({exc}), exit status {status}", None, 0.0
    if payload is None:
        code = os.waitstatus_to_exitcode(status)
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"process {pid} ended without a result ({how})", None, 0.0
    kind, value, cpu, records = payload
    for name, level, message in records:  # the child's log lines, in the parent's log
        logging.getLogger(name).log(level, "[render child %d] %s", pid, message)
    if kind != "ok" or os.waitstatus_to_exitcode(status) != 0:
        return (value if kind != "ok" else f"exit status {status}"), None, cpu
    return None, value, cpu


def _kill(pid: int, fd: int) -> None:
    for end in (lambda: os.kill(pid, signal.SIGKILL), lambda: os.close(fd), lambda: os.waitpid(pid, 0)):
        try:
            end()
        except OSError:  # already ended, closed or reaped (ChildProcessError, ProcessLookupError)
            pass


def merge(parts: list[Part], fingerprints: dict | None, copied: dict | None,
          checked: dict | None = None) -> list[Path]:
    """The parts as one render's result: every file written (parent's first), the fingerprints,
    copied pages and their checked links added to the caller's."""
    written: list[Path] = []
    for part in parts:
        written += [Path(path) for path in part.written]
        if fingerprints is not None:
            fingerprints.update(part.prints)
        if copied is not None:
            copied.update(part.copied)
        if checked is not None:
            checked.update(part.checked)
    return written


__all__ = ["DEFAULT_MAX", "ENV", "Part", "RenderProcessError", "RenderSettingError", "Share", "merge", "plan",
           "processes", "run", "usable_cpus"]
