# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deletes every object version in a GCS bucket, as the node's service account (reset.yml, reset_delete_backups).

Run on a GCE node: the token comes from the metadata server (the node's service account, which Terraform allows on
this bucket only), the objects from the JSON API. Every version is deleted by its generation, so nothing is left as a
noncurrent version either. Standard library only (the node's python3). Prints one line: how many were deleted.
Usage: empty-gcs-bucket.py BUCKET. METADATA_URL and STORAGE_URL may point elsewhere (the tests use 127.0.0.1).
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

METADATA_URL = os.environ.get(
    "METADATA_URL", "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token"
)
STORAGE_URL = os.environ.get("STORAGE_URL", "https://storage.googleapis.com/storage/v1")


def request(url, method="GET", headers=None):
    call = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            body = answer.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise SystemExit("%s %s answered %d: %s" % (method, url.split("?")[0], error.code, detail)) from error
    except urllib.error.URLError as error:
        raise SystemExit("%s %s failed: %s" % (method, url.split("?")[0], error.reason)) from error
    return json.loads(body) if body else {}


def main(argv):
    if len(argv) != 2 or not argv[1]:
        raise SystemExit("usage: empty-gcs-bucket.py BUCKET")
    bucket = urllib.parse.quote(argv[1], safe="")
    token = request(METADATA_URL, headers={"Metadata-Flavor": "Google"})["access_token"]
    auth = {"Authorization": "Bearer " + token}
    deleted, page = 0, None
    while True:
        query = {"versions": "true", "fields": "items(name,generation),nextPageToken"}
        if page:
            query["pageToken"] = page
        listing = request("%s/b/%s/o?%s" % (STORAGE_URL, bucket, urllib.parse.urlencode(query)), headers=auth)
        for item in listing.get("items", []):
            name = urllib.parse.quote(item["name"], safe="")
            request(
                "%s/b/%s/o/%s?generation=%s" % (STORAGE_URL, bucket, name, item["generation"]),
                method="DELETE",
                headers=auth,
            )
            deleted += 1
        page = listing.get("nextPageToken")
        if not page:
            break
    print("deleted %d object versions from gs://%s" % (deleted, argv[1]))


if __name__ == "__main__":
    main(sys.argv)
