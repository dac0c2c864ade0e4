# lit configuration of dgc's IR and tool tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "dgc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dgc_obj_root, "test")

# %configs: the configs bundled with dgc; %inputs: this tree's test inputs.
config.substitutions.append(("%configs", os.path.join(config.dgc_src_root, "configs")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# %bench: the benchmarks' scripts (bench/fused_kernels.py writes kernel modules).
config.substitutions.append(("%bench", os.path.join(config.dgc_src_root, "bench")))
# %tiny_module: the tiny config compiled for host by the build (test/e2e);
# %tiny_checkpoint: its transformers-made checkpoint.
config.substitutions.append(("%tiny_module", os.path.join(config.dgc_obj_root, "test", "e2e", "tiny.dgm")))
config.substitutions.append(("%images", os.path.join(config.test_source_root, "fixtures", "images")))
config.substitutions.append(("%tiny_checkpoint", os.path.join(config.test_source_root, "fixtures", "tiny", "checkpoint")))
# %tiny_cuda_module: the tiny config compiled for cuda; %standin_cuda: the
# stand-in CUDA driver (test/standin-cuda) it runs on without a GPU.
config.substitutions.append(("%tiny_cuda_module", os.path.join(config.dgc_obj_root, "test", "e2e", "tiny-cuda.dgm")))
# %dgc_src, %dgc_obj: the source and build trees; %runtime_lib: the runtime.
config.substitutions.append(("%dgc_src", config.dgc_src_root))
config.substitutions.append(("%dgc_obj", config.dgc_obj_root))
config.substitutions.append(("%runtime_lib", os.path.join(config.dgc_obj_root, "lib", "libDgcRuntime.so")))
config.substitutions.append(("%standin_cuda", os.path.join(config.dgc_obj_root, "lib", "libdgc-standin-cuda.so")))

# %venv_python: the Python with the openai client (scripts/setup.sh makes
# build/venv over Debian's python3, whose jinja2 the chat check uses).
venv_python = os.path.join(config.dgc_obj_root, "venv", "bin", "python")
config.substitutions.append(("%venv_python", venv_python if os.path.exists(venv_python) else "/usr/bin/python3"))
if os.path.exists(os.path.join(config.dgc_tools_dir, "dgc-serve")):
    config.available_features.add("dgc-serve")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["dgc", "dgc-opt", "dgc-run", "dgc-serve", "dgc-bench", "dgc-kernel-check"], [config.dgc_tools_dir])
