"""Speciation Lab: `python main.py` opens the window; `python main.py --help` lists the headless commands."""
from lab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
