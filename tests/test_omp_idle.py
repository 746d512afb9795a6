"""The OpenMP runtime's idle spin (fastmlp/_omp_idle.py): set in the
environment while fastmlp's runtime loads, only where the user set neither
it nor OMP_WAIT_POLICY, and taken back out afterwards.  Each case runs in a
fresh interpreter (the runtime reads its settings once per process)."""
import json
import os
import subprocess
import sys

import pytest

from fastmlp._omp_idle import IDLE_SPIN
from fastmlp._openmp import OPENMP_ENABLED

import _checkout

pytestmark = pytest.mark.skipif(not OPENMP_ENABLED, reason="a build without OpenMP")

# Records the environment at the moment fastmlp's first compiled OpenMP
# module is imported (when libgomp loads and reads it), then imports fastmlp.
_PROBE = r"""
import importlib.abc, json, os, sys
seen = {}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "fastmlp._openmp" and not seen:
            seen.update({k: os.environ.get(k) for k in
                         ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")})
        return None
sys.meta_path.insert(0, Watch())
import fastmlp
from fastmlp import _omp_idle
from fastmlp._config import get_config
after = {k: os.environ.get(k) for k in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")}
print(json.dumps({"at_load": seen, "after": after, "set": _omp_idle.start_runtime(),
                  "line": get_config()["openmp_idle"]}))
"""


def _run(**env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**base, **env}, cwd=_checkout.cwd(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_runtime_loads_with_a_short_spin_and_the_environment_is_put_back():
    r = _run()
    assert r["at_load"]["GOMP_SPINCOUNT"] == IDLE_SPIN["GOMP_SPINCOUNT"]
    assert r["at_load"]["KMP_BLOCKTIME"] == IDLE_SPIN["KMP_BLOCKTIME"]
    # children and other libraries' runtimes see the user's environment
    assert r["after"] == {"GOMP_SPINCOUNT": None, "KMP_BLOCKTIME": None,
                          "OMP_WAIT_POLICY": None}
    assert r["set"] == IDLE_SPIN
    if sys.platform.startswith("linux"):
        assert "set by fastmlp at import" in r["line"]


def test_the_users_settings_stay():
    r = _run(GOMP_SPINCOUNT="5")
    assert r["at_load"]["GOMP_SPINCOUNT"] == "5" and r["after"]["GOMP_SPINCOUNT"] == "5"
    assert r["set"] == {"KMP_BLOCKTIME": IDLE_SPIN["KMP_BLOCKTIME"]}
    assert "GOMP_SPINCOUNT=5 (yours)" in r["line"]
    # a wait policy of the user's own: fastmlp sets nothing
    r = _run(OMP_WAIT_POLICY="active")
    assert r["at_load"] == {"GOMP_SPINCOUNT": None, "KMP_BLOCKTIME": None,
                            "OMP_WAIT_POLICY": "active"}
    assert r["set"] == {} and "OMP_WAIT_POLICY=active (yours)" in r["line"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_a_runtime_loaded_before_fastmlp_is_reported():
    # the system's libgomp loaded (and started) before fastmlp, as another
    # library linked to it would: fastmlp's setting cannot reach it, and
    # show_config must not claim it did
    code = r"""
import ctypes, ctypes.util, json, sys
name = ctypes.util.find_library("gomp")
if name is None:
    print(json.dumps(None)); sys.exit()
ctypes.CDLL(name)
import fastmlp
from fastmlp._config import get_config
print(json.dumps(get_config()["openmp_idle"]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=_checkout.cwd())
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout.strip().splitlines()[-1])
    if line is None:
        pytest.skip("no libgomp to load first")
    with open("/proc/self/maps") as maps:   # this process has fastmlp loaded
        ours = [ln.split()[-1] for ln in maps if "libgomp" in ln]
    if not ours or not any("libgomp.so.1" in p and "libs" not in p for p in ours):
        pytest.skip("this build does not use the system's libgomp")
    assert "the runtime's default spin" in line
