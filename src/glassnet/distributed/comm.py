"""Communicators: the seam between the data-parallel fit and its transport.

``Communicator`` is the interface (rank, size, in-place sum, broadcast, abort); ``SerialCommunicator``
is one process (every collective is the identity), ``MPICommunicator`` runs on MPI through mpi4py
(``pip install "glassnet[mpi]"``). Array collectives work in place on contiguous NumPy buffers, without
pickling (``Allreduce(MPI.IN_PLACE, ...)``); small Python objects (logs, a seed) go through the pickling
``bcast``/``gather``. Each communicator adds the seconds spent in array collectives to ``seconds``.

``init()`` chooses: MPI when the process was started by an MPI launcher (``mpiexec``, ``srun``: see
``launched_under_mpi``) or mpi4py is already initialised, else serial. It is called once; ``world()``,
``rank()`` and ``size()`` call it on first use.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any, NoReturn

import numpy as np

from .._typing import Array
from ..errors import ConfigError, MissingDependencyError, require

# Variables that MPI launchers set in every process they start (MPICH/Hydra and Intel MPI, Open MPI,
# PMIx launchers, MVAPICH, Slurm's srun with PMI-2).
LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE", "PMI_RANK")


class Communicator:
    """A group of ``size`` processes; this one is number ``rank`` (0 is the one that writes)."""

    rank: int = 0
    size: int = 1
    seconds: float = 0.0  # time spent in array collectives (allreduce_, bcast_)

    def allreduce_(self, buffer: Array) -> Array:
        """buffer <- sum of ``buffer`` over all processes, in place (contiguous array); returns it."""
        raise NotImplementedError

    def bcast_(self, buffer: Array, root: int = 0) -> Array:
        """buffer <- root's ``buffer``, in place; returns it."""
        raise NotImplementedError

    def iallreduce_(self, buffer: Array) -> Any:
        """Start buffer <- sum over all processes, in place; returns a request for ``wait_all``. Until then
        the buffer must not be touched. The default sums at once (``allreduce_``) and returns ``None``."""
        self.allreduce_(buffer)
        return None

    def poll(self, requests: list[Any]) -> None:
        """Let the requests in flight progress (MPI moves non-blocking messages on inside MPI calls)."""

    def wait_all(self, requests: list[Any]) -> None:
        """Wait until every request of ``iallreduce_`` is done (``None`` entries are done already)."""

    def bcast_object(self, obj: Any, root: int = 0) -> Any:
        """Root's ``obj`` (a small picklable object), on every process."""
        raise NotImplementedError

    def gather_object(self, obj: Any, root: int = 0) -> list[Any] | None:
        """On ``root``: every process's ``obj``, in rank order; elsewhere ``None``."""
        raise NotImplementedError

    def barrier(self) -> None:
        """Wait until every process gets here."""
        raise NotImplementedError

    def abort(self, code: int = 1) -> NoReturn:
        """End every process of the group with exit status ``code`` (no deadlock on a failed rank)."""
        raise NotImplementedError


class SerialCommunicator(Communicator):
    """One process: the sum over processes is the buffer itself."""

    def allreduce_(self, buffer: Array) -> Array:
        return buffer

    def bcast_(self, buffer: Array, root: int = 0) -> Array:
        return buffer

    def bcast_object(self, obj: Any, root: int = 0) -> Any:
        return obj

    def gather_object(self, obj: Any, root: int = 0) -> list[Any] | None:
        return [obj]

    def barrier(self) -> None:
        return None

    def abort(self, code: int = 1) -> NoReturn:
        raise SystemExit(code)


class MPICommunicator(Communicator):
    """MPI through mpi4py: ``Allreduce``/``Bcast`` on NumPy buffers in place, ``Abort`` on failure.

    Args:
        comm: An ``mpi4py.MPI.Comm``; ``None`` is ``MPI.COMM_WORLD``.
    """

    def __init__(self, comm: Any = None) -> None:
        MPI = _mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self.seconds = 0.0

    def allreduce_(self, buffer: Array) -> Array:
        _check_contiguous(buffer, "allreduce_")
        start = time.perf_counter()
        self.comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
        self.seconds += time.perf_counter() - start
        return buffer

    def bcast_(self, buffer: Array, root: int = 0) -> Array:
        _check_contiguous(buffer, "bcast_")
        start = time.perf_counter()
        self.comm.Bcast(buffer, root=root)
        self.seconds += time.perf_counter() - start
        return buffer

    def iallreduce_(self, buffer: Array) -> Any:
        _check_contiguous(buffer, "iallreduce_")
        start = time.perf_counter()
        request = self.comm.Iallreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
        self.seconds += time.perf_counter() - start
        return request

    def poll(self, requests: list[Any]) -> None:
        live = [r for r in requests if r is not None]
        if live:
            self._MPI.Request.Testall(live)

    def wait_all(self, requests: list[Any]) -> None:
        live = [r for r in requests if r is not None]
        if live:
            start = time.perf_counter()
            self._MPI.Request.Waitall(live)
            self.seconds += time.perf_counter() - start

    def bcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def gather_object(self, obj: Any, root: int = 0) -> list[Any] | None:
        return self.comm.gather(obj, root=root)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.2)  # let mpiexec forward the message before Abort tears every rank down
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: Abort ends the process


def _check_contiguous(buffer: Array, what: str) -> None:
    if not (isinstance(buffer, np.ndarray) and buffer.flags.c_contiguous):
        raise ConfigError(f"Communicator.{what}: needs a C-contiguous NumPy array, got "
                          f"{type(buffer).__name__}; hint: pass np.ascontiguousarray(a) and copy the result back")


def _mpi() -> Any:
    """``mpi4py.MPI``, or a MissingDependencyError naming the extra (importing it initialises MPI)."""
    try:
        require("mpi4py", "mpi")
        from mpi4py import MPI
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        raise MissingDependencyError(f"mpi4py is installed but cannot load an MPI library ({exc}); "
                                     'run: pip install "glassnet[mpi]" (it brings the mpich wheel)') from exc
    return MPI


def launched_under_mpi() -> bool:
    """True in a process started by an MPI launcher (its environment variables) or once mpi4py's MPI is
    imported (``python -m mpi4py ...``); false for a plain ``python``/``glassnet`` command."""
    return "mpi4py.MPI" in sys.modules or any(name in os.environ for name in LAUNCHER_VARIABLES)


_world: Communicator | None = None


def init(comm: Communicator | str | None = None, abort_on_exception: bool = True) -> Communicator:
    """Choose the communicator of this process and return it (later calls return the same one).

    Args:
        comm: ``None``/"auto": MPI when ``launched_under_mpi()``, else serial; "mpi" or "serial" forces
            one; or a ``Communicator`` to use.
        abort_on_exception: With more than one process, an uncaught exception on any rank prints its
            traceback and calls ``abort(1)``, so the other ranks do not wait for it forever.

    Raises:
        MissingDependencyError: MPI is asked for (or the process runs under ``mpiexec``) but mpi4py is
            not installed: ``pip install "glassnet[mpi]"``.
    """
    global _world
    if _world is not None and comm is None:
        return _world
    if isinstance(comm, Communicator):
        _world = comm
    elif comm in (None, "auto"):
        _world = MPICommunicator() if launched_under_mpi() else SerialCommunicator()
    elif comm == "mpi":
        _world = MPICommunicator()
    elif comm == "serial":
        _world = SerialCommunicator()
    else:
        raise ConfigError(f"distributed.init: comm must be 'auto', 'mpi', 'serial' or a Communicator, got {comm!r}")
    if abort_on_exception and _world.size > 1:
        install_abort_hook(_world)
    return _world


def install_abort_hook(comm: Communicator) -> None:
    """Make an uncaught exception print its traceback (with the rank) and abort every process."""
    previous = sys.excepthook

    def hook(kind: Any, value: Any, tb: Any) -> None:
        print(f"glassnet.distributed: rank {comm.rank} of {comm.size} failed:", file=sys.stderr)
        previous(kind, value, tb)
        comm.abort(1)

    sys.excepthook = hook


def report_and_abort(comm: Communicator, exc: BaseException) -> NoReturn:
    """Print ``exc`` with its traceback, naming the rank, then end every process (exit status 1)."""
    print(f"glassnet.distributed: rank {comm.rank} of {comm.size} failed, aborting all ranks:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    comm.abort(1)


def world() -> Communicator:
    """This process's communicator (``init()`` on first use)."""
    return _world if _world is not None else init()


def rank() -> int:
    """This process's number, 0 .. size() - 1 (0 when not under MPI)."""
    return world().rank


def size() -> int:
    """How many processes train together (1 when not under MPI)."""
    return world().size
