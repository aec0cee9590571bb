"""The trigger journal (pending deliveries, the bounded log), backoff and answer judging."""

from __future__ import annotations

import stat

import pytest
import requests

from cheesecellar_jenkins import journal as journal_module
from cheesecellar_jenkins.detect import ReleaseFile
from cheesecellar_jenkins.detect import Upload
from cheesecellar_jenkins.journal import Delivery
from cheesecellar_jenkins.journal import Journal
from cheesecellar_jenkins.sender import clean_error
from cheesecellar_jenkins.sender import judge
from cheesecellar_jenkins.service import MAX_BACKOFF
from cheesecellar_jenkins.service import TriggerOptions
from cheesecellar_jenkins.service import targets

FILE = ReleaseFile("a-1.0.tar.gz", "alice/dev/+f/abc/def/a-1.0.tar.gz", "abcdef", 10, "releasefile")


def delivery(ident: str, index: str = "alice/dev", created: float = 1.0) -> Delivery:
    upload = Upload(index, "a", "1.0", 5, 100.0, (FILE,))
    return Delivery(ident, "jenkins", "https://bot:tok@j.example/job/a", upload, created)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pending_deliveries_survive_a_new_journal(tmp_path):
    journal = Journal(tmp_path)
    assert journal.queued_serial() == -1
    assert journal.pending() == []
    first, second = delivery("b", created=2.0), delivery("a", created=3.0)
    journal.add([first, second], serial=5)
    assert journal.queued_serial() == 5
    second.attempts, second.next_at = 2, 99.0
    journal.update(second)
    again = Journal(tmp_path)
    assert again.pending() == [first, second]  # oldest first, with the attempts made
    again.remove(first)
    assert [d.id for d in Journal(tmp_path).pending()] == ["a"]


def test_journal_files_are_private(tmp_path):
    journal = Journal(tmp_path)
    journal.add([delivery("a")], serial=1)
    journal.record({"index": "alice/dev"})
    directory = tmp_path / ".triggers"
    assert mode(directory) == 0o700
    assert mode(directory / "pending") == 0o700
    for path in directory.rglob("*"):
        if path.is_file():
            assert mode(path) == 0o600, path
    assert not list(directory.rglob("*.tmp"))


def test_an_unreadable_pending_file_is_set_aside(tmp_path):
    journal = Journal(tmp_path)
    journal.add([delivery("good")], serial=1)
    (tmp_path / ".triggers" / "pending" / "bad.json").write_text("{not json")
    assert [d.id for d in journal.pending()] == ["good"]
    assert (tmp_path / ".triggers" / "pending" / "bad.unreadable").exists()


def test_the_log_is_per_index_newest_first_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "LOG_KEEP", 5)
    journal = Journal(tmp_path)
    for number in range(12):
        journal.record({"index": "alice/dev" if number % 2 else "bob/dev", "n": number})
    logfile = tmp_path / ".triggers" / "deliveries.jsonl"
    assert len(logfile.read_text().splitlines()) <= 10
    assert [e["n"] for e in journal.recent("alice/dev", 3)] == [11, 9, 7]
    assert [e["n"] for e in Journal(tmp_path).recent("bob/dev", 100)] == [10, 8, 6]
    with logfile.open("a") as out:
        out.write('{"index": "alice/dev", "n": ')  # a line cut short by a crash
    assert Journal(tmp_path).recent("alice/dev", 1)[0]["n"] == 11


def test_backoff_doubles_honours_retry_after_and_is_capped():
    options = TriggerOptions(retry_delay=10.0)
    assert [options.backoff(n) for n in (1, 2, 3, 4)] == [10.0, 20.0, 40.0, 80.0]
    assert options.backoff(1, asked=120.0) == 120.0
    assert options.backoff(30) == MAX_BACKOFF


def test_targets_of_an_index_config():
    config = {"uploadtrigger_jenkins": "https://j.example/job/x", "webhook_urls": ["https://h"]}
    assert targets(config) == [("jenkins", "https://j.example/job/x"), ("webhook", "https://h")]
    assert targets({"uploadtrigger_jenkins": None, "webhook_urls": []}) == []
    assert targets({}) == []


def response(status: int, **headers: str) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.headers.update(headers)
    return answer


@pytest.mark.parametrize(
    ("status", "delivered", "retryable"),
    [(200, True, False), (201, True, False), (204, True, False), (500, False, True),
     (502, False, True), (503, False, True), (408, False, True), (429, False, True),
     (400, False, False), (401, False, False), (403, False, False), (404, False, False),
     (302, False, False)],
)  # fmt: skip
def test_judging_answers(status, delivered, retryable):
    outcome = judge(response(status), 0.1)
    assert (outcome.delivered, outcome.retryable, outcome.status) == (delivered, retryable, status)
    assert (outcome.error is None) == delivered


def test_retry_after_and_redirects_are_reported():
    assert judge(response(429, **{"Retry-After": "30"}), 0.1).retry_after == 30.0
    assert judge(response(503, **{"Retry-After": "99999"}), 0.1).retry_after == 600.0
    assert judge(response(503, **{"Retry-After": "Wed, 21 Oct 2015"}), 0.1).retry_after is None
    moved = judge(response(301, Location="https://u:pw@j.example/new"), 0.1)
    assert "redirected to https://u:****@j.example/new" in moved.error


def test_error_texts_lose_their_secrets():
    text = "Max retries exceeded with url: /job/x/build?token=SECRET (https://bot:pw@j.example/a)"
    cleaned = clean_error(text)
    assert "SECRET" not in cleaned
    assert "pw@" not in cleaned
    assert len(clean_error("x" * 1000)) == 300
