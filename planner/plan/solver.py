"""Running a MILP solver on a built model: HiGHS (default) or CBC through PuLP, with the outcome
normalised once into `SolverStatus` and carried in a `SolverReport` (no raw PuLP codes elsewhere).

Kept apart from `milp` (which builds the model) so building and solving stay separate steps;
`milp` re-exports these names.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time

from planner.errors import BadInput, cleaned_on_termination
from planner.plan.lp import pulp
from planner.plan.outcome import SolverReport as SolverReport
from planner.plan.outcome import SolverStatus as SolverStatus


@contextlib.contextmanager
def quiet_stdout(enabled: bool, to_stderr: bool = False):
    """Send file descriptor 1 to /dev/null (highspy prints its banner there from C++), or with
    `to_stderr` to standard error: a solver's log (--verbose) is no output of the command, and on
    standard output it came before `plan solve --json --verbose`'s JSON, which no reader parsed."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if to_stderr else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


class WarmHiGHS(pulp.HiGHS):
    """HiGHS started from the variables' current values (a feasible plan found before): PuLP's
    HiGHS interface passes no start, so it is set here through highspy before the run."""

    def callSolver(self, lp):
        import highspy
        sol = highspy.HighsSolution()
        sol.col_value = [float(v.varValue or 0.0) for v in lp.variables()]
        sol.value_valid = True
        lp.solverModel.setSolution(sol)
        lp.solverModel.run()


# HiGHS without its primal heuristics, for the large MILPs (fleets, plans over periods): their
# relaxations round to good plans, and the proof, not the search for a plan, is their time. On the
# fleet benchmark's MILPs of 1,000–31,000 columns this cut the solve by a quarter to a third at the
# same cost (docs/fleet_bench.md, ninth session). Single problems keep them (`LIGHT_SEARCH`): their
# MILPs take milliseconds, and without heuristics HiGHS lands on other plans of equal cost.
NO_HEURISTICS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False}


# HiGHS's search for the small MILPs (single problems, sweeps, what-ifs): its primal heuristics on
# but for feasibility jump, RINS and RENS, which on these MILPs (tens to hundreds of columns, ~10 ms
# each) look for plans the relaxation's rounding and the branching find anyway: the 50-point
# sweep's HiGHS time 4.5 -> 2.7 s (6.6-6.8 -> 4.7-4.8 s in all, with the stage below), every cost
# the same. Where a problem has several plans of equal cost HiGHS returns another of them than
# with its defaults, no simpler on its own (59 of the sweep's 250 rows, 17 with more pools and 15
# with fewer); with the fewer-pools
# stage after it (`planner.plan.consolidate`) 71 rows move, 35 to fewer pools and 5 to more
# (docs/fleet_bench.md, forty-fifth session). The same settings return the same plan on every run.
LIGHT_SEARCH = {"mip_heuristic_run_feasibility_jump": False, "mip_heuristic_run_rins": False,
                "mip_heuristic_run_rens": False}


# HiGHS's presolve rules (`presolve_rule_off`, a bit per rule): bit 5, dominated columns, is off in
# every solve. Under a power or budget row, beside a day's 1e-10 card tie-break costs (below HiGHS's
# dual tolerance), HiGHS 1.16 cut the optimum off a period's MILP and returned OPTIMAL at 2.99
# where 1.00 was feasible (without presolve, or without the rule: 1.00): a free owned node left
# idle and an A100 node rented every hour (a 2026-12-05 hunt). The seed, the sweep and the
# fleets solve in the same time without it (docs/fleet_bench.md, thirty-second session).
PRESOLVE_RULES_OFF = 1 << 5


NO_GAP_BELOW = 1e-6   # in the objective's units: an objective this close to its bound has no gap


def _solver(name: str, time_limit: float, gap: float, verbose: bool, warm: bool = False,
            gap_abs: float | None = None, heuristics: bool = True, threads: int = 1):
    if name == "highs":
        cls = WarmHiGHS if warm else pulp.HiGHS
        # threads > 1: HiGHS's parallel MIP search, as many workers as threads; its result depends
        # on the count, not on the machine or the run (the same plan on one core or many)
        parallel = {"parallel": "on"} if threads > 1 else {}
        return cls(msg=verbose, timeLimit=time_limit, gapRel=gap, threads=threads, gapAbs=gap_abs,
                   presolve_rule_off=PRESOLVE_RULES_OFF, **(LIGHT_SEARCH if heuristics else NO_HEURISTICS), **parallel)
    return pulp.PULP_CBC_CMD(msg=verbose, timeLimit=time_limit, gapRel=gap, threads=1, warmStart=warm,
                             gapAbs=gap_abs)


def solve(m, name: str = "highs", time_limit: float = 30.0, gap: float = 1e-4,
          verbose: bool = False, warm: bool = False, gap_abs: float | None = None,
          heuristics: bool = True, threads: int = 1) -> SolverReport:
    """Run HiGHS (default) or CBC on `m` (a built milp.Model: its `prob` and `cost`); normalise the
    outcome into a SolverReport. `warm`: start from the variables' current values; `gap_abs`: an
    absolute gap in the objective's units (None: the relative `gap` alone); `heuristics`: HiGHS's
    primal heuristics but three (`LIGHT_SEARCH`), or False: none (`NO_HEURISTICS`; CBC ignores both);
    `threads`: HiGHS's parallel MIP search with that many workers (CBC runs on one)."""
    t0 = time.perf_counter()
    if name == "highs":
        _pool_of(threads)
    start_dropped = False
    for attempt in range(2):
        with quiet_stdout(True, to_stderr=verbose):
            solver = _solver(name, time_limit, gap, verbose, warm, gap_abs or None, heuristics, threads)
            try:
                with _own_temporary_directory(solver):
                    m.prob.solve(solver)
            except OSError as e:
                raise _temporary_files(e, solver) from None
            except pulp.PulpSolverError:
                return SolverReport(name, SolverStatus.error, time.perf_counter() - t0, None, None,
                                    len(m.prob.variables()), m.prob.numConstraints())
        status, gap_value = _normalise(m, name)
        if warm and not attempt and name == "highs" and _start_returned(m):
            warm, start_dropped = False, True   # solved again, cold
            continue
        if status != SolverStatus.error or name != "highs" or attempt:
            break
        # HiGHS runs on one process-wide thread pool, sized by the first run: a run with other
        # threads (a notebook's own pulp.HiGHS() before planner's) made every planner solve fail
        # ('the highs solver failed'); the pool is made again at this run's threads
        _pool_of(threads, again=True)
    seconds = time.perf_counter() - t0
    found = status in (SolverStatus.optimal, SolverStatus.feasible_time_limit)
    obj = (pulp.value(m.cost) if m.cost is not None else pulp.value(m.prob.objective)) if found else None
    return SolverReport(name, status, seconds, gap_value, obj, len(m.prob.variables()),
                        m.prob.numConstraints(), pulp.value(m.prob.objective) if found else None,
                        start_dropped=start_dropped)


def _start_returned(m) -> bool:
    """Whether HiGHS's solution is not the one it reports: the objective at the variables it returned
    against its own objective value. A day plan of 50 free owned H200 nodes, warm-started from an
    on-demand plan (HiGHS 1.16: 'MIP start solution is feasible in the reduced space: objective value is
    1.44e-08'), came back 'optimal' at that value with the start's variables, which cost 3,999.36 RMB."""
    h = getattr(m.prob, "solverModel", None)
    found = pulp.value(m.prob.objective)
    if h is None or found is None:
        return False
    reported = h.getInfo().objective_function_value
    return math.isfinite(reported) and abs(found - reported) > 1e-6 * max(1.0, abs(found), abs(reported))


_POOL: list[int] = []   # the thread count HiGHS's process-wide pool was last made for by planner


def _pool_of(threads: int, again: bool = False) -> None:
    """HiGHS's process-wide thread pool at `threads`: it is sized by the first run, and a run asking
    for another count fails (HighsStatus error: a fleet at solver.threads 2, then a problem at 1,
    in one process); the pool is made again when the count changes, or `again`."""
    if again or (_POOL and _POOL[-1] != threads):
        import highspy
        highspy.Highs.resetGlobalScheduler(True)
    _POOL[:] = [threads]


@contextlib.contextmanager
def _own_temporary_directory(solver):
    """CBC's files (PuLP's NAME-pulp.mps, .sol, .mst) in a directory of this solve's own, removed
    when it ends however it ends (a Ctrl-C, a SIGTERM or SIGHUP too): PuLP deletes them only after CBC
    returns, and each Ctrl-C during a CBC solve left its NAME-pulp.mps and .sol files behind in
    $TMPDIR (hostile-input round fourteen). HiGHS writes no files (no tmpDir); a directory that
    cannot be made leaves PuLP's choice, whose failure `_temporary_files` explains."""
    import shutil
    import tempfile
    where = getattr(solver, "tmpDir", None)
    own = None
    if where is not None:
        with contextlib.suppress(OSError):
            own = tempfile.mkdtemp(prefix="plan-cbc-", dir=where or None)
    if own is None:
        yield
        return
    solver.tmpDir = own
    with cleaned_on_termination():   # CBC runs in a process of its own: a kill is answered at once
        try:
            yield
        finally:
            solver.tmpDir = where
            shutil.rmtree(own, ignore_errors=True)


def _temporary_files(e: OSError, solver) -> Exception:
    """CBC reads the MILP from a file PuLP writes in $TMPDIR ($TMP first; the current directory
    when neither is a writable directory): a temporary directory it could not write said
    '/proc/ce7d…-pulp.mps: No such file or directory', a file the user never named."""
    if "-pulp." not in str(getattr(e, "filename", "") or ""):
        return e
    where = solver.tmpDir or f"the current directory ({os.getcwd()})"
    var = "TMP" if "TMP" in os.environ else "TMPDIR"
    given = f"{var}={os.environ[var]}" if var in os.environ else "TMPDIR unset"
    return BadInput(f"{given}: CBC's temporary directory {where} is not writable ({e.strerror or e}): set "
                    f"{var} to a writable directory, or use --solver highs")


def _normalise(m, name: str) -> tuple[SolverStatus, float | None]:
    """Map PuLP's (status, sol_status) and HiGHS's model status onto SolverStatus, with the gap."""
    st, sol = m.prob.status, m.prob.sol_status
    if name == "highs" and getattr(m.prob, "solverModel", None) is not None:
        import highspy
        h = m.prob.solverModel
        ms = h.getModelStatus()
        info = h.getInfo()
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
        if gap and abs(info.objective_function_value - info.mip_dual_bound) <= NO_GAP_BELOW:
            # HiGHS's gap is relative, meaningless at an objective of ~0: free GPU types (the
            # objective's 1e-7 tie-break terms against a bound of 0) read 1, and a plan of cost 0
            # failed its optimality check (exit 4); a difference this small (HiGHS's own absolute
            # gap, a millionth of the cheapest node-hour) proves the optimum. (22 free H800 nodes'
            # tie-break, 2.2e-6 against a bound 5 % lower, failed it too.)
            gap = 0.0
        if ms == highspy.HighsModelStatus.kOptimal:
            return SolverStatus.optimal, gap
        if ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return SolverStatus.infeasible, None
        if ms == highspy.HighsModelStatus.kUnbounded:
            return SolverStatus.unbounded, None
        if ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
                  highspy.HighsModelStatus.kInterrupt):
            has = sol in (pulp.LpSolutionIntegerFeasible, pulp.LpSolutionOptimal) and \
                st == pulp.LpStatusOptimal
            return (SolverStatus.feasible_time_limit if has else SolverStatus.no_solution_time_limit), gap
        return SolverStatus.error, None
    if st == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        return SolverStatus.optimal, None
    if st == pulp.LpStatusOptimal and sol == pulp.LpSolutionIntegerFeasible:
        return SolverStatus.feasible_time_limit, None
    if st == pulp.LpStatusInfeasible:
        return SolverStatus.infeasible, None
    if st == pulp.LpStatusUnbounded:
        return SolverStatus.unbounded, None
    if st == pulp.LpStatusNotSolved:
        return SolverStatus.no_solution_time_limit, None
    return SolverStatus.error, None
