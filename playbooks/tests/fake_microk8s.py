#!/usr/bin/env python3
"""A stand-in for `microk8s` for restore.yml's tests: `kubectl ... get` answers recorded objects, the rest is logged.

FAKE_STATE names a folder holding cluster.json and objectstore.json (absent file: the object does not exist, and
`get --ignore-not-found` prints nothing, as kubectl does) and calls.log, where every call is appended as one JSON line.
`exec ... psql ... --command SQL` answers what PostgreSQL would for the three statements restore.yml sends; anything
else exits 1 with a message, as a real kubectl does for an object it cannot reach.
"""

import json
import os
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_STATE"])
ANSWERS = {
    "SELECT count(*) FROM comments": "42",
    "SELECT pg_walfile_name(pg_switch_wal())": "000000010000000000000007",
    "SELECT last_archived_wal FROM pg_stat_archiver": "000000010000000000000007",
}


def main(argv):
    with open(STATE / "calls.log", "a") as log:
        log.write(json.dumps(argv) + "\n")
    if argv[:1] != ["kubectl"]:
        sys.exit("fake microk8s: only kubectl is recorded, got %s" % argv)
    words = [word for word in argv[1:] if not word.startswith("--")]
    if "get" in words:
        kind = words[words.index("get") + 2]
        resource = words[words.index("get") + 1].split(".")[0]
        recorded = STATE / {"clusters": "cluster.json", "objectstores": "objectstore.json"}[resource]
        if recorded.is_file():
            print(recorded.read_text())
        elif "--ignore-not-found" not in argv:
            sys.exit('Error from server (NotFound): %s "%s" not found' % (resource, kind))
        return
    if "exec" in words and "--command" in argv:
        sql = argv[argv.index("--command") + 1]
        if sql in ANSWERS:
            print(ANSWERS[sql])
            return
    sys.exit("fake microk8s: no recorded answer for %s" % argv)


if __name__ == "__main__":
    main(sys.argv[1:])
