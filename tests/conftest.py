import os
import shutil

# Without a GPU, Numba CUDA kernels run on the simulator (set before numba.cuda is imported).
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)  # reproducible CI
settings.register_profile("thorough", max_examples=1000, deadline=None)  # HYPOTHESIS_PROFILE=thorough: random, to explore
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
