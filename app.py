"""The web app launcher, kept for `python app.py [--host H] [--port P] [--ingest] [--index-dir D] ...`: exactly
`citechat serve ...` (`citechat serve -h` lists the options). `make install` installs the package it imports."""

import sys

from citechat.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
