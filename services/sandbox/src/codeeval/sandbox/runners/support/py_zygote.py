"""The Python zygote: runs INSIDE a slot's long-lived bubblewrap sandbox (backends/zygote.py starts
it) and forks every judged run of that slot into fresh namespaces, without an exec or an
interpreter start.

usage: python3 -I -S -B py_zygote.py CONTROL_FD FILTER_FD
  CONTROL_FD: the host's control socket (SOCK_SEQPACKET); FILTER_FD: the seccomp BPF program
  (-1: none).

The zygote is uid 0 of a user namespace (with its capabilities there) that maps exactly two uids:
0 (the zygote, a host uid of its own) and 1 (the candidate, the slot's host uid). It imports the
candidate worker (py_candidate, py_codec from /worker) and a few common standard-library modules,
makes itself not dumpable, says ``R`` on fd 3 and then serves one message per run: a JSON header
(the run's limits) with five fds (SCM_RIGHTS): stdin, stdout, stderr, the judge channel and the
run's own control socket (SOCK_STREAM). It never receives a run's source, test code or expected
values: the source goes from the host straight to the run's child on that control socket.

Per run:
- Ahead of each run (at start, then while the slot's previous run runs) the zygote unshares the
  mount, pid, net, ipc and uts namespaces, forks a *spare* C2 (pid 1 of the new pid namespace, in
  all five new ones) and goes back to its own namespaces with ``setns`` (it keeps an fd of each).
  The spare makes its mounts private, mounts a new /proc, sets the hostname, brings its loopback
  up and waits on a socketpair of its own. A run's message and fds are forwarded to it, so the
  run starts at C2's first step below; a spare that died is replaced at once (the run is not
  failed). No other process per run. When C2's pidfd says it ended, the zygote reaps it and
  reports ``S`` + its wait status (int32) on the run's control socket, which only the zygote holds
  by then (C2 closes its copy before any candidate code runs).
- C2 reads the host's first message on the run's control socket (the source's size, with a
  descriptor per run cgroup that the host opened) and moves itself into the run's cgroups by
  writing ``0`` to each; sends ``P`` with SCM_CREDENTIALS (the host sees its pid in the host's pid
  namespace) and a pidfd of itself, without waiting for an answer, and reads the source (UTF-8),
  which the host sent right after the first message. Then: stdio on 0/1/2, a new cgroup
  namespace, fresh size-capped tmpfs on /tmp and /dev/shm, a tmpfs on /code holding main.py
  (then read-only), rlimits, every other fd
  closed, a new session, the ambient capabilities dropped (the bounding set is empty: the zygote
  emptied its own at start), uid/gid 1 (which clears the permitted and effective sets), the
  inheritable set cleared, no_new_privs, the seccomp filter; then it forks C3, in which
  py_candidate serves the judge, and stays as the run's init (reaps, exits with C3's code or
  128 + its signal). Any setup failure is written to stderr as ``zygote: ...`` before the
  candidate's start marker, exit 1 (a SANDBOX_ERROR).

Costs: per run one unshare and five setns in the zygote, a fork each for C2 and C3 (a page-table
copy of the warm interpreter), five mounts; the spare's share (the unshare, C2's fork and its
``_prepare``) is paid while the previous run runs, off the run's path. See bench/sandbox/README.md
for the measured split.
The zygote's start is one python3 (~50 ms, once per slot).
"""

import contextlib
import ctypes
import fcntl
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import types

NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWPID, NEWNET = 0x20000, 0x02000000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 1 << 14, 1 << 18)
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAP_AMBIENT = 4, 24, 38, 22, 47
PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_MODE_FILTER, CAPS_V3 = 4, 2, 0x20080522
CANDIDATE_ID = 1
CODE_DIR = "/code"
#: Preloaded once: what most judged programs import. ``statistics`` imports ``random``, which
#: CPython reseeds in every forked child (``os.register_at_fork``; test_python_zygote_random.py);
#: nothing else with per-process random state.
PRELOAD = ("re", "math", "collections", "itertools", "functools", "heapq", "string", "typing", "bisect",
           "operator", "traceback", "fractions", "decimal", "statistics", "hashlib")

#: The fixed, trusted program and call the zygote runs once before its first run (``_warm``).
WARM_SOURCE = '''from typing import List


def warm(numbers: List[int], word: str) -> List[int]:
    """The zygote's warm-up; never a run's code."""
    seen = {n: n * 2 for n in numbers if n % 2 == 0}
    return sorted(seen.values()) + [len(word.split()), int(max(numbers, default=0) ** 0.5)]
'''
#: Calls of the warm-up: more than the interpreter's warm-up count, so that the hot paths are
#: specialised once here rather than in every run.
WARM_CALLS = 20

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


class SetupError(Exception):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)} (errno {err})")


def _mount(source: bytes, target: str, kind: bytes | None, flags: int, data: str | None) -> None:
    _check(libc.mount(source, target.encode(), kind, flags, data.encode() if data else None), f"mount {target}")


def _recv_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise SetupError("the host hung up before the run started")
        buf += chunk
    return bytes(buf)


SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40


def _loopback_up() -> None:
    """Bring the run's ``lo`` up (the kernel gives it 127.0.0.1), as bwrap does in every sandbox: a
    program may serve itself on localhost. C2 still holds CAP_NET_ADMIN in the run's new network
    namespace, which the zygote's user namespace owns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


def _prepare() -> None:
    """A spare C2, before any run is its own: what does not depend on a run (its mounts private, a
    new /proc of its pid namespace, the hostname, the loopback device)."""
    _mount(b"none", "/", None, MS_REC | MS_PRIVATE, None)
    _mount(b"proc", "/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    _check(libc.sethostname(b"sandbox", 7), "sethostname")
    _loopback_up()


def _isolate(req: dict, source: bytes, keep: int, bpf: bytes) -> None:
    """C2, after its cgroup join: everything between a prepared spare's state and the candidate's."""
    _check(libc.unshare(NEWCGROUP), "unshare cgroup namespace")
    owner = f"uid={CANDIDATE_ID},gid={CANDIDATE_ID}"
    _mount(b"tmpfs", "/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={req['work_dir_bytes']},mode=0755,{owner}")
    _mount(b"tmpfs", "/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={req['shm_bytes']},mode=0755,{owner}")
    _mount(b"tmpfs", CODE_DIR, b"tmpfs", MS_NOSUID | MS_NODEV, f"size={len(source) + (64 << 10)},mode=0755")
    fd = os.open(f"{CODE_DIR}/main.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    view = memoryview(source)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)
    _mount(b"none", CODE_DIR, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    for name, value in req["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value[0], value[1]))
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)
    os.setsid()
    os.chdir("/tmp")
    # the bounding set is empty already: the zygote emptied its own at start (``_drop_bounding``)
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    os.setgroups([])
    os.setresgid(CANDIDATE_ID, CANDIDATE_ID, CANDIDATE_ID)
    os.setresuid(CANDIDATE_ID, CANDIDATE_ID, CANDIDATE_ID)  # clears the permitted and effective sets
    header, data = (ctypes.c_uint32 * 2)(CAPS_V3, 0), (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "clear the inheritable capabilities")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # dumpable again, as a process started by bwrap is: its /proc files are its own uid's (it may
    # read its own memory; ptrace and process_vm_* stay denied by seccomp)
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    if bpf:
        prog = SockFprog(len(bpf) // 8, bpf)
        _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0), "seccomp")


#: At most this many cgroup descriptors come with a run's first message (one per controller).
MAX_JOIN_FDS = 8


def _join_cgroups(sock: socket.socket) -> int:
    """C2's first act: read the host's first message on the run's control socket (the source's
    size, 8 bytes, with a descriptor per run cgroup, opened by the host) and move itself into each
    group by writing ``0`` (C2 is single-threaded; on cgroup v1 these are ``tasks`` files, which
    spares the RCU grace period a host-side attach waits); no candidate code has run yet and every
    later process of the run inherits the groups. Returns the source's size."""
    msg, fds, _flags, _addr = socket.recv_fds(sock, 8, MAX_JOIN_FDS)
    try:
        if not msg:
            raise SetupError("the host hung up before the run started")
        msg += _recv_exact(sock.fileno(), 8 - len(msg))
        for fd in fds:
            try:
                os.write(fd, b"0")
            except OSError as exc:
                raise SetupError(f"join the run's cgroup: {exc}") from None
    finally:
        for fd in fds:
            os.close(fd)
    return int(struct.unpack("<Q", msg)[0])


def _hello(sock: socket.socket) -> None:
    """``P`` to the host with C2's credentials (the kernel gives the host C2's pid in its own pid
    namespace) and a pidfd of C2, which stays valid whatever happens to that pid number. The host
    needs no answer: the run goes on at once."""
    creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    pidfd = os.pidfd_open(os.getpid())
    try:
        sock.sendmsg([b"P"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds),
                              (socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", pidfd))])
    finally:
        os.close(pidfd)


def _init(req: dict, fds: list[int], bpf: bytes) -> None:
    """C2: pid 1 of the run's pid namespace; isolates itself, forks the candidate worker (C3, so
    that the candidate is an ordinary process: one that signals itself dies) and stays its init.
    Never returns."""
    stdin, stdout, stderr, channel, control = fds
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
    try:
        sock = socket.socket(fileno=control)
        try:
            size = _join_cgroups(sock)
            _hello(sock)
        finally:
            sock.detach()
        source = _recv_exact(control, size)
        _isolate(req, source, channel, bpf)
    except (OSError, SetupError, ValueError, KeyError, TypeError) as exc:
        os.write(2, f"zygote: {exc}\n".encode(errors="replace"))
        os._exit(1)
    del source, req
    worker = os.fork()
    if worker == 0:
        import py_candidate

        py_candidate.serve(channel, f"{CODE_DIR}/main.py")
        os._exit(0)
    _reap_until(worker)


def _reap_until(worker: int) -> None:
    """C2 as the run's init: reap every orphan until the worker ends, then exit as bwrap's init
    does (the worker's code, or 128 + its signal); the pid namespace dies with C2. Signals from
    inside the namespace cannot end C2: an init without handlers ignores them."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == worker:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


#: The namespaces each run gets fresh from the zygote's (the cgroup namespace: C2, after its join).
RUN_NAMESPACES = (("mnt", NEWNS), ("pid", NEWPID), ("net", NEWNET), ("ipc", NEWIPC), ("uts", NEWUTS))


def _prefork(bpf: bytes, own: dict[int, int], keep_closed: list[int]) -> tuple[int, socket.socket]:
    """Fork a spare C2 into fresh namespaces ahead of its run (while the slot's current run runs):
    it prepares itself (``_prepare``) and waits on a socket of its own for one run's message, which
    the zygote forwards to it. Returns its pid and the zygote's end of that socket; the zygote is
    back in its own namespaces (``own``: flag -> an fd of the zygote's namespace) when this returns.
    Raises SetupError when the namespaces cannot be made, SystemExit when the zygote cannot return
    to its own (it must not serve another run). ``keep_closed``: the zygote's fds a spare closes."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        _check(libc.unshare(NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS), "unshare")
    except SetupError:
        mine.close()
        theirs.close()
        raise
    pid = os.fork()
    if pid == 0:
        try:
            mine.close()
            for fd in keep_closed:
                os.close(fd)
            _spare(theirs, bpf)
        finally:
            os._exit(1)
    theirs.close()
    for _name, flag in RUN_NAMESPACES:
        if libc.setns(own[flag], flag) != 0:
            err = ctypes.get_errno()
            raise SystemExit(f"zygote: cannot return to its own namespaces: {os.strerror(err)}")
    return pid, mine


def _spare(sock: socket.socket, bpf: bytes) -> None:
    """A spare C2: prepares itself, then becomes the C2 of the one run the zygote forwards (its
    header and five fds); exits when the zygote hangs up first. Never returns."""
    try:
        _prepare()
        failed = ""
    except (OSError, SetupError) as exc:
        failed = str(exc)
    try:
        msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 8)
    except OSError:
        os._exit(0)
    sock.close()
    if not msg:
        os._exit(0)
    try:
        req = json.loads(msg)
    except ValueError:
        req = {}
    if len(fds) != 5:
        failed = failed or f"expected 5 fds, got {len(fds)}"
    if failed:
        if len(fds) > 2:
            with contextlib.suppress(OSError):
                os.write(fds[2], f"zygote: {failed}\n".encode(errors="replace"))
        os._exit(1)
    _init(req, fds, bpf)


def _report(ctl: int, status: int) -> None:
    """C2's wait status to the host on the run's control socket, which is then closed."""
    try:  # noqa: SIM105 - a host that hung up needs no status
        os.write(ctl, b"S" + struct.pack("<i", status))
    except OSError:
        pass
    os.close(ctl)


def serve(control: socket.socket, bpf: bytes) -> None:
    """One message per run (see the module's docstring), forwarded to the spare C2 forked ahead of
    it (one is forked at once when there is none or it died); then the next run's spare is forked
    while this run runs. C2 of each run is the zygote's child, its exit seen through a pidfd and
    reported on the run's control socket. Returns at the host's EOF."""
    own = {flag: os.open(f"/proc/self/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name, flag in RUN_NAMESPACES}
    poller = select.poll()
    poller.register(control, select.POLLIN)
    runs: dict[int, tuple[int, int]] = {}  # pidfd -> (C2's pid, the run's control socket)

    def fork_spare() -> tuple[int, socket.socket] | str:
        keep_closed = [control.fileno(), *own.values(), *runs, *(c for _, c in runs.values())]
        try:
            return _prefork(bpf, own, keep_closed)
        except SetupError as exc:  # the run that needs it gets a fresh try, then this error
            return str(exc)

    spare = fork_spare()
    while True:
        for fd, _events in poller.poll():
            if fd in runs:
                pid, ctl = runs.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _report(ctl, os.waitpid(pid, 0)[1])
                continue
            try:
                msg, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 8)
            except OSError:
                return
            if not msg:
                return
            if len(fds) != 5:  # the host sees the run's socket end without a P: a SANDBOX_ERROR
                _refuse(fds, f"expected 5 fds, got {len(fds)}")
                continue
            if not isinstance(spare, tuple) or not _hand_off(spare, msg, fds):  # none, or it died
                _drop(spare)
                spare = fork_spare()
                if not isinstance(spare, tuple) or not _hand_off(spare, msg, fds):
                    _refuse(fds, spare if isinstance(spare, str) else "the run's init ended before its run")
                    _drop(spare)
                    spare = "no spare"
                    continue
            pid, sock = spare
            sock.close()
            for f in fds[:4]:
                os.close(f)
            pidfd = os.pidfd_open(pid)
            runs[pidfd] = (pid, fds[4])
            poller.register(pidfd, select.POLLIN)
            spare = fork_spare()


def _hand_off(spare: tuple[int, socket.socket], msg: bytes, fds: list[int]) -> bool:
    """Forward one run's message and fds to ``spare``; False when it is gone."""
    try:
        socket.send_fds(spare[1], [msg], fds)
    except OSError:
        return False
    return True


def _drop(spare: tuple[int, socket.socket] | str) -> None:
    """Kill and reap a spare that will not serve (a string: there was none)."""
    if isinstance(spare, tuple):
        spare[1].close()
        with contextlib.suppress(OSError):
            os.kill(spare[0], signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(spare[0], 0)


def _refuse(fds: list[int], why: str) -> None:
    """A run that cannot start: ``zygote: why`` on its stderr (a SANDBOX_ERROR), its fds closed."""
    if len(fds) > 2:
        with contextlib.suppress(OSError):
            os.write(fds[2], f"zygote: {why}\n".encode(errors="replace"))
    for f in fds:
        os.close(f)


def _drop_bounding() -> None:
    """Empty the zygote's capability bounding set, once: every C2 inherits it empty (one prctl per
    capability saved in every run). The zygote and C2 never exec, so the bounding set limits nothing
    they do; their permitted and effective sets (unshare, mounts, setuid) are untouched."""
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last = int(fh.read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")


def _warm() -> None:
    """Run once, on WARM_SOURCE, what every run's C2 and C3 run first: the compiler's one-time set-up
    (its AST types), a module's exec, the worker's channel loop (py_codec both ways, over a
    socketpair), a text file's open, the struct formats and ctypes functions of C2. A forked child
    pays every such first use again, in copy-on-write faults of the pages it writes: a fork of this
    zygote took ~1.1 ms and ~250 faults for its first ``compile`` of a HumanEval program, ~0.3 ms
    and ~100 after one warm-up compile here (bench/sandbox/README.md). Nothing here is secret or
    belongs to a run; it is collected before ``gc.freeze``. Cost: a few ms, once per zygote."""
    import py_candidate
    import py_codec

    module = types.ModuleType("__warm__")
    exec(compile(WARM_SOURCE, f"{CODE_DIR}/main.py", "exec"), module.__dict__)  # noqa: S102 - the fixed text above
    judge, worker = socket.socketpair()
    try:
        for seq in range(WARM_CALLS):
            judge.sendall(py_codec.pack({"op": "call", "seq": seq, "name": "warm", "args": py_codec.encode(
                ([seq, 2, 4], "a b")), "kwargs": py_codec.encode({}), "want_args": True}))
            py_candidate._send(worker.fileno(), py_candidate._call(module, py_candidate._recv(worker.fileno())))
            py_codec.loads(judge.recv(1 << 16)[4:])
    finally:
        judge.close()
        worker.close()
    with open(__file__, encoding="utf-8") as fh:
        fh.read()
    for fmt in ("<Q", "3i", "i", "<i", "16sH22x"):
        struct.calcsize(fmt)
    for name in ("unshare", "sethostname", "capset"):  # ctypes makes a function's object at first use
        getattr(libc, name)
    del module
    gc.collect()


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    bpf = b""
    if int(sys.argv[2]) >= 0:
        with os.fdopen(int(sys.argv[2]), "rb") as fh:
            bpf = fh.read()
    sys.path.insert(0, "/worker")
    import py_candidate  # noqa: F401 - warm: its site set-up and py_codec run once, here

    del sys.path[0]
    _drop_bounding()
    for name in PRELOAD:
        __import__(name)
    _warm()
    # the warm heap stays out of every run's collections: a collection in a run would otherwise
    # write to (and so copy) every page holding the zygote's objects
    gc.freeze()
    _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # runs' C2s are reaped through their pidfds
    control.sendall(b"R")
    serve(control, bpf)


if __name__ == "__main__":
    main()
