"""A small in-process Dask cluster shared by the batch tests (two single-threaded workers)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def dask_client(dask_cluster):
    from distributed import Client

    with Client(dask_cluster) as client:
        yield client
