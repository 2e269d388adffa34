"""``python -m petro.emulator`` / ``petro-emulator``: run the emulator until Ctrl-C.

Prints the URL and ``export`` lines with the credentials to use, e.g.::

    $ petro-emulator --port 8080 --no-sample-data
    export PETRO_BASE_URL=http://127.0.0.1:8080
    ...
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="petro-emulator",
        description="Local Petro.ai + Petra Security server for tests and offline work.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--data-dir", default=None, help="keep data in this directory")
    p.add_argument(
        "--sample-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load the seeded sample data into an empty store (default: yes)",
    )
    p.add_argument("--sample-wells", type=int, default=2000, help="number of sample wells")
    p.add_argument("--response-shape", choices=["list", "envelope"], default="list")
    p.add_argument("--errors", choices=["strict", "v4"], default="strict")
    p.add_argument(
        "--rate-limit", type=int, default=None, help="requests per minute per route and key"
    )
    return p


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv``, start the emulator, print how to use it, wait for Ctrl-C."""
    from petro.emulator import Emulator

    args = _parser().parse_args(argv)
    emu = Emulator(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        sample_data=args.sample_data,
        sample_wells=args.sample_wells,
        response_shape=args.response_shape,
        errors=args.errors,
        rate_limit=args.rate_limit,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with emu:
        print(f"# petro emulator listening on {emu.url} (Ctrl-C to stop)")
        for name, value in emu.env().items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"export PETRO_EMULATOR_ADMIN_TOKEN={shlex.quote(emu.admin_token)}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    print("# petro emulator stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run())
