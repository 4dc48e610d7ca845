"""``python -m cspsearch``: the CLI. Ctrl-C before or after a command also ends in one line."""

import sys

try:
    from cspsearch.cli import main

    main()
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
