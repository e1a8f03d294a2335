"""What durable local state costs: warm start with 1,000 jobs' objects, and per-write overhead.

Runs a private local cloud (free ports, a temporary state folder sharing only the installs) and
prints:
- warm ``gas local up`` + ``gas deploy`` (as CLI processes) with an empty journal, and with
  1,000 jobs' objects in it (4 per job: input, annotated VCF, log, summary; replayed on deploy);
- PutObject latency with the journal on and off (``GAS_LOCAL_STATE=off``), same run;
- DynamoDB Local PutItem latency on disk (``-dbPath``, what the local cloud runs) and in memory.

    .venv/bin/python -m benchmarks.local_state        # --jobs 1000 --writes 400
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from gas import aws
from gas.resources import Resources
from gas.settings import Settings
from infra.localcloud import LocalCloud

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "test.vcf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def private_settings(state: Path) -> Settings:
    base = Settings.from_env()
    for name in ("localstack-venv", "dynamodb-local"):
        (state / name).symlink_to(base.state_dir / name)
    ls_port, ddb_port = free_port(), free_port()
    return dataclasses.replace(
        base,
        prefix=f"bs{secrets.token_hex(3)}",
        state_dir=state,
        localstack_port=ls_port,
        dynamodb_port=ddb_port,
        endpoint_url=f"http://127.0.0.1:{ls_port}",
        dynamodb_endpoint_url=f"http://127.0.0.1:{ddb_port}",
    )


def gas(settings: Settings, *args: str) -> float:
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=settings.subprocess_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.monotonic() - began


def warm_start(settings: Settings, cloud: LocalCloud) -> tuple[float, float]:
    cloud.down()
    up = gas(settings, "local", "up")
    deployed = gas(settings, "deploy")
    aws._cached_client.cache_clear()
    return up, deployed


def put_latencies(settings: Settings, bucket: str, count: int, body: bytes) -> list[float]:
    s3 = aws.client(settings, "s3")
    took = []
    for i in range(count):
        began = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"latency/{i}", Body=body)
        took.append(time.perf_counter() - began)
    return took


def fill(settings: Settings, jobs: int) -> int:
    """Each job's four objects, about the sizes a real job leaves."""
    names = Resources.of(settings, aws.account_id(settings))
    s3 = aws.client(settings, "s3")
    vcf = SAMPLE.read_bytes() if SAMPLE.exists() else os.urandom(20_000)
    for job in range(jobs):
        user = f"user{job % 50}"
        s3.put_object(Bucket=names.inputs_bucket, Key=f"{user}/job{job}/input.vcf", Body=vcf)
        for name, size in (("annotated.vcf", 6_000), ("log.txt", 800), ("summary.json", 1_500)):
            s3.put_object(
                Bucket=names.results_bucket, Key=f"{user}/job{job}/{name}", Body=os.urandom(size)
            )
    return jobs * 4


def dynamodb_latencies(endpoint: str, count: int) -> list[float]:
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 (DynamoDB Local's dummy key)
    )
    table = f"bench{secrets.token_hex(3)}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    took = []
    for i in range(count):
        began = time.perf_counter()
        ddb.put_item(TableName=table, Item={"id": {"S": str(i)}, "v": {"S": "x" * 300}})
        took.append(time.perf_counter() - began)
    ddb.delete_table(TableName=table)
    return took


def in_memory_dynamodb(cloud: LocalCloud) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        ["java", "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar"]
        + ["-inMemory", "-port", str(port)],
        cwd=cloud.dynamodb_home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("in-memory DynamoDB Local did not start")


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[int(len(values) * 0.95) - 1]
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=400, help="PutObject/PutItem calls timed")
    parser.add_argument("--repeat", type=int, default=3, help="warm starts of each kind")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gas-bench-state-") as folder:
        settings = private_settings(Path(folder))
        cloud = LocalCloud(settings, progress=lambda _m: None)
        try:
            cloud.up()
            gas(settings, "deploy")
            names = Resources.of(settings, aws.account_id(settings))
            body = os.urandom(6_000)
            on = put_latencies(settings, names.results_bucket, args.writes, body)
            began = time.monotonic()
            objects = fill(settings, args.jobs)
            filled = time.monotonic() - began
            print(
                f"{objects} objects of {args.jobs} jobs written in {filled:.1f} s "
                f"({filled / objects * 1000:.1f} ms each, journal on)"
            )
            stats = cloud.data_status()["localstack"]
            print(f"journal: {stats['objects']} objects, {stats['bytes'] / 2**20:.1f} MiB")

            # Interleaved, because the machine is shared: the journal moved aside is "empty".
            journal, aside = cloud.localstack_data, cloud.localstack_data.with_name("aside")
            runs: dict[str, list[tuple[float, float]]] = {"empty": [], "full": []}
            for _ in range(args.repeat):
                for kind in ("empty", "full"):
                    cloud.down()
                    if kind == "empty":
                        journal.rename(aside)
                    runs[kind].append(warm_start(settings, cloud))
                    if kind == "empty":
                        cloud.down()
                        shutil.rmtree(journal, ignore_errors=True)
                        aside.rename(journal)
            for kind, times in runs.items():
                totals = [up + deployed for up, deployed in times]
                print(
                    f"warm start, {kind} journal: gas local up + gas deploy median "
                    f"{statistics.median(totals):.1f} s (runs: "
                    + ", ".join(f"{up:.1f}+{deployed:.1f}" for up, deployed in times)
                    + ")"
                )
            replayed = [
                line
                for line in cloud.localstack.log_file.read_text().splitlines()
                if "replayed in" in line
            ][-2:]
            for line in replayed:
                print("  " + line.split(" : ", 1)[-1])

            cloud.down()
            os.environ["GAS_LOCAL_STATE"] = "off"
            try:
                cloud.up()
            finally:
                del os.environ["GAS_LOCAL_STATE"]
            gas(settings, "deploy")
            aws._cached_client.cache_clear()
            off = put_latencies(settings, names.results_bucket, args.writes, body)
            print(f"PutObject of 6 KB, journal on:  {ms(on)}")
            print(f"PutObject of 6 KB, journal off: {ms(off)}")
            extra = (statistics.median(on) - statistics.median(off)) * 1000
            print(f"  journal overhead per PutObject: {extra:.1f} ms (p50)")

            assert settings.dynamodb_endpoint_url, "the local cloud names DynamoDB Local's"
            disk = dynamodb_latencies(settings.dynamodb_endpoint_url, args.writes)
            proc, endpoint = in_memory_dynamodb(cloud)
            try:
                memory = dynamodb_latencies(endpoint, args.writes)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(f"DynamoDB Local PutItem, on disk (-dbPath): {ms(disk)}")
            print(f"DynamoDB Local PutItem, in memory:         {ms(memory)}")
        finally:
            cloud.down()


if __name__ == "__main__":
    main()
