"""`python -m soundwave.training --config CONFIG`: the entry point for `torchrun` / `accelerate launch`.

torchrun --nproc_per_node=4 -m soundwave.training --config configs/mini/stage2_shrink.yaml
"""

import sys

from soundwave.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
