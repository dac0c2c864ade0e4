"""Copies a checkpoint directory, setting every value of one f32 tensor of
its model.safetensors to VALUE (nan, inf): weights gone bad, for the
runtime's checks of non-finite outputs.

    python3 poison_checkpoint.py SRC_DIR DST_DIR TENSOR VALUE
"""
import json
import shutil
import struct
import sys
from pathlib import Path

src, dst, name, value = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
data = bytearray((dst / "model.safetensors").read_bytes())
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
entry = header[name]
assert entry["dtype"] == "F32", entry
begin, end = (8 + n + offset for offset in entry["data_offsets"])
data[begin:end] = struct.pack("<f", value) * ((end - begin) // 4)
(dst / "model.safetensors").write_bytes(bytes(data))
