"""A model = .param + .bin: load both, or save both atomically (neither file is left on failure)."""
from ncnnlike.io.atomic import atomic_files
from ncnnlike.io.bin import dump_bin, read_bin
from ncnnlike.io.param import param_text, read_param, save_param_text


def load_model(param_path, bin_path, writable=True):
    """read_param then read_bin: a Graph with its weights (`writable`: see read_bin)."""
    graph = read_param(param_path)
    read_bin(graph, bin_path, writable)
    return graph


def save_model(graph, param_path, bin_path, fp16=False):
    """Write .param and .bin together; both appear only when both were written completely.
    fp16=True stores float32 tagged weights as fp16 (spec 2.2 storage_type 1)."""
    text = param_text(graph)
    with atomic_files(param_path, bin_path) as (tmp_param, tmp_bin):
        save_param_text(text, tmp_param)
        with open(tmp_bin, "wb") as f:
            dump_bin(graph, f, fp16)
