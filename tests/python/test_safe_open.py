"""weightmap.safe_open against safetensors.safe_open and gguf.GGUFReader on the same files.

Every file is written by the reference packages (safetensors.numpy.save_file,
gguf.GGUFWriter) and read back by the reference readers; weightmap must agree.
"""

import importlib.util
import json
import os

import ml_dtypes
import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.quants import quantize
from safetensors import safe_open as st_safe_open
from safetensors.numpy import save_file

import weightmap

HAS_TORCH = importlib.util.find_spec("torch") is not None
TORCH_DATA = os.path.join(os.path.dirname(__file__), "..", "data", "torch")


def _tensors():
    rng = np.random.default_rng(16)
    return {
        "zeta.weight": rng.standard_normal((6, 5, 4)).astype(np.float32),
        "alpha.weight": rng.standard_normal((7, 3)).astype(np.float16),
        "mid.bf16": rng.standard_normal((4, 9)).astype(ml_dtypes.bfloat16),
        "ints": rng.integers(-1000, 1000, size=(3, 3), dtype=np.int64),
        "bytes": rng.integers(0, 255, size=(17,), dtype=np.uint8),
        "i16": rng.integers(-300, 300, size=(2, 8), dtype=np.int16),
        "mask": np.array([True, False, True, True]),
        "f64": rng.standard_normal((5,)),
        "scalar": np.array(2.5, dtype=np.float32),
    }


@pytest.fixture(name="st_file")
def fixture_st_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file(_tensors(), str(path), metadata={"format": "np", "note": "written by safetensors"})
    return str(path)


@pytest.fixture(name="bare_file")
def fixture_bare_file(tmp_path):
    path = tmp_path / "bare.safetensors"
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(path))
    return str(path)


def test_keys_metadata_shapes_dtypes_match_safetensors(st_file):
    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file, framework="np") as ours:
        assert ours.keys() == ref.keys()
        assert ours.offset_keys() == ref.offset_keys()
        assert ours.metadata() == ref.metadata() == {"format": "np", "note": "written by safetensors"}
        for name in ref.keys():
            assert ours.get_slice(name).get_shape() == ref.get_slice(name).get_shape(), name
            assert ours.get_slice(name).get_dtype() == ref.get_slice(name).get_dtype(), name


def test_metadata_is_none_without_metadata_like_safetensors(bare_file):
    with st_safe_open(bare_file, framework="np") as ref, weightmap.safe_open(bare_file, framework="np") as ours:
        assert ref.metadata() is None
        assert ours.metadata() is None


def test_values_equal_safetensors(st_file):
    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file, framework="numpy") as ours:
        for name in ref.keys():
            theirs, mine = ref.get_tensor(name), ours.get_tensor(name)
            assert mine.dtype == theirs.dtype, name
            assert mine.shape == theirs.shape, name
            assert np.array_equal(mine, theirs), name
        assert ours.get_tensor("mid.bf16").dtype == ml_dtypes.bfloat16
        got = ours.get_tensors()
        assert list(got) == ref.offset_keys()
        assert all(np.array_equal(got[name], ref.get_tensor(name)) for name in got)


def test_fp8_bytes_equal_what_safetensors_wrote(tmp_path):
    # safetensors' numpy framework cannot return FP8 (numpy has no such type); compare
    # with the arrays handed to its writer and the dtype names its header holds.
    path = str(tmp_path / "fp8.safetensors")
    source = {"e4m3": np.linspace(-3, 3, 12).astype(ml_dtypes.float8_e4m3fn).reshape(3, 4),
              "e5m2": np.linspace(-100, 100, 6).astype(ml_dtypes.float8_e5m2)}
    save_file(source, path)
    with st_safe_open(path, framework="np") as ref, weightmap.safe_open(path) as ours:
        for name, array in source.items():
            assert ours.get_slice(name).get_dtype() == ref.get_slice(name).get_dtype()
            mine = ours.get_tensor(name)
            assert mine.dtype == array.dtype
            assert mine.tobytes() == array.tobytes()


SLICES = [
    0, -1, 5, np.int64(2), True,
    slice(None), slice(1, 4), slice(None, None, 2), slice(1, None, 3), slice(0, 6, 5), slice(2, 2), slice(0, 1),
    (), Ellipsis,
    (slice(0, 1), 1), (1, slice(1, 4), slice(0, 4, 2)), (0, 0, 0), (5, 4, 3), (-1, -2, -3),
    (Ellipsis, 2), (0, Ellipsis, 1), (slice(None), Ellipsis), (Ellipsis, slice(1, 3)), (slice(2, 5), Ellipsis, 0),
    (slice(None, None, 4), slice(None, None, 2), slice(None, None, 3)), (slice(None), slice(None), slice(None)),
]


@pytest.mark.parametrize("index", SLICES, ids=repr)
def test_slices_equal_safetensors_slices(st_file, index):
    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file) as ours:
        theirs, mine = ref.get_slice("zeta.weight")[index], ours.get_slice("zeta.weight")[index]
        assert isinstance(mine, np.ndarray)
        assert mine.shape == theirs.shape
        assert mine.dtype == theirs.dtype
        assert np.array_equal(mine, theirs)


@pytest.mark.parametrize("name", ["alpha.weight", "mid.bf16", "ints", "mask", "scalar"])
def test_slices_of_other_dtypes_equal_safetensors(st_file, name):
    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file) as ours:
        shape = ref.get_slice(name).get_shape()
        indices = [Ellipsis] if not shape else [Ellipsis, 0, slice(0, 2), (slice(None, None, 2),) + (Ellipsis,)]
        for index in indices:
            theirs, mine = ref.get_slice(name)[index], ours.get_slice(name)[index]
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, (name, index)
            assert np.array_equal(mine, theirs), (name, index)


@pytest.mark.parametrize("index", [slice(-3, None), slice(-5, -1), (slice(None), slice(-2, None), -1), slice(3, 1)],
                         ids=repr)
def test_slices_safetensors_refuses_work_as_in_numpy(st_file, index):
    # safetensors overflows on negative bounds and fails on start > stop; numpy's rules apply.
    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file) as ours:
        whole = ref.get_tensor("zeta.weight")
        assert np.array_equal(ours.get_slice("zeta.weight")[index], whole[index])


@pytest.mark.parametrize(("index", "error"), [
    (6, IndexError), (-7, IndexError), (slice(0, 7), IndexError), (slice(7, None), IndexError),
    ((0, 0, 0, 0), IndexError), ((Ellipsis, Ellipsis), IndexError), ((0, 9), IndexError),
    (slice(None, None, -1), ValueError), (slice(None, None, 0), ValueError),
    (None, TypeError), ([0, 1], TypeError), (1.0, TypeError), ((slice(0, 1.5),), TypeError),
], ids=repr)
def test_bad_slices_raise_where_safetensors_raises(st_file, index, error):
    from safetensors import SafetensorError

    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file) as ours:
        with pytest.raises((SafetensorError, TypeError, OverflowError)):
            ref.get_slice("zeta.weight")[index]
        with pytest.raises(error, match="zeta.weight"):
            ours.get_slice("zeta.weight")[index]


def test_zero_copy_read_only_views(st_file):
    with weightmap.safe_open(st_file) as ours:
        first, second = ours.get_tensor("zeta.weight"), ours.get_tensor("zeta.weight")
        assert np.shares_memory(first, second)
        assert not first.flags.writeable
        part = ours.get_slice("zeta.weight")[1:3, :, ::2]
        assert np.shares_memory(part, first)
        assert not part.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            first[0, 0, 0] = 1.0


def test_arrays_outlive_the_context_and_the_handle_closes(st_file):
    with st_safe_open(st_file, framework="np") as ref:
        expected = ref.get_tensor("zeta.weight")
    with weightmap.safe_open(st_file) as ours:
        kept = ours.get_tensor("zeta.weight")
        kept_slice = ours.get_slice("alpha.weight")
    assert np.array_equal(kept, expected)
    with pytest.raises(weightmap.Error, match="closed"):
        ours.keys()
    with pytest.raises(weightmap.Error):
        kept_slice[0]


def test_unknown_names_raise_key_error(st_file):
    with weightmap.safe_open(st_file) as ours:
        with pytest.raises(KeyError, match="nope"):
            ours.get_tensor("nope")
        with pytest.raises(KeyError, match="nope"):
            ours.get_slice("nope")


def test_open_errors(st_file, tmp_path):
    with pytest.raises(FileNotFoundError):
        weightmap.safe_open(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="framework"):
        weightmap.safe_open(st_file, framework="jax")
    with pytest.raises(ValueError, match="device"):
        weightmap.safe_open(st_file, framework="np", device="cuda")
    with pytest.raises(ValueError, match="device"):
        weightmap.safe_open(st_file, framework="np", device=0)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(weightmap.Error) as caught:
        weightmap.safe_open(str(broken))
    assert "broken.safetensors" in str(caught.value)


@pytest.mark.skipif(HAS_TORCH, reason="checks the message given when torch is absent")
def test_framework_pt_without_torch_says_so(st_file):
    with pytest.raises(ImportError, match='torch, which is not installed; framework="np" works'):
        weightmap.safe_open(st_file, framework="pt")


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_framework_pt_shares_memory_and_matches(st_file):
    import torch

    with st_safe_open(st_file, framework="np") as ref, weightmap.safe_open(st_file, framework="pt") as ours:
        for name in ref.keys():
            tensor = ours.get_tensor(name)
            assert isinstance(tensor, torch.Tensor)
            expected = ref.get_tensor(name)
            if expected.dtype == ml_dtypes.bfloat16:
                assert tensor.dtype == torch.bfloat16
                got = tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
            else:
                got = tensor.numpy()
            assert np.array_equal(got, expected), name
        first, second = ours.get_tensor("zeta.weight"), ours.get_tensor("zeta.weight")
        assert first.data_ptr() == second.data_ptr()
        part = ours.get_slice("zeta.weight")[1:3]
        assert torch.equal(part, torch.from_numpy(ref.get_slice("zeta.weight")[1:3]))


# ---- what safetensors cannot open ---------------------------------------------------

@pytest.fixture(name="gguf_file")
def fixture_gguf_file(tmp_path):
    path = str(tmp_path / "model.gguf")
    rng = np.random.default_rng(3)
    writer = GGUFWriter(path, "llama")
    writer.add_string("general.name", "safe_open test")
    writer.add_uint32("llama.context_length", 128)
    writer.add_array("tokenizer.ggml.scores", [0.5, 1.5])
    writer.add_tensor("token_embd.weight", rng.standard_normal((8, 64)).astype(np.float16))
    writer.add_tensor("output_norm.weight", rng.standard_normal(64).astype(np.float32))
    quant = quantize(rng.standard_normal((4, 64)).astype(np.float32), GGMLQuantizationType.Q8_0)
    writer.add_tensor("blk.0.ffn_up.weight", quant, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_matches_gguf_reader(gguf_file):
    reader = GGUFReader(gguf_file)
    with weightmap.safe_open(gguf_file) as ours:
        assert ours.keys() == sorted(t.name for t in reader.tensors)
        for tensor in reader.tensors:
            mine = ours.get_tensor(tensor.name)
            assert mine.dtype == tensor.data.dtype, tensor.name
            assert mine.shape == tensor.data.shape, tensor.name
            assert np.array_equal(mine, tensor.data), tensor.name
            assert ours.get_slice(tensor.name).get_dtype() == tensor.tensor_type.name
            # GGUFReader's shape is ggml's ne (innermost first).
            assert ours.get_slice(tensor.name).get_shape() == [int(n) for n in reversed(tensor.shape)]
        metadata = ours.metadata()
        assert metadata["general.architecture"] == "llama"
        assert metadata["general.name"] == "safe_open test"
        assert json.loads(metadata["llama.context_length"]) == 128
        assert json.loads(metadata["tokenizer.ggml.scores"]) == [0.5, 1.5]


def test_gguf_quantised_types_match_gguf_reader(gguf_path):
    # conftest's file: Q8_0 and Q4_0 from gguf.quants, Q4_K raw blocks, F32/F16, typed metadata.
    reader = GGUFReader(gguf_path)
    with weightmap.safe_open(gguf_path) as ours:
        for tensor in reader.tensors:
            mine = ours.get_tensor(tensor.name)
            assert mine.dtype == tensor.data.dtype and np.array_equal(mine, tensor.data), tensor.name
            assert ours.get_slice(tensor.name).get_dtype() == tensor.tensor_type.name
            assert np.array_equal(ours.get_slice(tensor.name)[1:], tensor.data[1:]), tensor.name
        metadata = ours.metadata()
        assert json.loads(metadata["test.flag"]) is True
        assert json.loads(metadata["test.offset"]) == -7
        assert json.loads(metadata["tokenizer.ggml.tokens"]) == ["<s>", "hello", "world"]


def test_gguf_slices_match_gguf_reader(gguf_file):
    reader = GGUFReader(gguf_file)
    data = {t.name: t.data for t in reader.tensors}
    with weightmap.safe_open(gguf_file) as ours:
        assert np.array_equal(ours.get_slice("token_embd.weight")[2:5, ::3], data["token_embd.weight"][2:5, ::3])
        assert np.array_equal(ours.get_slice("output_norm.weight")[10:20], data["output_norm.weight"][10:20])
        # Quantised: whole rows of raw blocks; the logical last dimension cannot be cut.
        quant = ours.get_slice("blk.0.ffn_up.weight")
        assert quant.get_shape() == [4, 64] and quant.get_dtype() == "Q8_0"
        assert np.array_equal(quant[1:3], data["blk.0.ffn_up.weight"][1:3])
        assert np.array_equal(quant[1, :], data["blk.0.ffn_up.weight"][1])
        with pytest.raises(ValueError, match="blocks"):
            quant[:, 0:32]


def test_sharded_index_matches_safetensors_per_shard(tmp_path):
    tensors = _tensors()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[:4], "model-00002-of-00002.safetensors": names[4:]}
    weight_map = {}
    for shard, members in shards.items():
        save_file({name: tensors[name] for name in members}, str(tmp_path / shard))
        weight_map.update({name: shard for name in members})
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    with weightmap.safe_open(str(index)) as ours:
        assert ours.keys() == names
        for shard, members in shards.items():
            with st_safe_open(str(tmp_path / shard), framework="np") as ref:
                for name in members:
                    assert np.array_equal(ours.get_tensor(name), ref.get_tensor(name)), name
                    if ref.get_slice(name).get_shape():
                        assert np.array_equal(ours.get_slice(name)[..., :1], ref.get_slice(name)[..., :1]), name


def test_diffusers_folder_names_components(tmp_path):
    tensors = _tensors()
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    parts = {"unet": ["zeta.weight", "alpha.weight"], "vae": ["mid.bf16", "ints"]}
    for component, members in parts.items():
        (tmp_path / component).mkdir()
        save_file({name: tensors[name] for name in members},
                  str(tmp_path / component / "diffusion_pytorch_model.safetensors"))
    with weightmap.safe_open(str(tmp_path)) as ours:
        expected = sorted(f"{component}.{name}" for component, members in parts.items() for name in members)
        assert ours.keys() == expected
        for component, members in parts.items():
            with st_safe_open(str(tmp_path / component / "diffusion_pytorch_model.safetensors"), "np") as ref:
                for name in members:
                    assert np.array_equal(ours.get_tensor(f"{component}.{name}"), ref.get_tensor(name))


def _read_ref(path):
    """The .ref beside a committed torch fixture: name, dtype, shape, hex bytes (written through numpy)."""
    rows = {}
    with open(path, encoding="ascii") as ref:
        for line in ref:
            name, dtype, dims, hexbytes = line.rstrip("\n").split("\t")
            shape = [int(d) for d in dims.split(",")] if dims else []
            rows[name] = (dtype, shape, bytes.fromhex(hexbytes))
    return rows


def test_pytorch_checkpoint_matches_its_reference():
    path = os.path.join(TORCH_DATA, "dtypes.pt")
    expected = _read_ref(path + ".ref")
    with weightmap.safe_open(path) as ours:
        assert ours.keys() == sorted(expected)
        for name, (dtype, shape, raw) in expected.items():
            part = ours.get_slice(name)
            assert part.get_dtype() == dtype, name
            assert part.get_shape() == shape, name
            assert np.ascontiguousarray(ours.get_tensor(name)).tobytes() == raw, name
