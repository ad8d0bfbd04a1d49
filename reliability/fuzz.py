"""Bad input, on every RPC: requests generated from the proto descriptors (hypothesis) against the
real four services started on loopback; one :class:`~reliability.report.Section` per service.

Per service: start it (``codeeval serve`` as a child process, state and logs in ``ctx.workdir``),
warm it up to its RSS plateau (its warm hook, then rounds of requests: :data:`WARMUP_SHARE`), read
its footprint (RSS of the service process, open fds and processes of its tree; the RSS judged from
the top of the warm-up's band: :func:`warm_baseline`), send the measured pass, read it again, check
it still answers SERVING. Per RPC the row gives the requests sent, the statuses seen with counts,
the slowest answer and the violations; the section's problems give each violation with the shortest
reproducer seen.

Bounds: requests per RPC ``ctx.count(PER_RPC)``; time: the whole area's loops share
:data:`AREA_SECONDS` (short: 30 s, full: 13 min) in proportion to each service's RPCs (time a
service leaves unused goes to the next), each request has a ``HANG_S`` deadline; all traffic goes to
127.0.0.1. A warm-up that has not reached the plateau within its share goes on, for at most
:data:`MAX_WARMUP_ROUNDS` rounds in all; each round has at least its ``warm_round`` share of the
measured pass's time (at most 12 x 0.08 of it on top, the sandbox's 12 x 0.2). Generate is capped
at 2 new tokens and 2 samples of 3 prompts (larger, over-the-limit values are kept: they must be
refused); every training job a valid StartTraining starts is cancelled at once.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hseed
from hypothesis.errors import HypothesisWarning

from codeeval.kit.client import LocalService, open_channel
from reliability.context import Context, environment
from reliability.fuzz_checks import ALLOWED, Answer, Resources, Tally, resource_problems, resources, violation
from reliability.fuzz_strategies import Case, Targets, cases, field_names, message_class, plan
from reliability.load_checks import PLATEAU_GROWTH, PLATEAU_ROUNDS, plateau_level, plateau_reached, rss_bytes
from reliability.report import Section

#: Requests per RPC in the full profile (``ctx.count`` scales it).
PER_RPC = 2000
#: Seconds of request loops for all four services, per profile (start-ups, warm-ups and settling
#: come on top: short ~90 s in all on an idle 2-core machine, full ~15 min); another profile gets
#: ``AREA_FACTOR`` times its per-section seconds.
AREA_SECONDS = {"short": 30.0, "full": 780.0}
AREA_FACTOR = 1.5
#: The warm-up: after the service's warm hook, rounds of WARMUP_SHARE / WARMUP_ROUNDS of its time each
#: (as many requests as fit, up to the service's ``warm_round`` share of the measured pass's count per
#: RPC: a tenth, the sandbox's a quarter; a new hypothesis seed each round) until its RSS reaches the
#: plateau (:func:`~reliability.load_checks.plateau_reached`, the analyzer load figure's rule: the last
#: 2 rounds left it under 1% over its highest reading before them), at least WARMUP_ROUNDS rounds and at most
#: MAX_WARMUP_ROUNDS (then the figure says the plateau was not reached). The measured pass keeps its
#: (1 - WARMUP_SHARE) of the time however long the warm-up took.
#: Measured on the analyzer (full tables, rounds of ~10 s of its three RPCs): RSS 272 MiB after the
#: warm hook, ~300 after 2-3 rounds, then within 2% over 5,000 more requests; the old fixed warm-up (a
#: fifth of the time) could stop before that. (A steady creep of ~0.5 MiB a round seen beside it was
#: a leak, not the allocator: Score's sacrebleu tokenizer caches, fixed in the analyzer.)
#: The sandbox's creep (issue 18: 144.2 -> 151.6 MiB, +5.1%, in one full run) is drift, not a leak:
#: 12,000 requests in rounds of 1,200 after its warm hook took RSS 141 -> 146 (3,600) -> 151 (6,000)
#: -> 149-153 MiB (to 12,000), all anonymous memory; live Python blocks and gc objects came back to
#: the post-warm-up counts after each round (474k/100k -> 476k-491k/101k-103k) and glibc's in-use heap
#: stayed at 31.5-33 MiB; MALLOC_ARENA_MAX=1 gave the same curve (152 peak, 149 at the end) and
#: malloc_trim(0) gave back 1.8 MiB: not glibc's arenas either, but freed memory held in partly used
#: pages (CPython's obmalloc arenas), which levels off ~10 MiB above the warm-up's end. The plateau
#: rule could not see it in rounds of 200 requests per RPC (~0.3 MiB, 0.2%, a round): it declared the
#: plateau at ~143 MiB, 1,800 requests in, and the measured pass's 6,000 then showed the rest of the
#: drift (+5.1%). So the sandbox warms up in rounds of a quarter of the measured pass (WARM_ROUND):
#: 1% a round at the plateau bounds the measured pass's growth by ~4%, inside the figure's 5%.
WARM_ROUND = 0.25
WARMUP_SHARE, WARMUP_ROUNDS, MAX_WARMUP_ROUNDS = 0.2, 3, 12
HANG_S = 60.0
#: Seconds a footprint waits for runs still ending (processes, fds) before it is read anyway.
SETTLE_S = 20.0
START_S = 600.0
GEN_MAX_NEW_TOKENS = 2


@dataclass
class Rpc:
    """One RPC of a service: how to call it, what it may answer beside :data:`ALLOWED`, and hooks."""

    service: str
    name: str
    desc: Descriptor
    response: type[Message]
    streaming: bool
    extra_allowed: dict[str, str] = field(default_factory=dict)
    adjust: Callable[[Message, str], None] | None = None
    after_ok: Callable[[list[Message]], None] | None = None

    @property
    def method(self) -> str:
        return f"/{self.service}/{self.name}"


def rpcs_of(pb: Any, service: str) -> list[Rpc]:
    """Every RPC of ``service`` in module ``pb`` (its descriptor), in declaration order."""
    sd = pb.DESCRIPTOR.services_by_name[service]
    return [Rpc(sd.full_name, m.name, m.input_type, message_class(m.output_type), m.server_streaming)
            for m in sd.methods]


def call(channel: grpc.Channel, rpc: Rpc, data: bytes, timeout: float = HANG_S) -> tuple[Answer, list[Message]]:
    """Send ``data`` (raw request bytes) to ``rpc``; the answer and the messages received."""
    t0 = time.monotonic()
    got: list[Message] = []
    try:
        if rpc.streaming:
            stream = channel.unary_stream(rpc.method, request_serializer=None,
                                          response_deserializer=rpc.response.FromString)
            for item in stream(data, timeout=timeout):
                got.append(item)
        else:
            unary = channel.unary_unary(rpc.method, request_serializer=None,
                                        response_deserializer=rpc.response.FromString)
            got.append(unary(data, timeout=timeout))
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return Answer(code.name, details or "", time.monotonic() - t0, len(got)), got
    return Answer("OK", "", time.monotonic() - t0, len(got)), got


def drive(strategy: Any, count: int, seed: int, body: Callable[[Case], bool]) -> None:
    """Draw up to ``count`` cases from ``strategy`` (hypothesis, generate phase only: no shrinking,
    no example database) and pass each to ``body``, until ``body`` returns False (time is up)."""

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @hseed(seed)
    @given(strategy)
    def loop(c: Case) -> None:
        if body(c) is False:
            raise TimeUp

    with suppress(TimeUp), warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisWarning)  # the repr of the case that met TimeUp
        loop()


class TimeUp(Exception):
    """Raised inside the hypothesis loop to end it once the RPC's time is up."""


@dataclass
class Service:
    """A service under test: its RPCs and per-field tables, and (once started) where it runs."""

    name: str
    rpcs: list[Rpc]
    targets: Targets
    local: LocalService | None = None
    address: str = ""
    pid: int = 0
    start_error: str = ""
    started: threading.Event = field(default_factory=threading.Event)
    setup: Callable[[Service, grpc.Channel], None] | None = None
    #: Sent before the warm-up pass: requests that bring the service to its steady footprint (a warm
    #: pool filled to its size, every tool's classes loaded), which random requests may not reach.
    warm: Callable[[grpc.Channel], None] | None = None
    #: A warm-up round's size, as a share of the measured pass (requests per RPC, and time): large
    #: enough that growth spread thinly over many requests shows as a round's growth (:data:`WARM_ROUND`).
    warm_round: float = 0.1
    #: Said in the figure (what produced it: the generator's engine).
    notes: list[str] = field(default_factory=list)


def fuzz_service(ctx: Context, svc: Service, address: str, pid: int, seconds: float) -> Section:
    """The bad-input figure of one running service (``address`` on loopback, process ``pid``)."""
    ctx.check_loopback(address)
    t_start = time.monotonic()
    section = Section(title="bad input on every RPC", service=svc.name, area="bad-input")
    tallies = {r.name: Tally() for r in svc.rpcs}
    names = {r.name: field_names(r.desc) for r in svc.rpcs}
    count = ctx.count(PER_RPC, minimum=20)
    warm_count = max(5, round(count * svc.warm_round))
    hook_errors: set[str] = set()
    with open_channel(address) as channel:
        if svc.setup is not None:
            svc.setup(svc, channel)
        strategies = {r.name: cases(r.desc, svc.targets, r.adjust) for r in svc.rpcs}

        # the RPCs with the fewest cases first: the time they leave goes to the costly ones
        order = sorted(svc.rpcs, key=lambda r: len(plan(r.desc, svc.targets)))

        def run_pass(rounds: int, budget: float, tally: bool, seed: int) -> None:
            end = time.monotonic() + budget
            for i, rpc in enumerate(order):
                rpc_end = time.monotonic() + max(0.0, end - time.monotonic()) / (len(order) - i)
                sent = [0]

                def body(c: Case, rpc: Rpc = rpc, rpc_end: float = rpc_end, sent: list[int] = sent) -> bool:
                    if time.monotonic() > rpc_end and sent[0] > 0:  # every RPC gets one request at least
                        return False
                    sent[0] += 1
                    answer, got = call(channel, rpc, c.payload)
                    if answer.status == "OK" and rpc.after_ok is not None:
                        try:
                            rpc.after_ok(got)
                        except grpc.RpcError as exc:  # cancelling the job it started, unloading the adapter
                            hook_errors.add(f"{rpc.name}: clean-up after an OK answer failed: {exc.code().name}: "
                                            f"{exc.details()}")
                    if tally:
                        problem = violation(answer, names[rpc.name], rpc.extra_allowed)
                        tallies[rpc.name].add(c.kind, answer, problem, c.text())
                    return True

                drive(strategies[rpc.name], rounds, seed, body)

        if svc.warm is not None:
            svc.warm(channel)
        # at least half a second per RPC in all, however long the warm hook took, and at least the round's
        # share of the measured pass's time: a round must be a sample of the pass to show its growth (a warm
        # hook that took the analyzer's whole share once left rounds of 0.5 s, ~10 requests, that grew
        # nothing, and the pass then grew RSS 9.7%)
        round_s = max(0.5 * len(order), seconds * WARMUP_SHARE - (time.monotonic() - t_start)) / WARMUP_ROUNDS
        round_s = max(round_s, seconds * (1 - WARMUP_SHARE) * svc.warm_round)
        warm_rss = warm_up(lambda i: run_pass(warm_count, round_s, tally=False, seed=ctx.profile.seed + 1 + i),
                           lambda: rss_bytes(pid))
        ctx.log(f"fuzz: {svc.name} warm-up {len(warm_rss)} rounds of {round_s:.1f}s, "
                + ("at the RSS plateau" if plateau_reached(warm_rss) else "NOT at the RSS plateau (bound)")
                + f" ({warm_rss[-1] / 2**20:.0f} MiB); measured pass")
        before = settle(pid, None)
        run_pass(count, max(1.0, seconds * (1 - WARMUP_SHARE), seconds - (time.monotonic() - t_start)), tally=True,
                 seed=ctx.profile.seed)
        serving = health(channel)
        after = settle(pid, before)  # with the channel still open, as before
    for rpc in svc.rpcs:
        t = tallies[rpc.name]
        section.rows.append({"rpc": rpc.name, "requests": t.requests,
                             "statuses": ", ".join(f"{k} {v}" for k, v in t.statuses.most_common()),
                             "max latency (s)": round(t.max_seconds, 2), "violations": t.violations})
        section.problems += [f"{rpc.name}: {e}" for e in t.examples.values()]
        if t.requests == 0:
            section.problems.append(f"{rpc.name}: no request sent within the time bound")
        extra = "; ".join(f"{k} allowed: {v}" for k, v in rpc.extra_allowed.items())
        if extra:
            section.notes.append(f"{rpc.name}: {extra}")
    section.problems += sorted(hook_errors)
    if serving != "SERVING":
        section.problems.append(f"health after the run: {serving}")
    if after is None:
        section.problems.append(f"the service process {pid} is gone (a crash)")
    elif before is not None:
        baseline = warm_baseline(before, warm_rss)
        section.problems += resource_problems(baseline, after)
        section.notes.append(_footprint(baseline, after))
    section.notes.append(_warm_up_note(warm_rss, round_s))
    section.notes += svc.notes
    seen = {k for t in tallies.values() for k in t.statuses if k in ALLOWED}
    section.notes += [f"{k} allowed: {ALLOWED[k]}" for k in sorted(seen)]
    section.notes.append("every non-OK answer must name a field of the request (a word of its details is a "
                         "field name of the RPC's input message, or the details start 'request:' for bytes "
                         "that do not parse outside any field)")
    kinds: dict[str, int] = {}
    for t in tallies.values():
        for k, v in t.kinds.items():
            kinds[k] = kinds.get(k, 0) + v
    section.notes.append(f"{count} requests per RPC at most (warm-up {warm_count} a round), within {seconds:.0f}s "
                         f"(warm-up included when it reaches the plateau in its share); kinds "
                         f"sent: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    section.seconds = time.monotonic() - t_start
    return section


def warm_up(one_round: Callable[[int], None], rss: Callable[[], int]) -> list[int]:
    """Call ``one_round(i)`` for i = 0, 1, ... and read ``rss()`` after each, until the RSS plateau
    (:func:`~reliability.load_checks.plateau_reached`) after :data:`WARMUP_ROUNDS` rounds at least, or
    :data:`MAX_WARMUP_ROUNDS` rounds; the RSS after each round."""
    got: list[int] = []
    while len(got) < MAX_WARMUP_ROUNDS and (len(got) < WARMUP_ROUNDS or not plateau_reached(got)):
        one_round(len(got))
        got.append(rss())
    return got


def warm_baseline(settled: Resources, warm_rss: list[int]) -> Resources:
    """The footprint the measured pass is judged against: ``settled`` (read after the warm-up) with
    its RSS raised to the top of the warm-up's band (:func:`~reliability.load_checks.plateau_level`
    of ``warm_rss``, bytes), as the analyzer load figure's. One reading after the warm-up is a point
    anywhere in that band: the full profile's analyzer read 249 MiB after rounds that read 251-256."""
    return replace(settled, rss_kib=max(settled.rss_kib, plateau_level(warm_rss) // 1024))


def _warm_up_note(warm_rss: list[int], round_s: float) -> str:
    ended = ("ended at the RSS plateau" if plateau_reached(warm_rss) else
             f"stopped at its bound ({MAX_WARMUP_ROUNDS} rounds) before the RSS plateau")
    return (f"warm-up: the warm hook, then {len(warm_rss)} rounds of {round_s:.1f}s, {ended} (at least "
            f"{WARMUP_ROUNDS} rounds; plateau: the last {PLATEAU_ROUNDS} rounds left RSS under "
            f"{100 * PLATEAU_GROWTH:.0f}% over its highest reading before them, as the analyzer load figure's "
            "warm-up); service RSS MiB after each round: " + ", ".join(f"{r / 2**20:.1f}" for r in warm_rss)
            + f"; the baseline RSS is the top of the last {PLATEAU_ROUNDS + 1} and the reading after them")


def _footprint(before: Resources, after: Resources) -> str:
    return (f"after warm-up -> after the run: RSS {before.rss_kib / 1024:.1f} -> {after.rss_kib / 1024:.1f} MiB, "
            f"open fds {before.fds} -> {after.fds}, processes {len(before.processes)} -> {len(after.processes)} "
            f"({', '.join(sorted(set(after.processes.values())))})")


def settle(pid: int, want: Resources | None, wait_s: float | None = None) -> Resources | None:
    """The footprint once the process tree is quiet: unchanged over 1 s (and, when ``want`` is
    given, with as many processes and fds, waiting up to ``wait_s`` for runs still ending).
    None when the process is gone."""
    end = time.monotonic() + (SETTLE_S if wait_s is None else wait_s)
    last: Resources | None = None
    while True:
        try:
            now = resources(pid)
        except ProcessLookupError:
            return None
        quiet = last is not None and now.fds == last.fds and now.processes.keys() == last.processes.keys()
        matches = want is None or (now.fds == want.fds and len(now.processes) == len(want.processes))
        if (quiet and matches) or time.monotonic() > end:
            return now
        last = now
        time.sleep(1.0)


def health(channel: grpc.Channel) -> str:
    try:
        resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    except grpc.RpcError as exc:
        return f"{exc.code().name}: {exc.details()}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))


def run(ctx: Context) -> list[Section]:
    """The four services' bad-input figures (see the module docstring)."""
    from reliability import fuzz_services

    every = fuzz_services.services(ctx)
    services = [s for s in every if ctx.wants(s.name)]  # --services: each keeps its share of the full run's
    env = fuzz_services.service_env(ctx)
    sections: list[Section] = []
    total = sum(len(s.rpcs) for s in every)
    budget = AREA_SECONDS.get(ctx.profile.name, AREA_FACTOR * ctx.profile.seconds)
    carry = 0.0
    area_end = time.monotonic() + budget + START_S
    with ExitStack() as stack:
        stack.enter_context(environment(env))  # put back after the services are stopped
        for svc in services:
            stack.callback(_stop, svc)
            threading.Thread(target=_start, args=(ctx, svc), daemon=True).start()
        for svc in services:
            svc.started.wait(max(1.0, area_end - time.monotonic()))
            if not svc.address:
                sections.append(Section(title="bad input on every RPC", service=svc.name, area="bad-input",
                                        problems=[f"did not start: {svc.start_error or 'timed out'}"]))
                continue
            # a share by RPCs, plus what the services before left unused (never less than the share)
            share = budget * len(svc.rpcs) / total
            seconds = share + carry
            ctx.log(f"fuzz: {svc.name} at {svc.address} (pid {svc.pid}), {seconds:.0f}s")
            t0 = time.monotonic()
            try:
                section = fuzz_service(ctx, svc, svc.address, svc.pid, seconds)
            except Exception as exc:  # noqa: BLE001 - one service's crash is its figure, not the area's
                section = Section(title="bad input on every RPC", service=svc.name, area="bad-input",
                                  problems=[f"the run stopped: {type(exc).__name__}: {str(exc)[:300]}"],
                                  seconds=time.monotonic() - t0)
            sections.append(section)
            carry = max(0.0, seconds - section.seconds)
    return sections


def _start(ctx: Context, svc: Service) -> None:
    try:
        svc.local = LocalService(svc.name, log_file=ctx.workdir / f"{svc.name}.log")
        svc.address = ctx.check_loopback(svc.local.start(timeout=START_S))
        assert svc.local.proc is not None
        svc.pid = svc.local.proc.pid
    except Exception as exc:  # noqa: BLE001 - a service that does not start is a figure that does not hold
        svc.address = ""
        svc.start_error = f"{type(exc).__name__}: {exc}"
    finally:
        svc.started.set()


def _stop(svc: Service) -> None:
    if svc.local is not None:
        svc.local.stop()


__all__ = ["ALLOWED", "Rpc", "Service", "call", "drive", "fuzz_service", "rpcs_of", "run", "warm_up"]
