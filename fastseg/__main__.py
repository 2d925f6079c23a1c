"""Command line: ``python -m fastseg demo``."""

from __future__ import annotations

import argparse


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="fastseg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a 1-D conv net with RangeMAELoss, time the loss, draw a PNG")
    demo.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    demo.add_argument("--out", default="fastseg_demo.png", help="PNG path (default fastseg_demo.png)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        demo_main(steps=args.steps, out=args.out)


if __name__ == "__main__":
    main()
