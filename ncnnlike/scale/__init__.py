"""Scale-out on a Ray cluster: calibration, model-compare, mixed-precision trials and evaluation.

Every job here is an image list cut into shards of whole batches (shards.py), processed by N Ray
actors that received the model, the lists and the preprocessing once through the object store
(cluster.py), with the per-shard results folded on the driver in list order (dispatch.py). What is
folded is exactly what one process accumulates batch after batch, so the results are the
single-process results, byte for byte: integer histograms and extrema for calibration
(calibration.py), per-batch error sums replayed in order for model-compare and the trials
(comparison.py, trials.py), per-image scores for evaluation (evaluate.py). Ray is an optional
extra (`pip install 'ncnnlike[ray]'`); nothing here imports it before `workers=` asks for it.
"""
