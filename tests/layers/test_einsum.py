"""Einsum: ncnn's equation dialect (output axes always i, j, k, l), trace, diagonals, 1-4 D bottoms
and 1-3 inputs, checked against pip ncnn. Tolerance 1e-5: ncnn sums in nested loops, onnxruntime in
its own order."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def codes(equation):
    """The equation as ncnn's int array param token."""
    return "-23300=%d,%s" % (len(equation), ",".join(str(ord(c)) for c in equation))


def einsum_lines(equation, n):
    names = ["x%d" % i for i in range(n)]
    inputs = "\n".join("Input in%d 0 1 %s" % (i, name) for i, name in enumerate(names))
    return "%s\nEinsum e %d 1 %s y %s\n" % (inputs, n, " ".join(names), codes(equation))


def arrays(*shapes):
    return {"x%d" % i: RNG.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}


@pytest.mark.parametrize("equation,shapes", [
    ("ik,kj->ij", [(3, 4), (4, 5)]),                  # matmul
    ("ij,jk,km->ij", [(2, 3), (3, 4), (4, 5)]),       # three inputs, two summed letters
    ("ji->i", [(3, 4)]),                              # column sums
    ("ikj->ijk", [(2, 3, 4)]),                        # a permutation by naming
    ("lkji->ijkl", [(2, 3, 4, 5)]),                   # 4-D reversal
    ("injm,inmk->ijk", [(2, 3, 4, 5), (2, 3, 5, 6)]),  # batched matmul over 4-D, summed n and m
    ("ii->i", [(4, 4)]),                              # diagonal
    ("i,j->ij", [(3,), (4,)]),                        # outer product
    ("ijm,ijm->ij", [(2, 3, 4), (2, 3, 4)]),           # row dot products
    ("ii", [(3, 3)]),                                 # trace
    ("ii", [(3, 5)]),                                 # trace of a wide matrix: the first h diagonal
])
def test_equations_match_pip_ncnn(tmp_path, equation, shapes):
    check_ncnn(einsum_lines(equation, len(shapes)), arrays(*shapes), tmp_path, atol=1e-5, rtol=1e-5)


def test_matmul_values():
    a = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    b = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    eq = [ord(c) for c in "ik,kj->ij"]
    y = run_layers([layer("Einsum", "e", ["a", "b"], ["y"], {0: eq})], {"a": a, "b": b})["y"]
    np.testing.assert_allclose(y, a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("equation,shapes,what", [
    ("ij->ji", [(3, 4)], "output must be i, ij"),
    ("ij,jk->ik", [(3, 4), (4, 5)], "output must be i, ij"),
    ("m,m->i", [(3,), (3,)], "output letter 'i' occurs in no input"),
    ("iy,yj->ij", [(3, 4), (4, 5)], "1 to 4 letters in i..x"),
    ("ijklm->ij", [(2, 2, 2, 2)], "1 to 4 letters"),
    ("ij", [(3, 4)], "no '->'"),
    ("ijk->ij", [(3, 4)], "bottom 0 has shape"),
    ("ij,jk->ij", [(3, 4), (5, 6)], "letter 'j' is 4"),
    ("ii", [(4, 3)], "h <= w"),
    ("ij,jk->ij", [(3, 4)], "has 2 inputs but the layer has 1"),
])
def test_equations_outside_ncnn_dialect_raise(equation, shapes, what):
    inputs = {k: v[None] for k, v in arrays(*shapes).items()}
    eq = [ord(c) for c in equation]
    with pytest.raises(NcnnlikeError, match="layer e .Einsum.*" + what.replace("(", r"\(")):
        run_layers([layer("Einsum", "e", list(inputs), ["y"], {0: eq})], inputs)
