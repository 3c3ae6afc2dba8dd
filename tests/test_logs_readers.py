"""Log readers on the real samples in ../shared/data (CloudTrail from Stratus Red Team detonations, sshd/PAM/sudo
lines from CrowdSec's and Elastic's test logs) and on damaged files made here. Expected counts come from an
independent plain scan of the same files.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from tools.logs.readers import (
    MAX_BYTES_TO_LOCATE_ERROR,
    ParseProblem,
    auth_event,
    parse_syslog_line,
    read_auth_events,
    read_cloudtrail,
    read_syslog,
)


@pytest.fixture(scope="module")
def cloudtrail_dir(shared_data: Path) -> Path:
    return shared_data / "cloudtrail"


@pytest.fixture(scope="module")
def linux_logs(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "linux-logs").rglob("*.log"))


def event_ids(path: Path, problems: list[ParseProblem]) -> list[str]:
    return [r.record["eventID"] for r in read_cloudtrail(path, problems)]


def test_cloudtrail_records_document(cloudtrail_dir: Path) -> None:
    path = cloudtrail_dir / "stratus_red_team_all_records.json"
    expected = [r["eventID"] for r in json.loads(path.read_text())["Records"]]
    problems: list[ParseProblem] = []
    assert event_ids(path, problems) == expected
    assert len(expected) == 310 and problems == []


def test_cloudtrail_bare_arrays(cloudtrail_dir: Path) -> None:
    files = sorted((cloudtrail_dir / "stratus-red-team-detonation-logs").glob("*.json"))
    problems: list[ParseProblem] = []
    read = {f.name: event_ids(f, problems) for f in files}
    expected = {f.name: [r["eventID"] for r in json.loads(f.read_text())] for f in files}
    assert read == expected and problems == []
    assert len(files) == 35 and sum(map(len, read.values())) == 310


def test_cloudtrail_gzip_is_read_transparently(cloudtrail_dir: Path, tmp_path: Path) -> None:
    source = cloudtrail_dir / "stratus_red_team_all_records.json"
    packed = tmp_path / "delivery.json"  # gzip recognised by its bytes, not its name
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert event_ids(packed, []) == event_ids(source, [])


def test_cloudtrail_json_lines_and_concatenated_documents(cloudtrail_dir: Path, tmp_path: Path) -> None:
    records = json.loads((cloudtrail_dir / "stratus_red_team_all_records.json").read_text())["Records"][:4]
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "\n".join([json.dumps(records[0]), "{not json", json.dumps({"hello": "world"}), "", json.dumps(records[1])])
        + "\n"
    )
    problems: list[ParseProblem] = []
    assert event_ids(lines, problems) == [records[0]["eventID"], records[1]["eventID"]]
    assert [str(p) for p in problems] == [
        f"{lines}:2: invalid JSON: Expecting property name enclosed in double quotes",
        f"{lines}:3: not a CloudTrail event: no eventName",
    ]
    documents = tmp_path / "two-documents.json"
    documents.write_text(json.dumps({"Records": records[:2]}) + "\n" + json.dumps({"Records": records[2:]}) + "\n")
    assert event_ids(documents, []) == [r["eventID"] for r in records]


def test_cloudtrail_damaged_document_keeps_what_came_before(cloudtrail_dir: Path, tmp_path: Path) -> None:
    records = json.loads((cloudtrail_dir / "stratus_red_team_all_records.json").read_text())["Records"][:3]
    body = json.dumps({"Records": [records[0], 42, records[1]]}, indent=1)
    broken = tmp_path / "broken.json"
    # A record cut off mid-way, then the rest of the file: a syntax error on a known line.
    broken.write_text(body[: body.rindex("]")] + ',\n{"eventName": "X",,\n' + json.dumps(records[2]) + "]}\n")
    problems: list[ParseProblem] = []
    assert event_ids(broken, problems) == [records[0]["eventID"], records[1]["eventID"]]
    error_line = broken.read_text().splitlines().index('{"eventName": "X",,') + 1
    assert [str(p) for p in problems] == [
        f"{broken}:record 2: not a JSON object but int",
        f"{broken}:{error_line}: invalid JSON, reading stopped: Expecting property name enclosed in double quotes",
    ]


def plain_scan(files: list[Path]) -> Counter[str]:
    """Kinds counted with substring tests only, independent of the reader's regular expressions."""
    counts: Counter[str] = Counter()
    for path in files:
        for line in path.read_text().splitlines():
            ssh = " sshd[" in line or " sshd-session[" in line
            if ssh and "]: Failed " in line:
                counts["ssh_failed_login"] += 1
            elif ssh and "]: Invalid user " in line:
                counts["ssh_invalid_user"] += 1
            elif ssh and "]: Accepted " in line:
                counts["ssh_accepted_login"] += 1
            elif "authentication failure;" in line:
                counts["auth_failure"] += 1
            elif " sudo: " in line and "COMMAND=" in line:
                counts["sudo_denied" if "NOT in sudoers" in line else "sudo_command"] += 1
            elif "new user: name=" in line:
                counts["user_created"] += 1
            elif ("pam_tally" in line and ", deny " in line) or "Consecutive login failures" in line:
                counts["account_locked"] += 1
            elif "new group: name=" in line:
                counts["group_created"] += 1
    return counts


def test_auth_events_on_real_linux_logs(linux_logs: list[Path]) -> None:
    problems: list[ParseProblem] = []
    events = [event for path in linux_logs for event in read_auth_events(path, problems)]
    assert Counter(e.kind for e in events) == plain_scan(linux_logs)
    assert problems == []  # every line of these samples is a syslog line (RFC 3164 or RFC 3339 stamped)
    # Hand-checked: `grep -h "Invalid user" linux-logs/*/* | wc -l` = 51, `grep -h "Failed " ... | wc -l` = 2.
    kinds = Counter(e.kind for e in events)
    assert (kinds["ssh_invalid_user"], kinds["ssh_failed_login"]) == (51, 2)


def test_auth_event_fields() -> None:
    def parse(text: str):  # noqa: ANN202
        line = parse_syslog_line(text, "t:1")
        assert line is not None
        return auth_event(line)

    failed = parse(
        "Apr  6 18:51:41 eve sshd[2784424]: Failed password for invalid user root from 192.168.1.2 port 51182 ssh2"
    )
    assert (failed.kind, failed.user, failed.source_ip, failed.detail) == (
        "ssh_failed_login",
        "root",
        "192.168.1.2",
        {"method": "password", "invalid_user": "true"},
    )
    pam = parse(
        "Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth): authentication failure; "
        "logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.160 user=workshop"
    )
    assert (pam.kind, pam.user, pam.source_ip, pam.detail["service"]) == (
        "auth_failure",
        "workshop",
        "5.33.63.160",
        "sshd",
    )
    sudo = parse(
        "Feb 23 00:08:48 localhost sudo: vagrant : TTY=pts/1 ; PWD=/home/vagrant ; "
        "USER=root ; COMMAND=/bin/cat /var/log/secure"
    )
    assert (sudo.kind, sudo.user, sudo.detail["run_as"], sudo.detail["command"]) == (
        "sudo_command",
        "vagrant",
        "root",
        "/bin/cat /var/log/secure",
    )
    denied = parse(
        "Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; "
        "TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls"
    )
    assert (denied.kind, denied.user, denied.detail["problem"]) == ("sudo_denied", "tsg", "user NOT in sudoers")
    created = parse(
        "Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, "
        "home=/usr/share/httpd, shell=/sbin/nologin"
    )
    assert (created.kind, created.user, created.detail["uid"]) == ("user_created", "apache", "48")
    tally = parse("Dec  7 14:53:04 vskub1master01p sudo: pam_tally2(sudo:auth): user zbadguy (4001) tally 6, deny 5")
    assert (tally.kind, tally.user, tally.detail) == ("account_locked", "zbadguy", {"service": "sudo", "tally": "6"})
    faillock = parse(
        "Mar  1 10:00:00 web sshd[12]: pam_faillock(sshd:auth): Consecutive login failures for user root account "
        "temporarily locked"
    )
    assert (faillock.kind, faillock.user, faillock.detail) == ("account_locked", "root", {"service": "sshd"})
    iso = parse_syslog_line(
        "2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root from 192.168.1.1 not allowed", "t:2"
    )
    assert iso is not None and (iso.host, iso.pid) == ("myserver", 1112652)
    assert (
        parse("Dec  1 18:59:33 hostname sshd[1189575]: error: kex_exchange_identification: banner line too long")
        is None
    )


def test_malformed_lines_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(
        b"Mar  4 02:11:40 web sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"
        b"Mar  4 02:1\n"
        b"\xff\xfe\x00binary junk\n"
        b"\n"
        b"Mar  4 02:11:49 web sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"
    )
    problems: list[ParseProblem] = []
    events = list(read_auth_events(log, problems))
    assert [e.location for e in events] == [f"{log}:1", f"{log}:5"]
    assert [(p.where, p.reason.split(":")[0]) for p in problems] == [
        ("2", "not a syslog line"),
        ("3", "not a syslog line"),
    ]


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    lines = "".join(
        f"Mar  4 02:11:{i % 60:02d} web sshd[1]: Invalid user u{i} from 203.0.113.9 port 1\n" for i in range(5000)
    )
    packed = gzip.compress(lines.encode())
    damaged = tmp_path / "auth.log.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    problems: list[ParseProblem] = []
    read = list(read_syslog(damaged, problems))
    assert 0 < len(read) < 5000
    assert len(problems) == 1 and "file ends early or is damaged" in problems[0].reason
    assert problems[0].where == str(len(read) + 1)


@pytest.mark.slow
def test_a_damaged_gzip_document_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A gzip file unpacks to more than its size: finding the error must not load all of it."""
    import random
    import tracemalloc

    # Fillers vary (about 6:1 compression, as real logs), so the file is not a bomb (MAX_COMPRESSION_RATIO).
    chooser = random.Random(7)
    fillers = ["".join(chooser.choices("ab", k=4000)) for _ in range(50)]
    records = [
        json.dumps(
            {
                "eventName": "DescribeInstances",
                "eventTime": "2024-08-02T08:53:24Z",
                "eventID": "x",
                "requestParameters": {"filler": fillers[n % 50]},
            }
        )
        for n in range(5_000)
    ]
    body = '{"Records": [' + ",".join(records)  # ~20 MB unpacked, over MAX_BYTES_TO_LOCATE_ERROR; no closing ]}
    assert len(body) > MAX_BYTES_TO_LOCATE_ERROR
    packed = tmp_path / "delivery.json.gz"
    packed.write_bytes(gzip.compress((body + ", oops").encode(), compresslevel=6))

    problems: list[ParseProblem] = []
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_cloudtrail(packed, problems))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 5_000
    assert len(problems) == 1 and problems[0].where == "record 5001" and "invalid JSON" in problems[0].reason
    assert peak < 150 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_a_link_out_of_a_configured_folder_is_reported_not_read(tmp_path: Path) -> None:
    from tools.logs.queries import log_files

    folder, outside = tmp_path / "logs", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (folder / "trail.json").write_text(json.dumps({"Records": [{"eventName": "GetObject"}]}))
    (outside / "secret.json").write_text(json.dumps({"Records": [{"eventName": "CreateUser"}]}))
    (folder / "inside-link.json").symlink_to(folder / "trail.json")
    (folder / "link.json").symlink_to(outside / "secret.json")
    problems: list[ParseProblem] = []
    assert log_files([folder], "json", problems) == [folder / "inside-link.json", folder / "trail.json"]
    assert [str(p) for p in problems] == [
        f"{folder / 'link.json'}:0: a link to {outside / 'secret.json'}, outside the configured folder {folder}: "
        "not read"
    ]


def test_a_secret_cut_by_a_line_break_is_redacted_in_both_lines(tmp_path: Path) -> None:
    from tools.catalog import TOOLS
    from tools.config import AuditorConfig
    from tools.context import CollectContext
    from tools.logs import collectors as _collectors  # noqa: F401  (registers the collectors)
    from tools.redact import redact

    first_half, second_half = "ghp_Zq8x3LmT0vRk2Yw9", "Pn4Hs6Jd1Fc7Gb5Na0Ue"  # one GitHub token, 40 characters
    log = tmp_path / "auth.log"
    log.write_text(
        "Mar  5 10:00:00 web-1 sudo: ana : TTY=pts/0 ; PWD=/srv ; USER=root ; "
        f"COMMAND=/usr/bin/git clone {first_half}\n"
        f"{second_half}@github.com/acme/app\n"
        "Mar  5 10:00:02 web-1 sshd[7]: Accepted publickey for ana from 198.51.100.7 port 5022 ssh2\n"
    )
    ctx = CollectContext(AuditorConfig.model_validate({"logs": {"paths": [str(log)]}}))
    stored = json.dumps(redact(TOOLS["logs.auth_events"].func(ctx, TOOLS["logs.auth_events"].args_model())).data)
    assert first_half not in stored and second_half not in stored and "[REDACTED:github_token]" in stored
    assert "ghp_Zq8x" not in stored and "Pn4Hs6" not in stored
    assert "ssh_accepted_login" in stored  # the next record is read as before
