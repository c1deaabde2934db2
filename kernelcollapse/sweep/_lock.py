"""An exclusive lock on a file that a run writes (a sweep's results), held by the OS.

The lock is taken on a companion file ``<name>.lock`` with ``fcntl.flock`` (``msvcrt.locking``
on Windows).  We use the OS lock directly rather than a lock library because the OS releases it
whenever the holder ends, SIGKILL and power loss included, so a killed run never leaves a stale
lock to clean up; and because the lock file's content stays ours: the holder writes its pid and
host there, and a second run names them when it refuses (the content is advisory, the lock is
the kernel's).  The ``.lock`` file is left in place when released (deleting it would let two
runs lock two different files of the same name).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FileInUseError", "exclusive", "lock_path"]

# Polling interval while waiting for another run to finish (seconds).
_POLL = 0.1
# The Windows lock covers one byte far past the holder's text, so that the text stays readable.
_WINDOWS_OFFSET = 2**30


class FileInUseError(RuntimeError):
    """Another run holds the lock of the file (the message names the file and the holder)."""


def lock_path(path: Path) -> Path:
    """The lock file of ``path``: ``<path>.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise OSError(exc.errno, f"cannot lock {exc.filename or 'the lock file'} "
                          f"({exc.strerror}); the file system may not support locks: "
                          "write the results to a local directory") from None
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode(errors="replace").strip()
    return text or "holder not recorded yet"


def _write_holder(fd: int) -> None:
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    text = f"pid {os.getpid()} on host {socket.gethostname()}, since {started}\n"
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, *, wait: bool | float = False,
              what: str = "results file") -> Iterator[None]:
    """Hold the exclusive lock of ``path`` for the ``with`` block.

    Parameters
    ----------
    path : path
        The file to own (its lock is ``<path>.lock``; ``path`` itself need not exist).
    wait : bool or float
        ``False``: refuse at once if another run holds it; ``True``: wait until it is free;
        a number: wait at most that many seconds.
    what : str
        How the message calls the file.

    Raises
    ------
    FileInUseError
        Another run holds the lock (after ``wait`` seconds, if given): one line naming the file
        and the holder's pid and host.
    """
    path = Path(path)
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        deadline = None if wait is True else time.monotonic() + float(wait or 0)
        while not (locked := _try_lock(fd)):
            if deadline is not None and time.monotonic() >= deadline:
                waited = f" after waiting {float(wait):g} s" if wait else ""
                hint = "" if wait else "; wait for it to finish or ask to wait (--wait)"
                raise FileInUseError(f"{what} {path} is in use by another run ({_holder(fd)})"
                                     f"{waited}{hint}")
            time.sleep(_POLL)
        _write_holder(fd)
        yield
    finally:
        if locked:
            os.ftruncate(fd, 0)  # no stale holder text once released
            _unlock(fd)
        os.close(fd)
