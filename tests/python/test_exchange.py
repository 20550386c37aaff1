"""Tensor-parallel ranks together through a Python communicator
(weightmap.open(..., collective=)): ranks are threads here, joined by a
communicator with mpi4py's allgather/alltoall (the protocol open() takes,
so an mpi4py communicator works as it is). With each rank holding its own
copy of a file written by safetensors.numpy.save_file, the exchange mode
gives every rank its slices (checked with numpy slicing), row slices
mapped from the rank's staged copy; one shared file gives the shared mode;
a communicator that raises fails the open with its message."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightmap
from test_shard import rank_part, st_arrays

RULES = "w.even=rows,w.odd=rows:pad,w.3d=cols,w.f16=cols,*=replicate"


class ThreadComm:
    """allgather/alltoall among `world` threads (mpi4py's lowercase API)."""

    def __init__(self, shared: dict, rank: int, world: int):
        self.shared, self.rank, self.world = shared, rank, world

    def _exchange(self, mine):
        s = self.shared
        s["slots"][self.rank] = mine
        s["barrier"].wait()
        got = list(s["slots"])
        s["barrier"].wait()  # every rank has read the slots before the next call writes them
        return got

    def allgather(self, data: bytes) -> list:
        return self._exchange(data)

    def alltoall(self, chunks: list) -> list:
        assert len(chunks) == self.world
        rows = self._exchange(chunks)
        return [rows[k][self.rank] for k in range(self.world)]


def open_ranks(paths: list, **options) -> list:
    """weightmap.open(paths[r], shard=(r, world), collective=...) on one
    thread per rank; each result is a Model or the exception raised."""
    world = len(paths)
    shared = {"slots": [None] * world, "barrier": threading.Barrier(world, timeout=60)}
    results = [None] * world

    def rank(r: int) -> None:
        try:
            results[r] = weightmap.open(paths[r], shard=(r, world), split=RULES, prefetch="wait",
                                        collective=ThreadComm(shared, r, world), **options)
        except Exception as e:  # noqa: BLE001 - handed to the test
            results[r] = e

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def copies(tmp_path, world: int) -> list:
    first = str(tmp_path / "host0.safetensors")
    save_file(st_arrays(), first)
    paths = [first]
    for r in range(1, world):
        paths.append(str(tmp_path / f"host{r}.safetensors"))
        shutil.copyfile(first, paths[-1])
    return paths


def check_slices(models: list, world: int) -> None:
    full = st_arrays()
    hows = {"w.even": "rows", "w.odd": "rows:pad", "w.3d": "cols", "w.f16": "cols"}
    for r, m in enumerate(models):
        assert isinstance(m, weightmap.Model), m
        for name, array in full.items():
            want = rank_part(array, hows[name], r, world) if name in hows else array
            np.testing.assert_array_equal(m[name], want, err_msg=f"rank {r}: {name}")


@pytest.mark.parametrize("world", [2, 4])
def test_copies_exchange_and_every_rank_gets_its_slices(tmp_path, world):
    models = open_ranks(copies(tmp_path, world), exchange_round_bytes=4096)
    check_slices(models, world)
    read = 0
    for r, m in enumerate(models):
        s = m.shard
        assert s["mode"] == "exchange", s
        assert f"{world} copies" in s["mode_reason"], s
        assert s["exchange_rounds"] >= 1
        read += s["exchange_read_bytes"]
        assert m.info("w.even").placement == "map"  # a row slice: a pointer into the staged copy
        assert m.info("w.3d").placement == "copy"
    # Each byte of the tensors is read by one rank (safetensors packs them without gaps).
    assert read == sum(a.nbytes for a in st_arrays().values())


def test_one_shared_file_chooses_the_shared_mode(tmp_path):
    path = str(tmp_path / "one.safetensors")
    save_file(st_arrays(), path)
    models = open_ranks([path, path])
    check_slices(models, 2)
    for m in models:
        assert m.shard["mode"] == "shared", m.shard
        assert m.shard["exchange_read_bytes"] == 0


def test_a_communicator_that_raises_fails_the_open(tmp_path):
    path = str(tmp_path / "one.safetensors")
    save_file(st_arrays(), path)

    class Broken:
        def allgather(self, data):
            raise RuntimeError("the network is down")

        def alltoall(self, chunks):
            raise AssertionError("not reached")

    with pytest.raises(weightmap.Error, match="allgather raised RuntimeError: the network is down$"):
        weightmap.open(path, shard=(0, 2), split=RULES, collective=Broken())


def test_collective_and_mode_options_are_checked(tmp_path):
    path = str(tmp_path / "one.safetensors")
    save_file(st_arrays(), path)
    with pytest.raises(TypeError, match="collective"):
        weightmap.open(path, shard=(0, 2), split=RULES, collective=object())
    with pytest.raises(ValueError, match="shard_mode"):
        weightmap.open(path, shard=(0, 2), split=RULES, shard_mode="broadcast")
    with pytest.raises(weightmap.Error, match="exchange mode needs the other ranks"):
        weightmap.open(path, shard=(0, 2), split=RULES, shard_mode="exchange")
    alone = weightmap.open(path, shard=(0, 2), split=RULES)  # no collective: this rank loads alone
    assert alone.shard["mode"] == "shared" and "no collective" in alone.shard["mode_reason"]
