"""The researcher's side of ``/api/v1``: where the token is kept and how requests are made.

Only ``requests`` (no boto3, no settings): the researcher's machine knows a URL and a token.
Credentials are ``{url, token}`` in ``$XDG_CONFIG_HOME/gas/credentials.json`` (mode 0600, folder
0700); ``GAS_API_URL`` and ``GAS_TOKEN`` override them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

import requests

API_PREFIX = "/api/v1"
# What a job can no longer leave by itself: `gas submit --wait` stops polling there.
END_STATES = ("COMPLETED", "FAILED", "CANCELLED", "ARCHIVED")
SUCCEEDED = ("COMPLETED", "ARCHIVED")
TIMEOUT = 30
CHUNK = 256 * 1024


# What a job id looks like; anything else never goes into a URL path (`gas job ../me`).
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EXAMPLE_JOB_ID = "0b0c5a3e-1111-4222-8333-444455556666"
# The fields the commands read from a job, a job list and the other answers.
JOB_FIELDS = ("id", "status", "input_filename", "submitted_at")


class ClientError(Exception):
    """Something the researcher should read as one line: a refused token, a missing job …"""


class NotLoggedIn(ClientError):
    pass


def job_path(job_id: str, rest: str = "") -> str:
    """``/jobs/ID`` + ``rest``, for a string that is a job id; ClientError otherwise."""
    if not JOB_ID.match(job_id):
        raise ClientError(f"{job_id!r} is not a job id (they look like {EXAMPLE_JOB_ID})")
    return f"/jobs/{job_id}{rest}"


def one_line(text: object) -> str:
    """An error's text on one line (a network error's often spans several)."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/gas``, or ``~/.config/gas``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gas"


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "credentials.json"


def normalize_url(url: str) -> str:
    """The dashboard's base URL, whether given with or without ``/api/v1`` or a trailing slash."""
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/]+", url):
        raise ClientError(f"{url!r} is not an http(s) URL")
    return url.removesuffix(API_PREFIX)


def save_credentials(credentials: Credentials, env: Mapping[str, str] | None = None) -> Path:
    """Write the credentials readable by the user only; replaces any earlier ones atomically."""
    path = credentials_path(env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)  # an existing folder may have been made with the umask's mode
    # mkstemp creates the file 0600, so the token is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump({"url": credentials.url, "token": credentials.token}, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """``GAS_API_URL``/``GAS_TOKEN`` over the saved file; refuses when neither gives both."""
    env = os.environ if env is None else env
    saved: dict[str, str] = {}
    path = credentials_path(env)
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ClientError(f"cannot read {path}: {exc}; run `gas login URL` again") from exc
    url = env.get("GAS_API_URL") or saved.get("url")
    token = env.get("GAS_TOKEN") or saved.get("token")
    if not url or not token:
        raise NotLoggedIn("not logged in: run `gas login URL` (or set GAS_API_URL and GAS_TOKEN)")
    return Credentials(normalize_url(url), token)


def problem_message(response: requests.Response) -> str:
    """One line for an error answer: the problem's title and detail, or the status and a hint."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("title" in body or "detail" in body):
        title, detail = body.get("title") or f"HTTP {response.status_code}", body.get("detail")
        return f"{title}: {detail}" if detail else str(title)
    return f"HTTP {response.status_code} {response.reason or ''} from {response.url}".strip()


def s3_message(response: requests.Response) -> str:
    """S3's XML error (EntityTooLarge, AccessDenied …) as one line."""
    code = re.search(r"<Code>([^<]+)</Code>", response.text or "")
    message = re.search(r"<Message>([^<]+)</Message>", response.text or "")
    if code:
        return f"{code.group(1)}: {message.group(1) if message else ''}".rstrip(": ")
    return f"HTTP {response.status_code} from the storage service"


def download_name(response: requests.Response) -> str:
    """The file name the server offers (Content-Disposition: RFC 6266's ``filename*`` first,
    then ``filename``), else the URL's last segment; never a path."""
    header = response.headers.get("Content-Disposition", "")
    exact = re.search(r"filename\*\s*=\s*([\w!#$&+.^`|~-]+)'[\w-]*'([^;\s]+)", header)
    plain = re.search(r'filename\s*=\s*"?([^";]+)"?', header)
    name = ""
    if exact:
        try:
            name = unquote(exact.group(2), encoding=exact.group(1), errors="strict")
        except (LookupError, UnicodeDecodeError):
            name = ""
    if not name and plain:
        name = plain.group(1)
    if not name:
        name = unquote(response.url.split("?", 1)[0].rsplit("/", 1)[-1])
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name.lstrip(".") or "download"


class Client:
    """Requests to one dashboard's ``/api/v1`` with one token."""

    def __init__(self, credentials: Credentials, session: requests.Session | None = None) -> None:
        self.credentials = credentials
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        self.session.headers["Accept"] = "application/json"

    def url(self, path: str) -> str:
        # Job views carry their own absolute path (/api/v1/jobs/ID); other paths are relative.
        return self.credentials.url + (path if path.startswith(API_PREFIX) else API_PREFIX + path)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API request; the JSON answer, None for 204, ClientError for anything else."""
        try:
            response = self.session.request(method, self.url(path), timeout=TIMEOUT, **kwargs)
            if not response.ok:
                raise ClientError(problem_message(response))
            if response.status_code == 204 or not response.content:
                return None
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.credentials.url}: {one_line(exc)}") from exc
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(
                f"{response.url} did not answer JSON; is this a GAS dashboard?"
            ) from exc

    def expect(self, answer: Any, *fields: str, path: str = "") -> dict[str, Any]:
        """``answer`` if it is a JSON object with ``fields``; ClientError otherwise."""
        missing = (
            [name for name in fields if name not in answer]
            if isinstance(answer, dict)
            else ["an object"]
        )
        if missing:
            raise ClientError(
                f"{self.url(path)} answered, but not what GAS answers (no {missing[0]}); "
                "is this a GAS dashboard?"
            )
        return answer

    def me(self) -> dict[str, Any]:
        me = self.expect(self.call("GET", "/me"), "email", "token", path="/me")
        self.expect(me["token"], "name", "scope", path="/me")
        return me

    def job(self, job_id: str) -> dict[str, Any]:
        path = job_path(job_id)
        return self.expect(self.call("GET", path), *JOB_FIELDS, path=path)

    def cancel(self, job_id: str) -> dict[str, Any]:
        path = job_path(job_id, "/cancel")
        return self.expect(self.call("POST", path), *JOB_FIELDS, path=path)

    def resubmit(self, job_id: str) -> dict[str, Any]:
        path = job_path(job_id, "/resubmit")
        return self.expect(self.call("POST", path), *JOB_FIELDS, path=path)

    def remove(self, job_id: str) -> None:
        self.call("DELETE", job_path(job_id))

    def jobs(self, limit: int, status: str | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` jobs, newest first, following the API's pages."""
        found: list[dict[str, Any]] = []
        page = None
        while len(found) < limit:
            params: dict[str, Any] = {"limit": min(100, limit - len(found))}
            if status:
                params["status"] = status
            if page:
                params["page"] = page
            answer = self.expect(self.call("GET", "/jobs", params=params), "jobs", path="/jobs")
            if not isinstance(answer["jobs"], list):
                self.expect(None, path="/jobs")
            found += [self.expect(job, *JOB_FIELDS, path="/jobs") for job in answer["jobs"]]
            page = answer.get("next_page")
            if not page:
                break
        return found

    def upload(
        self, path: Path, build: str = "auto", progress: Callable[[int, int], None] | None = None
    ) -> dict[str, Any]:
        """Send ``path`` through a presigned POST and start its job; returns the job."""
        from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

        with path.open("rb") as data:
            gzipped = data.read(2) == b"\x1f\x8b"
            data.seek(0)
            # The name goes to the API, never to S3: it is kept on the job, in any script.
            asked = {"filename": path.name, "compressed": gzipped}
            upload = self.expect(
                self.call("POST", "/uploads", json=asked), "url", "fields", "key", path="/uploads"
            )
            # S3 reads the policy's fields (the key among them) first and the file last.
            fields: list[tuple[str, Any]] = [
                *upload["fields"].items(),
                ("file", (path.name, data, "application/octet-stream")),
            ]
            encoder = MultipartEncoder(fields)
            total = encoder.len

            def sent(monitor: MultipartEncoderMonitor) -> None:
                if progress:
                    progress(monitor.bytes_read, total)

            body = MultipartEncoderMonitor(encoder, sent)
            try:
                # A bare session: the presigned POST must not carry the API token to S3.
                stored = requests.post(
                    upload["url"],
                    data=body,
                    headers={"Content-Type": body.content_type},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                raise ClientError(f"upload of {path.name} failed: {exc}") from exc
        if not stored.ok:
            raise ClientError(f"upload of {path.name} refused: {s3_message(stored)}")
        job = self.call(
            "POST",
            "/jobs",
            json={"upload_key": upload["key"], "filename": path.name, "build": build},
        )
        return self.expect(job, *JOB_FIELDS, path="/jobs")

    def download(self, job_id: str, kind: str) -> requests.Response:
        """The streaming answer of the presigned URL for one of the job's files."""
        path = job_path(job_id, f"/downloads/{kind}")
        link = self.expect(self.call("GET", path), "url", path=path)
        try:
            response = requests.get(str(link["url"]), stream=True, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ClientError(f"download of {kind} failed: {one_line(exc)}") from exc
        if not response.ok:
            raise ClientError(f"download of {kind} refused: {s3_message(response)}")
        return response


def stream_to(response: requests.Response, out: BinaryIO, what: str = "download") -> Iterator[int]:
    """Write the body to ``out``, yielding the size of each chunk (for a progress bar); a
    connection cut short is a ClientError."""
    try:
        for chunk in response.iter_content(CHUNK):
            out.write(chunk)
            yield len(chunk)
    except requests.RequestException as exc:
        raise ClientError(f"{what} failed: {one_line(exc)}") from exc
