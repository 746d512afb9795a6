"""Fork safety: a child process trains and predicts after its parent used threads.

GNU libgomp's thread pool does not survive fork: a child forked after the
parent ran an OpenMP team (fastmlp's, or another library's on the same
libgomp) hangs in the forking thread's first team.  fastmlp starts such a
child's teams from a thread of its own started in the child
(fastmlp/_omp_host.py), and resets the engine's session state there
(fastmlp/_engine.py).  Scenario processes (tests/_fork_work.py) each fit
with a team of two (one first runs a team of a small ``gcc -fopenmp``
library instead, and forks before fastmlp's), then have pool workers
started with fork, spawn or forkserver fit three models (minibatches,
L-BFGS, batch size 1 on the online step) and a tabular one (its compiled
quantiles), and predict (large: the engine's session; small: BLAS outside
it).  Each wait on a worker has a timeout, and the whole process group is
killed if a scenario process itself overruns, so a hang fails the test
instead of freezing pytest.

Without the host thread the forked children time out (CHILD_TIMEOUT each);
before it, fastmlp ran children forked after its own teams on one thread
(and could not see another library's team: those hung).  The file took
38-49 s on 2 cores shared with other builds (load average 3-6), most of it
interpreter and scikit-learn imports in the processes.
"""
import os
import pickle
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from fastmlp._openmp import OPENMP_ENABLED

pytestmark = pytest.mark.skipif(
    not OPENMP_ENABLED or sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2,
    reason="needs fastmlp built with OpenMP, the fork start method and two cores",
)

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_TIMEOUT = 120  # the scenario takes a few seconds; this only stops a hang


# another library's OpenMP team, for the "other_openmp" scenario
OTHER_OPENMP_C = """
int omp_work(void) {
    int n = 0;
    #pragma omp parallel num_threads(2) reduction(+:n)
    n += 1;
    return n;
}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run each scenario process once for the module (it starts several
    children: _fork_work.SCENARIOS)."""
    results = {}

    def get(scenario):
        if scenario not in results:
            tmp = tmp_path_factory.mktemp(scenario)
            env = {}
            if scenario == "other_openmp":
                env["FASTMLP_TEST_OMP_LIB"] = _other_openmp_library(tmp)
            results[scenario] = _run(scenario, tmp, env)
        return results[scenario]

    return get


def _other_openmp_library(tmp_path):
    """OTHER_OPENMP_C built with ``gcc -fopenmp``: linked to the system's
    libgomp, as fastmlp's Linux build (skips without gcc or libgomp)."""
    from fastmlp._omp_idle import _runtimes

    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build another library's OpenMP team")
    if not any("libgomp" in path for path in _runtimes() or ()):
        pytest.skip("fastmlp is not linked to GNU libgomp: nothing to share with gcc's")
    src, lib = tmp_path / "other_openmp.c", tmp_path / "libother_openmp.so"
    src.write_text(OTHER_OPENMP_C)
    subprocess.run(["gcc", "-fopenmp", "-shared", "-fPIC", "-O1", str(src), "-o", str(lib)],
                   check=True, capture_output=True)
    return str(lib)


def _scenario_of(child):
    from _fork_work import SCENARIOS

    return next(s for s, children in SCENARIOS.items() if child in children)


def _run(scenario, tmp_path, extra_env):
    out = tmp_path / "result.pkl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in [os.environ.get("PYTHONPATH")] if p]), **extra_env)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(var, None)
    # the hazard under test is a parent whose OpenMP team ran: keep the team
    # even when the machine is busy (the pacer would run such fits on one thread)
    env["FASTMLP_PACE"] = "0"
    code = f"import _fork_work; _fork_work.main({scenario!r}, {str(out)!r})"
    # a session of its own: on a timeout, kill the pool's workers with it
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"scenario {scenario} hung for {SCENARIO_TIMEOUT} s")
    assert proc.returncode == 0, err
    with open(out, "rb") as f:
        result = pickle.load(f)
    print(scenario, {k: round(v, 2) for k, v in result["timings"].items()})
    return result


def _assert_parent_used_teams(result):
    assert result["parent_n_threads"] >= 2
    # libgomp's worker thread, started by the parent's fits and still alive
    assert result["parent_new_os_threads"] >= 1
    assert result["online_team_in_parent"] == 2


def _assert_same_fits(child, reference):
    assert child.keys() == reference.keys()
    for name, (weights, proba, proba_small) in child.items():
        ref_weights, ref_proba, ref_small = reference[name]
        for w, r in zip(weights, ref_weights, strict=True):
            np.testing.assert_array_equal(w, r, err_msg=name)
        np.testing.assert_array_equal(proba, ref_proba, err_msg=name)
        np.testing.assert_array_equal(proba_small, ref_small, err_msg=name)


def _assert_learned(fits):
    # the minibatch model after 3 epochs (0.78): far better than chance on digits
    from _fork_work import digits

    X, y = digits()
    _, proba, _ = fits["minibatch"]
    assert np.mean(proba.argmax(axis=1) == y) > 0.7


def _assert_thread_counts_differ(reference_1, reference_2):
    # the comparison below can tell a team's fits from one thread's
    assert any(not all(np.array_equal(a, b) for a, b in zip(reference_1[name][0],
                                                            reference_2[name][0]))
               for name in reference_2)


@pytest.mark.parametrize("scenario", ["fork", "fork_during_fit", "fork_after_other_openmp"])
def test_forked_child_keeps_its_threads(scenario, run):
    # forked after the parent's teams ran (fastmlp's, or another library's on
    # the same libgomp): the forking thread's pool lost its threads, and the
    # child's teams start from a host thread instead, with the same results
    result = run(_scenario_of(scenario))
    _assert_parent_used_teams(result)
    child = result["children"][scenario]
    assert child != "timeout", "the forked child hung"
    assert child["pid"] != result["parent_pid"]
    assert child["n_threads_after"] == result["parent_n_threads"]
    assert child["host_thread"]
    _assert_thread_counts_differ(result["reference_1"], result["reference_2"])
    _assert_same_fits(child["fits"], result["reference_2"])
    _assert_learned(child["fits"])
    assert child["runtime_warnings"] == []
    # BLAS keeps the threads it had before any fit (the small predictions
    # ran on them, outside the engine's session)
    assert child["blas_threads"] == result["parent_blas_threads"]
    assert child["active_sessions"] == 0
    assert not child["session_lock_held"]
    if scenario == "fork_during_fit":
        # the parent's other thread was inside fit, holding BLAS to one
        # thread, and the session lock was held: in the child no fit runs,
        # the lock is free and BLAS has its threads back
        assert result["sessions_at_fork"] == 1
        assert result["blas_threads_at_fork"] == [1]
        assert result["parent_blas_threads"][0] > 1
    if scenario == "fork_after_other_openmp":
        # the other library's team ran, with a thread of its own, before
        # the fork and before any of fastmlp's
        assert result["other_openmp_result"] == 2
        assert result["other_openmp_threads"] >= 1


@pytest.mark.parametrize("scenario", ["spawn", "forkserver", "fork_before_any_fit"])
def test_child_keeps_its_threads_when_it_can(scenario, run):
    # spawn: a fresh process; forkserver: forked from a server that imported
    # fastmlp and never fitted; fork_before_any_fit: forked before the parent
    # started a team.  None of them has a broken thread pool.
    result = run(_scenario_of(scenario))
    _assert_parent_used_teams(result)
    child = result["children"][scenario]
    assert child != "timeout", "the child hung"
    assert child["pid"] != result["parent_pid"]
    assert child["n_threads_after"] == result["parent_n_threads"]
    _assert_same_fits(child["fits"], result["reference_2"])
    _assert_learned(child["fits"])
    assert child["runtime_warnings"] == []
    assert child["blas_threads"] == result["parent_blas_threads"]
    # a fresh interpreter needs no host thread; forked ones use it all the same
    assert child["host_thread"] == (scenario != "spawn")


def test_fork_inside_a_fit_counts_only_the_childs_sessions(run):
    # os.fork from a callback: the child finishes the fit it was forked in
    # (its team now started from the host thread), whose session began in
    # the parent, with BLAS still at one thread (the child gave BLAS its
    # threads back at the fork, under that fit's last epochs, which then
    # matched the parent's up to rounding only); its next fit must still
    # hold BLAS to one thread and give it back after
    result = run("fork")
    child = result["inside_fit"]
    assert child["host_thread"]
    assert child["blas_in_forked_fit"] == [[1]] * 3
    for coef, parent_coef in zip(child["coefs"], child["parent_coefs"], strict=True):
        np.testing.assert_array_equal(coef, parent_coef)
    assert child["sessions_after_fit"] == 0
    assert result["parent_blas_threads"][0] > 1
    assert child["blas_after_fit"] == result["parent_blas_threads"]
    assert child["blas_in_next_fit"] and all(b == [1] for b in child["blas_in_next_fit"])
    assert child["blas_after_next_fit"] == result["parent_blas_threads"]
    assert child["sessions_after_next_fit"] == 0
