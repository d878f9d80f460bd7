#!/usr/bin/env python3
"""Runs the interop checks of every client against a running `k9 serve` and prints a table.

Started by run.sh (in tests/interop/.venv), which has already started the server and passes:
  K9_BIN                the k9 binary (for `k9 admin` and the k9 CLI client)
  K9_DATA_DIR           the server's data directory (provisioned here with `k9 admin`)
  K9_INTEROP_ENDPOINT   https://127.0.0.1:PORT
  K9_INTEROP_CA         the server's self-signed certificate (PEM), which clients trust
  K9_INTEROP_SCRATCH    a scratch directory (a throwaway HOME for the clients)
  K9_INTEROP_GO_BIN     the Go client built by setup.sh
Optional: K9_INTEROP_CLIENTS=name,name to run only some clients (names from the table),
K9_INTEROP_VERBOSE=1 to print every exchange.

Exit status: 0 if every check that applies passed, 1 otherwise.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients"

K9_BIN = os.environ["K9_BIN"]
DATA_DIR = os.environ["K9_DATA_DIR"]
ENDPOINT = os.environ["K9_INTEROP_ENDPOINT"].rstrip("/")
CA = os.environ["K9_INTEROP_CA"]
SCRATCH = Path(os.environ["K9_INTEROP_SCRATCH"])
GO_BIN = os.environ["K9_INTEROP_GO_BIN"]
VERBOSE = os.environ.get("K9_INTEROP_VERBOSE") == "1"
PYTHON = str(HERE / ".venv" / "bin" / "python")

CUSTOMER = "C123456"
ACCOUNT = "123456789012"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"  # approved for the customer
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/bob"  # has a key, never approved
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ops/k9-automation"  # approved; sessions assume it

TRIGGER_URL = f"{ENDPOINT}/customer/{CUSTOMER}/account/{ACCOUNT}/analysis"
TRIGGER_BODY = json.dumps({"customerId": CUSTOMER, "accountId": ACCOUNT})
EXECUTION_ID_RE = re.compile(rf"^ondemand-{CUSTOMER}-{ACCOUNT}-\d{{4}}-\d{{2}}-\d{{2}}_[A-Z0-9]{{4}}$")
UNAUTHORIZED_MESSAGE = (
    f"Caller is not authorized to trigger analysis for k9 customerId ({CUSTOMER}) "
    f"and accountId ({ACCOUNT})"
)

# (key, column heading); the brief's checks 1-5, then the header-signed GET.
CHECKS = [
    ("trigger", "trigger"),
    ("unapproved", "unapproved"),
    ("bad_secret", "bad-secret"),
    ("presigned_get", "presigned-GET"),
    ("session", "session"),
    ("signed_get", "signed-GET"),
]


# ---- provisioning ------------------------------------------------------------------------

def admin(*args):
    command = [K9_BIN, "admin", "--data-dir", DATA_DIR, *args]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if done.returncode != 0:
        sys.exit(f"provisioning failed: {' '.join(command)} exited {done.returncode}\n{done.stderr}")
    return json.loads(done.stdout)


def provision():
    alice = admin("user", "create", ALICE_ARN)["AccessKey"]
    bob = admin("user", "create", BOB_ARN)["AccessKey"]
    admin("customer", "create", CUSTOMER, "--name", "Acme")
    admin("account", "add", CUSTOMER, ACCOUNT)
    admin("approve", CUSTOMER, ALICE_ARN)
    admin("role", "create", ROLE_ARN)
    admin("approve", CUSTOMER, ROLE_ARN)
    session = admin(
        "session", "create", ROLE_ARN, "--session-name", "interop", "--duration-seconds", "3600"
    )["Credentials"]
    secret = alice["SecretAccessKey"]
    wrong = ("X" if secret[0] != "X" else "Y") + secret[1:]
    return {
        "alice": {"AWS_ACCESS_KEY_ID": alice["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": secret},
        "bob": {"AWS_ACCESS_KEY_ID": bob["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": bob["SecretAccessKey"]},
        "wrong_secret": {"AWS_ACCESS_KEY_ID": alice["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": wrong},
        "session": {
            "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
            "AWS_SESSION_TOKEN": session["SessionToken"],
        },
    }


# ---- running clients ---------------------------------------------------------------------

def client_env(creds, extra=None):
    """A small, explicit environment: no AWS configuration, proxies or credentials of this
    machine leak into a client."""
    home = SCRATCH / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(SCRATCH),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
        "K9_INTEROP_CA": CA,
    }
    env.update(creds)
    env.update(extra or {})
    return env


class Run:
    """One finished client process."""

    def __init__(self, argv, done, seconds):
        self.argv = argv
        self.rc = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.seconds = seconds

    def evidence(self):
        shown = shlex.join(a if len(a) < 200 else a[:200] + "..." for a in self.argv)
        return (
            f"$ {shown}\n  exit {self.rc} after {self.seconds:.1f}s\n"
            f"  --- stdout ---\n{indent(self.stdout)}\n  --- stderr ---\n{indent(self.stderr)}"
        )


def indent(text, prefix="  | "):
    text = text.rstrip("\n")
    return "\n".join(prefix + line for line in text.split("\n")) if text else prefix + "(empty)"


def run(argv, env):
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=90
        )
    except subprocess.TimeoutExpired as timeout:
        text = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")  # noqa: E731
        done = subprocess.CompletedProcess(
            argv, 124, text(timeout.stdout), text(timeout.stderr) + "\n(timed out after 90 s)"
        )
    result = Run(argv, done, time.monotonic() - started)
    if VERBOSE:
        print(result.evidence(), file=sys.stderr)
    return result


class Http:
    """A response as a client saw it, with the process that got it (for evidence)."""

    def __init__(self, run_, status=None, headers=None, body=""):
        self.run = run_
        self.status = status
        self.headers = headers or {}
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Outcome:
    def __init__(self, state, note="", evidence=""):
        self.state = state  # "pass", "FAIL" or "n/a"
        self.note = note  # why it failed, or why it does not apply
        self.evidence = evidence


def passed():
    return Outcome("pass")


def failed(note, *runs):
    return Outcome("FAIL", note, "\n".join(r.evidence() for r in runs if r is not None))


def not_applicable(reason):
    return Outcome("n/a", reason)


# ---- clients -----------------------------------------------------------------------------

class HttpClient:
    """A client that sends one signed request per process and reports the HTTP answer.

    Subclasses implement `request(mode, method, url, body, creds) -> Http`; `na` maps the
    keys of checks the client cannot do to the reason."""

    name = ""
    na = {}

    def version(self):
        raise NotImplementedError

    def request(self, mode, method, url, body, creds):
        raise NotImplementedError

    def check(self, key, creds, state):
        if key in self.na:
            return not_applicable(self.na[key])
        return getattr(self, f"check_{key}")(creds, state)

    def _trigger(self, creds):
        r = self.request("header", "POST", TRIGGER_URL, TRIGGER_BODY, creds)
        if r.status != 202:
            return None, failed(f"expected 202, got {r.status}", r.run)
        answer = r.json()
        if not isinstance(answer, dict):
            return None, failed("202 without a JSON object body", r.run)
        execution_id = answer.get("executionId", "")
        if not EXECUTION_ID_RE.match(str(execution_id)):
            return None, failed(f"malformed executionId {execution_id!r}", r.run)
        if answer.get("customerId") != CUSTOMER or answer.get("accountId") != ACCOUNT:
            return None, failed("customerId/accountId not echoed", r.run)
        return execution_id, passed()

    def check_trigger(self, creds, state):
        execution_id, outcome = self._trigger(creds["alice"])
        state["execution_id"] = execution_id
        return outcome

    def check_session(self, creds, state):
        return self._trigger(creds["session"])[1]

    def check_unapproved(self, creds, state):
        r = self.request("header", "POST", TRIGGER_URL, TRIGGER_BODY, creds["bob"])
        if r.status != 403:
            return failed(f"expected 403, got {r.status}", r.run)
        message = (r.json() or {}).get("message") if isinstance(r.json(), dict) else None
        if message != UNAUTHORIZED_MESSAGE:
            return failed(f"403 with message {message!r}", r.run)
        return passed()

    def check_bad_secret(self, creds, state):
        r = self.request("header", "POST", TRIGGER_URL, TRIGGER_BODY, creds["wrong_secret"])
        if r.status != 403:
            return failed(f"expected 403, got {r.status}", r.run)
        error_type = r.headers.get("x-amzn-errortype")
        if error_type != "InvalidSignatureException":
            return failed(f"403 with x-amzn-ErrorType {error_type!r}", r.run)
        return passed()

    def _get(self, mode, creds, state):
        execution_id = state.get("execution_id")
        if not execution_id:
            return failed("no executionId to read: the trigger check failed")
        r = self.request(mode, "GET", f"{TRIGGER_URL}/{execution_id}", "", creds["alice"])
        if r.status != 200:
            return failed(f"expected 200, got {r.status}", r.run)
        answer = r.json()
        if not isinstance(answer, dict) or answer.get("executionId") != execution_id:
            return failed("200 without the executionId in its JSON", r.run)
        return passed()

    def check_presigned_get(self, creds, state):
        return self._get("presign", creds, state)

    def check_signed_get(self, creds, state):
        return self._get("header", creds, state)


class AdapterClient(HttpClient):
    """A program speaking the adapter protocol of clients/python/_adapter.py."""

    def __init__(self, name, argv, version, na=None):
        self.name = name
        self.argv = argv
        self._version = version
        self.na = na or {}

    def version(self):
        return self._version()

    def request(self, mode, method, url, body, creds):
        argv = [*self.argv, mode, method, url] + ([body] if body else [])
        r = run(argv, client_env(creds))
        try:
            answer = json.loads(r.stdout.strip().splitlines()[-1])
            return Http(r, answer["status"], answer["headers"], answer["body"])
        except (ValueError, IndexError, KeyError, TypeError):
            return Http(r)


class DocsExample(HttpClient):
    """The k9 docs' Python example, which only triggers (fixed URL and body)."""

    name = "k9 docs Python example"  # aws-requests-auth
    na = {
        "presigned_get": "the documented script only triggers an analysis (and aws-requests-auth cannot presign)",
        "signed_get": "the documented script only triggers an analysis",
    }

    def version(self):
        return f"aws-requests-auth {metadata.version('aws-requests-auth')}, botocore {metadata.version('botocore')}"

    def request(self, mode, method, url, body, creds):
        assert (mode, method, url, body) == ("header", "POST", TRIGGER_URL, TRIGGER_BODY)
        host = ENDPOINT.split("://", 1)[1]
        env = client_env(creds, {"K9_API_HOST": host, "REQUESTS_CA_BUNDLE": CA})
        r = run([PYTHON, str(CLIENTS / "python" / "k9_docs_example.py")], env)
        status = re.search(r"^status: (\d+)$", r.stdout, re.M)
        error_type = re.search(r"^x-amzn-ErrorType: (.*)$", r.stdout, re.M)
        content = r.stdout.split("content:\n", 1)
        if not status or len(content) != 2:
            return Http(r)
        headers = {"x-amzn-errortype": error_type.group(1)} if error_type and error_type.group(1) else {}
        return Http(r, int(status.group(1)), headers, content[1].rstrip("\n"))


class Awscurl(HttpClient):
    name = "awscurl"
    na = {"presigned_get": "awscurl signs the Authorization header only; it cannot presign"}

    def version(self):
        return f"awscurl {metadata.version('awscurl')}"

    def request(self, mode, method, url, body, creds):
        argv = [str(HERE / ".venv" / "bin" / "awscurl"), "--service", "execute-api",
                "--region", "us-east-1", "-v", "-i", "-X", method]
        if body:
            argv += ["-H", "Content-Type: application/json", "-d", body]
        else:
            argv += ["-H", "Accept: application/json"]
        argv.append(url)
        # awscurl verifies TLS through requests, which honours REQUESTS_CA_BUNDLE.
        r = run(argv, client_env(creds, {"REQUESTS_CA_BUNDLE": CA}))
        status = re.search(r"Response code: (\d+)", r.stderr)
        # -i prints the response headers as a Python dict, a blank line, then the body.
        head, _, rest = r.stdout.partition("\n\n")
        try:
            import ast
            headers = {k.lower(): v for k, v in ast.literal_eval(head).items()}
        except (ValueError, SyntaxError, AttributeError):
            return Http(r, int(status.group(1)) if status else None)
        return Http(r, int(status.group(1)) if status else None, headers, rest)


class Curl(HttpClient):
    name = "curl --aws-sigv4"
    na = {"presigned_get": "curl --aws-sigv4 signs the Authorization header only; it cannot presign"}

    def version(self):
        out = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
        return out.split()[0] + " " + out.split()[1]

    def request(self, mode, method, url, body, creds):
        # Debian's curl 7.88 does not sort query parameters when signing: only query-less
        # requests are sent with it (all of these checks are).
        assert "?" not in url
        headers_file = SCRATCH / f"curl-headers-{os.getpid()}-{time.monotonic_ns()}"
        argv = ["curl", "-sS", "-v", "--cacert", CA, "-X", method, "-D", str(headers_file),
                "-w", "\\n%{http_code}",
                "--aws-sigv4", "aws:amz:us-east-1:execute-api",
                "--user", f"{creds['AWS_ACCESS_KEY_ID']}:{creds['AWS_SECRET_ACCESS_KEY']}"]
        if "AWS_SESSION_TOKEN" in creds:
            # curl 7.88 does not add the token itself; it signs the header given here.
            argv += ["-H", f"x-amz-security-token: {creds['AWS_SESSION_TOKEN']}"]
        if body:
            argv += ["-H", "Content-Type: application/json", "--data-raw", body]
        argv.append(url)
        r = run(argv, client_env({}))
        headers = {}
        try:
            for line in headers_file.read_text().splitlines()[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            headers_file.unlink()
        except OSError:
            pass
        body_text, _, code = r.stdout.rpartition("\n")
        if r.rc != 0 or not code.isdigit():
            return Http(r)
        return Http(r, int(code), headers, body_text)


class K9Cli:
    """The k9 CLI: `k9 analyze account` and `k9 analysis get` (exit codes: 0 ok, 3 refused)."""

    name = "k9 CLI"

    def version(self):
        out = subprocess.run([K9_BIN, "--version"], capture_output=True, text=True).stdout
        return out.strip()

    def _cli(self, creds, *args):
        argv = [K9_BIN, *args, "--endpoint-url", ENDPOINT, "--ca-cert", CA]
        return run(argv, client_env(creds))

    def _analyze(self, creds, output="json"):
        return self._cli(creds, "analyze", "account", "--customer-id", CUSTOMER,
                         "--account", ACCOUNT, "--output", output)

    def _trigger(self, creds):
        r = self._analyze(creds)
        if r.rc != 0:
            return None, failed(f"exit {r.rc}", r)
        try:
            execution_id = json.loads(r.stdout).get("executionId", "")
        except ValueError:
            return None, failed("--output json did not print JSON", r)
        if not EXECUTION_ID_RE.match(str(execution_id)):
            return None, failed(f"malformed executionId {execution_id!r}", r)
        return execution_id, passed()

    def _refused(self, creds, error_type, message=None):
        r = self._analyze(creds, output="text")
        if r.rc != 3:
            return failed(f"expected exit 3 (auth refused), got {r.rc}", r)
        # The CLI reports "error: <the API's message>" then "(HTTP 403, <x-amzn-ErrorType>, ...)".
        first = r.stderr.splitlines()[0] if r.stderr else ""
        if message is not None and first != f"error: {message}":
            return failed(f"stderr does not start with the API's message: {first!r}", r)
        if f"(HTTP 403, {error_type}" not in r.stderr:
            return failed(f"stderr does not report HTTP 403 {error_type}", r)
        return passed()

    def check(self, key, creds, state):
        if key == "trigger":
            state["execution_id"], outcome = self._trigger(creds["alice"])
            return outcome
        if key == "session":
            return self._trigger(creds["session"])[1]
        if key == "unapproved":
            return self._refused(creds["bob"], "AccessDeniedException", UNAUTHORIZED_MESSAGE)
        if key == "bad_secret":
            return self._refused(creds["wrong_secret"], "InvalidSignatureException")
        if key == "presigned_get":
            return not_applicable("the k9 CLI signs the Authorization header; it has no presign command")
        if key == "signed_get":
            execution_id = state.get("execution_id")
            if not execution_id:
                return failed("no executionId to read: the trigger check failed")
            r = self._cli(creds["alice"], "analysis", "get", execution_id, "--output", "json")
            if r.rc != 0:
                return failed(f"exit {r.rc}", r)
            try:
                answer = json.loads(r.stdout)
            except ValueError:
                return failed("--output json did not print JSON", r)
            if answer.get("executionId") != execution_id:
                return failed("the execution JSON lacks the executionId", r)
            return passed()
        raise KeyError(key)


def node_version(package):
    return json.loads((HERE / "node_modules" / package / "package.json").read_text())["version"]


def debian_version(package):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                          capture_output=True, text=True).stdout.strip()


def all_clients():
    node = "node"
    py = lambda script: [PYTHON, str(CLIENTS / "python" / script)]  # noqa: E731
    go_version = lambda: (  # noqa: E731
        f"aws-sdk-go-v2 {debian_version('golang-github-aws-aws-sdk-go-v2-dev')} (deb), "
        + subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
    )
    return [
        DocsExample(),
        AdapterClient("botocore SigV4(Query)Auth", py("botocore_sigv4.py"),
                      lambda: f"botocore {metadata.version('botocore')}"),
        AdapterClient("requests-aws4auth", py("requests_aws4auth_client.py"),
                      lambda: f"requests-aws4auth {metadata.version('requests-aws4auth')}",
                      na={"presigned_get": "requests-aws4auth signs the Authorization header only; it cannot presign"}),
        Awscurl(),
        AdapterClient("aws-sdk-go-v2 v4.Signer", [GO_BIN], go_version),
        AdapterClient("aws4", [node, str(CLIENTS / "node" / "aws4_client.mjs")],
                      lambda: f"aws4 {node_version('aws4')}, node {subprocess.run([node, '--version'], capture_output=True, text=True).stdout.strip()}"),
        AdapterClient("@smithy/signature-v4", [node, str(CLIENTS / "node" / "smithy_client.mjs")],
                      lambda: f"@smithy/signature-v4 {node_version('@smithy/signature-v4')}, sha256-js {node_version('@aws-crypto/sha256-js')}"),
        Curl(),
        K9Cli(),
    ]


# ---- main --------------------------------------------------------------------------------

def safe_version(client):
    try:
        return client.version()
    except Exception as error:  # the version is informative only
        return f"(version unknown: {error})"


def run_client(client, creds):
    state = {}
    outcomes = {}
    for key, _ in CHECKS:  # in order: the GETs read the trigger's executionId
        try:
            outcomes[key] = client.check(key, creds, state)
        except Exception as error:  # a bug in this driver or a client crash: a failure
            outcomes[key] = failed(f"driver error: {error!r}")
    return outcomes


def table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main():
    started = time.monotonic()
    creds = provision()
    clients = all_clients()
    only = [c.strip() for c in os.environ.get("K9_INTEROP_CLIENTS", "").split(",") if c.strip()]
    if only:
        clients = [c for c in clients if any(o.lower() in c.name.lower() for o in only)]
        if not clients:
            sys.exit(f"no client matches K9_INTEROP_CLIENTS={os.environ['K9_INTEROP_CLIENTS']}")

    # Clients run two at a time (this machine has 2 cores); each runs its checks in order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: (c, safe_version(c), run_client(c, creds)), clients))

    reasons = []  # distinct n/a reasons, numbered in the table
    rows = [["client", "version", *[title for _, title in CHECKS], "passed"]]
    total_pass = total_fail = total_na = 0
    failures = []
    for client, version, outcomes in results:
        row = [client.name, version]
        n_pass = sum(o.state == "pass" for o in outcomes.values())
        n_fail = sum(o.state == "FAIL" for o in outcomes.values())
        n_na = sum(o.state == "n/a" for o in outcomes.values())
        total_pass, total_fail, total_na = total_pass + n_pass, total_fail + n_fail, total_na + n_na
        for key, title in CHECKS:
            outcome = outcomes[key]
            if outcome.state == "n/a":
                if outcome.note not in reasons:
                    reasons.append(outcome.note)
                row.append(f"n/a[{reasons.index(outcome.note) + 1}]")
            else:
                row.append(outcome.state)
            if outcome.state == "FAIL":
                failures.append((client.name, title, outcome))
        row.append(f"{n_pass}/{n_pass + n_fail}")
        rows.append(row)

    print()
    print(f"k9 interop: {len(results)} clients against k9 serve at {ENDPOINT} (TLS, self-signed)")
    print()
    print(table(rows))
    print()
    for n, reason in enumerate(reasons, 1):
        print(f"[{n}] n/a: {reason}")
    if failures:
        print()
        print("FAILURES")
        for name, title, outcome in failures:
            print(f"\n== {name} / {title}: {outcome.note}")
            if outcome.evidence:
                print(outcome.evidence)
    print()
    print(f"checks took {time.monotonic() - started:.1f}s")
    # The plain closing line CI tools read.
    print(f"interop: {total_pass} passed, {total_fail} failed, {total_na} skipped")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
