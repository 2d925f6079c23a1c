"""fastseg's command line: ``fastseg demo`` and ``fastseg --version`` (also as ``python -m fastseg``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from ._extras import DISTRIBUTION, MissingExtraError


def parser() -> argparse.ArgumentParser:
    """The ``fastseg`` argument parser."""
    cli = argparse.ArgumentParser(prog="fastseg", description="Fused loss kernels with exact gradients.")
    cli.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({DISTRIBUTION})")
    sub = cli.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a 1-D conv net with RangeMAELoss, time the loss, draw a PNG")
    demo.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    demo.add_argument("--out", default="fastseg_demo.png", help="PNG path (default fastseg_demo.png)")
    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = parser().parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        try:
            demo_main(steps=args.steps, out=args.out)
        except MissingExtraError as err:
            sys.exit(f"fastseg demo: {err}")


if __name__ == "__main__":
    main()
