"""The test's own S3 client (boto3, signed requests), run by the backup venv's Python: barman_cloud.S3Server uses it.

    python s3_client.py ENDPOINT create-bucket BUCKET
    python s3_client.py ENDPOINT list BUCKET PREFIX        (one key a line)
    python s3_client.py ENDPOINT move BUCKET FROM TO       (copy, then delete FROM)

Credentials come from the environment (barman_cloud.AWS_ENV).
"""

import sys

import boto3


def main(endpoint: str, action: str, bucket: str, *args: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    if action == "create-bucket":
        s3.create_bucket(Bucket=bucket)
    elif action == "list":
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=args[0]):
            for item in page.get("Contents", []):
                print(item["Key"])
    elif action == "move":
        source, target = args
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        s3.delete_object(Bucket=bucket, Key=source)
    else:
        raise SystemExit(f"unknown action {action!r}: create-bucket, list or move")


if __name__ == "__main__":
    main(*sys.argv[1:])
