"""fnad.profiler: spans and a Python profile recorded during a trace."""

from __future__ import annotations

import json
import pstats
import threading
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import profiler
from fnad.core.errors import ArgumentError


def test_a_trace_records_named_spans_and_a_python_profile(tmp_path: Any) -> None:
    @profiler.annotate_function
    def step(x: Any) -> Any:
        return fnad.jit(lambda a: fnp.sum(fnp.sin(a)))(x)

    seen = []
    with profiler.trace(tmp_path / "run"):
        for i in range(3):
            with profiler.StepTraceAnnotation("train", step_num=i):
                seen.append(float(step(np.arange(3.0))))
        worker = threading.Thread(target=lambda: profiler.TraceAnnotation("other").__enter__()
                                  .__exit__(None, None, None))
        worker.start()
        worker.join()
    with profiler.TraceAnnotation("after"):  # no trace running: not recorded
        pass
    np.testing.assert_allclose(seen, [np.sin(np.arange(3.0)).sum()] * 3)
    events = json.loads((tmp_path / "run" / "fnad.trace.json").read_text())["traceEvents"]
    names = [e["name"] for e in events]
    assert names.count("train") == 3 and names.count("other") == 1 and "after" not in names
    assert sum("step" in n for n in names) == 3
    assert [e["args"]["step_num"] for e in events if e["name"] == "train"] == [0, 1, 2]
    assert all(e["dur"] >= 0 and e["ph"] == "X" for e in events)
    assert len({e["tid"] for e in events}) == 2
    stats = pstats.Stats(str(tmp_path / "run" / "fnad.prof"))
    assert any(func[2] == "step" for func in stats.stats)


def test_traces_do_not_nest_and_must_be_started(tmp_path: Any) -> None:
    with pytest.raises(ArgumentError, match="no trace"):
        profiler.stop_trace()
    profiler.start_trace(tmp_path)
    with pytest.raises(ArgumentError, match="already running"):
        profiler.start_trace(tmp_path)
    profiler.stop_trace()
    with pytest.raises(ArgumentError, match="host memory"):
        profiler.device_memory_profile()


def test_start_server_warns_and_the_program_runs_on(caplog: Any) -> None:
    profiler.start_server(9999)
    profiler.stop_server()
    assert "no remote profiling server" in caplog.text

