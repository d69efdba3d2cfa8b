import pytest

from ncnnlike.layers import dw_vnni


@pytest.fixture(params=["ours", "onnxruntime"])
def kernels(request, monkeypatch):
    """The fast int8 mode's integer kernels: ours (layers/dw_vnni.py), where the CPU has AVX512-VNNI
    and VBMI, or onnxruntime's alone, as every other CPU (an AVX2 one) runs it: both are tested on a
    CPU that runs ours."""
    if request.param == "ours" and dw_vnni.library() is None:
        pytest.skip("our int8 kernels do not run here (no AVX512-VNNI/VBMI, or not built)")
    if request.param == "onnxruntime":
        monkeypatch.setattr(dw_vnni, "library", lambda: None)
    return request.param
