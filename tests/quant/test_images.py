"""Calibration inputs: bit-exact with pip ncnn (resize, pixel types, mean/norm), reference inputs, options."""
import glob
import os

import cv2
import ncnn
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant import resize
from ncnnlike.quant.images import (Preprocess, from_bgr, iter_batches, load_image, load_npy,
                                   parse_preprocess, read_list, read_lists, resize_bilinear,
                                   substract_mean_normalize, target_size)
from tests.helpers import DATA, REFERENCE, can_build_extensions

PT = ncnn.Mat.PixelType
FOOLBOX = sorted(glob.glob(os.path.join(DATA, "foolbox-imagenet20", "*.jpg")))
CONVERT = {"BGR": PT.PIXEL_BGR, "RGB": PT.PIXEL_BGR2RGB, "GRAY": PT.PIXEL_BGR2GRAY,
           "RGBA": PT.PIXEL_BGR2RGBA, "BGRA": PT.PIXEL_BGR2BGRA}


def ncnn_pixels(pixels, type_, tw, th, mean=None, norm=None):
    """pip ncnn from_pixels_resize (+ substract_mean_normalize) as a (C, th, tw) float32 copy."""
    pixels = np.ascontiguousarray(pixels)  # ncnn.Mat does not copy: keep the array alive
    mat = ncnn.Mat.from_pixels_resize(pixels, type_, pixels.shape[1], pixels.shape[0], tw, th)
    if mean is not None or norm is not None:
        mat.substract_mean_normalize(mean or [], norm or [])
    return np.array(mat).reshape(-1, th, tw).copy()


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def random_image(seed, h, w, c=3):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


@pytest.fixture(params=["compiled", "numpy"])
def resize_way(request, monkeypatch):
    """Each test of the resize runs through the compiled passes (where built) and through numpy's."""
    if request.param == "numpy":
        monkeypatch.setattr(resize, "_compiled", None)
    elif resize._compiled is None:
        pytest.skip("installed without the compiled kernel")
    return request.param


@pytest.mark.skipif(not can_build_extensions(), reason="no C compiler or no Python headers here")
def test_compiled_resize_is_built():
    assert resize._compiled is not None


@pytest.mark.skipif(resize._compiled is None, reason="installed without the compiled kernel")
def test_compiled_resize_refuses_plans_that_read_outside_the_image():
    img = random_image(3, 6, 5)
    plan = resize._plan(6, 5, 3, 4, 4)
    out = np.empty((4, 4, 3), np.uint8)
    resize._compiled.bilinear(img, 15, *plan, out)            # the plan as made: fine
    for field, bad in (("i1", plan.i1 + 3), ("used", plan.used + 1), ("j0", plan.j0 + len(plan.used)),
                       ("i0", -plan.i0 - 1)):
        with pytest.raises(ValueError):
            resize._compiled.bilinear(img, 15, *plan._replace(**{field: bad}), out)
    with pytest.raises(ValueError):
        resize._compiled.bilinear(img, 15, *plan, np.empty((4, 3, 3), np.uint8))
    with pytest.raises(ValueError):
        resize._compiled.bilinear(img, 0, *plan, out)
    with pytest.raises(TypeError):
        resize._compiled.bilinear(img, 15, *plan._replace(a0=plan.a0.astype(np.int64)), out)
    with pytest.raises(TypeError):
        resize._compiled.bilinear(img.astype(np.int16), 15, *plan, out)


@pytest.mark.parametrize("src_hw,dst_wh", [((5, 7), (224, 224)), ((375, 500), (224, 224)),
                                           ((17, 33), (31, 47)), ((224, 224), (223, 225)),
                                           ((1, 9), (4, 3)), ((9, 1), (3, 4)), ((2, 2), (1, 1)),
                                           ((64, 48), (16, 12)), ((30, 40), (300, 7))])
def test_resize_bilinear_c3_is_bit_exact_with_ncnn_on_random_images(src_hw, dst_wh, resize_way):
    img = random_image(sum(src_hw), *src_hw)
    ours = resize_bilinear(img, *dst_wh).transpose(2, 0, 1).astype(np.float32)
    assert same_bits(ours, ncnn_pixels(img, PT.PIXEL_BGR, *dst_wh))


@pytest.mark.parametrize("channels,type_", [(1, PT.PIXEL_GRAY), (4, PT.PIXEL_BGRA)])
def test_resize_bilinear_c1_and_c4_are_bit_exact_with_ncnn(channels, type_, resize_way):
    img = random_image(channels, 37, 23, channels)
    ours = resize_bilinear(img if channels > 1 else img[:, :, 0], 50, 19)
    ours = ours.reshape(19, 50, channels).transpose(2, 0, 1).astype(np.float32)
    assert same_bits(ours, ncnn_pixels(img, type_, 50, 19))


def test_resize_bilinear_on_saturated_image_keeps_255(resize_way):
    img = np.full((13, 11, 3), 255, np.uint8)
    assert (resize_bilinear(img, 40, 7) == 255).all() and (resize_bilinear(img, 3, 2) == 255).all()


@pytest.mark.parametrize("path", FOOLBOX[:6])
def test_real_jpeg_up_and_down_scales_match_ncnn_for_every_pixel_type(path, resize_way):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    for i, (pixel, type_) in enumerate(CONVERT.items()):
        tw, th = [(224, 224), (31, 47), (513, 400), (97, 224), (bgr.shape[1], bgr.shape[0])][i]
        assert same_bits(from_bgr(bgr, pixel, tw, th), ncnn_pixels(bgr, type_, tw, th)), pixel


@pytest.mark.parametrize("pixel", list(CONVERT))
def test_pixel_conversion_with_mean_and_norm_matches_ncnn(pixel):
    img = random_image(7, 40, 30)
    c = {"GRAY": 1, "RGBA": 4, "BGRA": 4}.get(pixel, 3)
    mean, norm = [104.0, 117.0, 123.0, 50.5][:c], [0.017, 0.0123, 1 / 58.8, 0.5][:c]
    ours = from_bgr(img, pixel, 33, 21, mean, norm)
    assert same_bits(ours, ncnn_pixels(img, CONVERT[pixel], 33, 21, mean, norm))


@pytest.mark.parametrize("mean,norm", [([104, 117, 123], [0.017] * 3), ([127.5] * 3, [1 / 127.5] * 3),
                                       ([0.1, 1e5, -3.3], [0.3, 1e-7, -7.77]), ([1, 2, 3], []),
                                       ([], [0.5, 2, 3]), ([], [])])
def test_substract_mean_normalize_is_bit_exact_with_ncnn_fused_multiply_add(mean, norm):
    x = np.random.default_rng(3).normal(0, 300, (3, 17, 19)).astype(np.float32)
    ref = x.copy()
    mat = ncnn.Mat(ref)
    mat.substract_mean_normalize(mean, norm)
    assert same_bits(substract_mean_normalize(x, mean, norm), np.array(mat).copy())


def test_fused_normalisation_differs_from_two_roundings():
    x = np.arange(256, dtype=np.float32)[None].repeat(3, 0)
    ours = substract_mean_normalize(x, [104, 117, 123], [0.017] * 3)
    norm = np.float32(0.017)
    two = x * norm + (-np.array([104, 117, 123], np.float32) * norm)[:, None]
    assert (ours != two).any() and np.abs(ours - two).max() <= 2.4e-7


def test_missing_mean_and_norm_entries_default_to_zero_and_one():
    x = np.full((3, 2, 2), 10, np.float32)
    out = substract_mean_normalize(x, [4], [0.5, 2])
    assert out[:, 0, 0].tolist() == [3.0, 20.0, 10.0]


def test_reference_tiny_inputs_are_reproduced_bit_for_bit():
    ref = np.load(os.path.join(REFERENCE, "tiny", "outputs.npz"))
    lists = read_lists([os.path.join(REFERENCE, "tiny", "calib20.txt")])
    prep = parse_preprocess({"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]",
                             "shape": "[32,32,3]", "pixel": "BGR"}, ["in0"])
    batches = list(iter_batches(lists, prep, 8, threads=2))
    assert [b["in0"].shape[0] for b in batches] == [8, 8, 4]
    assert same_bits(np.concatenate([b["in0"] for b in batches]), ref["inputs"])


def test_iter_batches_results_do_not_depend_on_thread_count_nor_on_how_far_ahead_it_reads():
    lists = read_lists([os.path.join(REFERENCE, "tiny", "calib20.txt")] * 2)
    prep = parse_preprocess({"shape": "[20,12],[9,16]", "pixel": "RGB,GRAY", "mean": "[1,2,3],[9]",
                             "norm": "[0.5,0.25,2],[0.1]"}, ["a", "b"])
    one = list(iter_batches(lists, prep, 3, threads=1))
    assert list(one[0]) == ["a", "b"] and one[0]["a"].shape[:2] == (3, 3) and one[0]["b"].shape[:2] == (3, 1)
    for other in (list(iter_batches(lists, prep, 5, threads=3)), list(iter_batches(lists, prep, 3, 2, ahead=4)),
                  list(iter_batches(lists, prep, 6, 2, ahead=50))):
        for name in ("a", "b"):
            assert same_bits(np.concatenate([b[name] for b in one]), np.concatenate([b[name] for b in other]))


def test_target_size_rules_follow_read_and_resize_image():
    assert target_size(500, 375, 0, 0) == (500, 375)
    assert target_size(500, 375, -1, -5) == (500, 375)
    assert target_size(500, 375, 224, 224) == (224, 224)
    # float32 scale: 82 / float32(100/300) = 245.99998 -> 245 (exact maths would give 246)
    assert target_size(100, 82, 300, 0) == (300, 245)
    assert target_size(82, 100, -3, 300) == (245, 300)
    assert target_size(500, 375, 224, -1) == (224, 167)  # float32(500/224) rounds up: 167.99999
    with pytest.raises(NcnnlikeError, match="target size"):
        target_size(1000, 2, 10, 0)


def test_load_image_without_resize_keeps_own_size(tmp_path):
    img = random_image(11, 9, 14)
    path = str(tmp_path / "x.png")
    cv2.imwrite(path, img)
    out = load_image(path, 0, 0, "RGB", [1, 2, 3], [1, 1, 1])
    assert out.shape == (3, 9, 14) and out[0, 4, 5] == img[4, 5, 2] - 1.0


def test_relative_list_paths_fall_back_to_the_list_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "a.png"), random_image(1, 4, 4))
    absolute = str(tmp_path / "sub" / "a.png")
    (tmp_path / "sub" / "list.txt").write_text("\n  a.png   extra words\n\n" + absolute + "\n")
    monkeypatch.chdir(tmp_path)
    entries = read_list(os.path.join("sub", "list.txt"))
    assert [e.line for e in entries] == [2, 4]
    assert os.path.samefile(entries[0].path, tmp_path / "sub" / "a.png")
    cv2.imwrite(str(tmp_path / "a.png"), random_image(2, 4, 4))  # now the cwd copy wins, as in ncnn
    assert read_list(os.path.join("sub", "list.txt"))[0].path == "a.png"


def test_missing_image_error_names_file_list_and_line(tmp_path):
    lst = tmp_path / "l.txt"
    cv2.imwrite(str(tmp_path / "ok.png"), random_image(1, 8, 8))
    lst.write_text("ok.png\nnope.jpg\n")
    prep = [Preprocess("in0", [8, 8])]
    with pytest.raises(NcnnlikeError, match=r"nope\.jpg.*l\.txt line 2"):
        list(iter_batches(read_lists([str(lst)]), prep, 4))
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(NcnnlikeError, match=r"cannot decode image .*bad\.jpg"):
        load_image(str(tmp_path / "bad.jpg"), 8, 8)


def test_list_errors_empty_list_and_unequal_lengths(tmp_path):
    (tmp_path / "empty.txt").write_text("\n   \n")
    (tmp_path / "two.txt").write_text("a\nb\n")
    (tmp_path / "one.txt").write_text("a\n")
    with pytest.raises(NcnnlikeError, match="empty.txt' has no entries"):
        read_list(str(tmp_path / "empty.txt"))
    with pytest.raises(NcnnlikeError, match=r"different lengths: .*two.txt \(2\), .*one.txt \(1\)"):
        read_lists([str(tmp_path / "two.txt"), str(tmp_path / "one.txt")])
    with pytest.raises(NcnnlikeError, match="cannot read list file"):
        read_list(str(tmp_path / "absent.txt"))


def test_images_of_different_sizes_cannot_share_a_batch_without_shape(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), random_image(1, 8, 8))
    cv2.imwrite(str(tmp_path / "b.png"), random_image(1, 8, 9))
    (tmp_path / "l.txt").write_text("a.png\nb.png\n")
    lists = read_lists([str(tmp_path / "l.txt")])
    with pytest.raises(NcnnlikeError, match="different shapes"):
        list(iter_batches(lists, [Preprocess("in0", [0, 0])], 2))
    assert [b["in0"].shape for b in iter_batches(lists, [Preprocess("in0", [0, 0])], 1)] == \
        [(1, 3, 8, 8), (1, 3, 8, 9)]


def test_npy_inputs_check_dtype_rank_and_innermost_first_shape(tmp_path):
    good = np.random.default_rng(0).normal(size=(3, 5, 7)).astype(np.float32)
    np.save(tmp_path / "g.npy", good)
    np.save(tmp_path / "d.npy", good.astype(np.float64))
    np.save(tmp_path / "r.npy", good[0])
    (tmp_path / "l.txt").write_text("g.npy\ng.npy\n")
    prep = parse_preprocess({"shape": "[7,5,3]", "type": "1"}, ["in0"])
    batch = next(iter_batches(read_lists([str(tmp_path / "l.txt")]), prep, 2))
    assert batch["in0"].shape == (2, 3, 5, 7) and same_bits(batch["in0"][1], good)
    with pytest.raises(NcnnlikeError, match=r"d\.npy.*float64, expected float32"):
        load_npy(str(tmp_path / "d.npy"), [7, 5, 3])
    with pytest.raises(NcnnlikeError, match=r"r\.npy.*shape \(5, 7\), expected \(3, 5, 7\)"):
        load_npy(str(tmp_path / "r.npy"), [7, 5, 3])
    with pytest.raises(NcnnlikeError, match=r"g\.npy.*expected \(3, 7, 5\) for shape=\[5,7,3\]"):
        load_npy(str(tmp_path / "g.npy"), [5, 7, 3])
    with pytest.raises(NcnnlikeError, match=r"x\.npy' \(l\.txt line 9\) does not exist"):
        load_npy(str(tmp_path / "x.npy"), [7], where="l.txt line 9")
    (tmp_path / "t.npy").write_text("text")
    with pytest.raises(NcnnlikeError, match=r"cannot read npy file .*t\.npy"):
        load_npy(str(tmp_path / "t.npy"), [7])


def test_parse_preprocess_reads_ncnn2table_options():
    preps = parse_preprocess({"mean": "[104,117,123],[128]", "norm": "[0.017,0.017,0.017],[0.0078125]",
                              "shape": "[224,224,3],[64,0]", "pixel": "BGR,gray"}, ["data", "mask"])
    assert preps[0] == Preprocess("data", [224, 224, 3], "BGR", [104.0, 117.0, 123.0], [0.017] * 3)
    assert (preps[1].w, preps[1].h, preps[1].pixel, preps[1].mean) == (64, 0, "GRAY", [128.0])
    bare = parse_preprocess({"mean": "104,117,123", "shape": "[32,32]"}, ["in0"])[0]
    assert (bare.mean, bare.norm, bare.pixel) == ([104.0, 117.0, 123.0], [], "BGR")


@pytest.mark.parametrize("options,message", [
    ({"mean": "[1,2,3],[4]", "shape": "[8,8]"}, "mean= has 2 lists but the model has 1 input"),
    ({"shape": "[8,8],[8,8]"}, "shape= has 2 lists but the model has 1 input"),
    ({"pixel": "BGR,RGB", "shape": "[8,8]"}, "pixel= has 2 lists"),
    ({"norm": "[0,0,0]", "shape": "[8,8]"}, "norm list of zeros"),
    ({"pixel": "YUV", "shape": "[8,8]"}, "unknown pixel type 'YUV'"),
    ({"pixel": "RAW", "shape": "[8,8]"}, "RAW is not valid for images"),
    ({"mean": "[1,2,3,4]", "shape": "[8,8]"}, "3 channels with pixel=BGR but 4 values"),
    ({"mean": "[1,x,3]", "shape": "[8,8]"}, "'1,x,3' is not a list of numbers"),
    ({"mean": "[1,2]x[3]", "shape": "[8,8]"}, "expected bracketed lists"),
    ({"mean": "[nan]", "shape": "[8,8]"}, "finite"),
    ({"shape": "[]"}, "empty list"),
    ({"shape": "[8]"}, r"image shapes are \[w,h\]"),
    ({"mean": "[1]"}, "shape= is required"),
    ({"shape": "[8,8]", "type": "2"}, "expected 0 \\(images\\) or 1 \\(npy\\)"),
    ({"shape": "[8,8]", "type": "1", "mean": "[1]"}, "mean= is not used with type=1"),
    ({"shape": "[8,0]", "type": "1"}, "npy shapes are 1 to 4 positive sizes"),
])
def test_parse_preprocess_rejects_bad_options(options, message):
    with pytest.raises(NcnnlikeError, match=message):
        parse_preprocess(options, ["in0"])
