# ONNX file of the splice export on the run's whole test split, against the run's own predictions.csv.
import json
import numpy as np
import pandas as pd
from biocnn import export
from biocnn.data import Encoding
from biocnn.export.onnx import onnx_session
R = "/tmp/interop_runs"
info = export.to_onnx(f"{R}/splice_export", f"{R}/splice.onnx", overwrite=True)
table = pd.read_csv("datasets/splice/splice.csv", skipinitialspace=True)
table = table.assign(instance_name=table.instance_name.str.strip(), sequence=table.sequence.str.strip()).drop_duplicates("instance_name").set_index("instance_name")
pred = pd.read_csv(f"{R}/splice/predictions.csv")
encoding = Encoding.from_dict(json.load(open(f"{R}/splice/config.json"))["encoding"])
x = encoding.encode(list(table.loc[pred["id"].astype(str), "sequence"])).astype("float32")
out = dict(zip(["class_index", "probabilities"], onnx_session(f"{R}/splice.onnx").run(["class_index", "probabilities"], {"one_hot": x})))
ref = pred[[c for c in pred.columns if c.startswith("score_")]].to_numpy()
print(json.dumps({"samples": len(x), "max_abs_difference_vs_predictions_csv": float(np.abs(out["probabilities"] - ref).max()),
                  "same_predicted_class": int((out["class_index"] == ref.argmax(1)).sum()), "probe": info["max_abs_difference"]}))
