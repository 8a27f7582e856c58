"""manage.py import_customers / import_readings: exit status, messages, stdin, dry run."""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from billing.models import Customer, MeterReading
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))


@pytest.fixture(autouse=True)
def _setup():
    UtilityFactory(slug="kanazawa", customer_number_digits=14)
    UtilityFactory(slug="nayoro", code_style=True)
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_one_summary_line_and_reimport_changes_nothing():
    out, err = run("import_customers", str(FIXTURES / "customers_good.csv"))
    assert out == "5 行: 追加 5 件、更新 0 件、変更なし 0 件、要確認 0 件\n"
    assert err == ""
    out, _ = run("import_readings", str(FIXTURES / "readings_good.csv"))
    assert out == "10 行: 追加 10 件、更新 0 件、変更なし 0 件、要確認 1 件\n"
    out, _ = run("import_readings", str(FIXTURES / "readings_bom.csv"))
    assert out == "10 行: 追加 0 件、更新 0 件、変更なし 10 件、要確認 1 件\n"
    assert MeterReading.objects.count() == 10


def test_cp932_needs_its_encoding_option():
    with pytest.raises(CommandError):
        run("import_customers", str(FIXTURES / "customers_cp932.csv"))
    out, _ = run("import_customers", str(FIXTURES / "customers_cp932.csv"), "--encoding", "cp932")
    assert "追加 5 件" in out


def test_bad_file_prints_every_problem_exits_non_zero_and_writes_nothing():
    err = io.StringIO()
    with pytest.raises(CommandError, match="10 件の問題があるため、何も書き込みませんでした。"):
        call_command(
            "import_customers",
            str(FIXTURES / "customers_bad.csv"),
            stdout=io.StringIO(),
            stderr=err,
        )
    lines = err.getvalue().splitlines()
    assert lines[0] == "line 2: utility: 事業者「tokyo」は登録されていません。"
    assert lines[-1] == "line 12: customer_number: 11行目と customer_number が同じです。"
    assert len(lines) == 10
    assert Customer.objects.count() == 0


def test_a_long_list_of_problems_is_cut_with_a_count_of_the_rest(monkeypatch):
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    bad = "kanazawa,1,2025-01-26,2025-03-25,2025-03-25,1,2,1,1,1,1,2"
    text = header + "\n" + "\n".join([bad] * 150) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    err = io.StringIO()
    with pytest.raises(CommandError, match="150 件の問題"):
        call_command("import_readings", "-", stdout=io.StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 101
    assert lines[0].startswith("line 2: customer_number: 14桁の数字")
    assert lines[-1] == "…ほか 50 件"


def test_dash_reads_standard_input(monkeypatch):
    run("import_customers", str(FIXTURES / "customers_good.csv"))
    data = (FIXTURES / "readings_crlf.csv").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out, _ = run("import_readings", "-")
    assert "追加 10 件" in out
    assert MeterReading.objects.count() == 10


def test_dry_run_says_so_and_writes_nothing():
    out, _ = run("import_customers", str(FIXTURES / "customers_good.csv"), "--dry-run")
    assert out.startswith("[検査のみ・書き込みなし] 5 行: 追加 5 件")
    assert Customer.objects.count() == 0


def test_verbosity_0_prints_nothing_on_success_and_only_errors_on_failure():
    out, err = run("import_customers", str(FIXTURES / "customers_good.csv"), "-v", "0")
    assert (out, err) == ("", "")
    err_buffer = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_readings",
            str(FIXTURES / "readings_bad_last_line.csv"),
            verbosity=0,
            stdout=io.StringIO(),
            stderr=err_buffer,
        )
    assert err_buffer.getvalue() == (
        "line 12: total: 水道料金と下水道使用料の合計(200)と一致しません。\n"
    )


def test_verbosity_2_lists_the_flagged_lines_by_flag(tmp_path):
    run("import_customers", str(FIXTURES / "customers_good.csv"))
    # readings_good.csv's line 7 went round; a copy whose line 3 does not follow line 2.
    lines = (FIXTURES / "readings_good.csv").read_text().splitlines(keepends=True)
    fields = lines[2].split(",")
    previous, usage = int(fields[5]) + 1, int(fields[7]) - 1
    lines[2] = ",".join([*fields[:5], str(previous), fields[6], str(usage), *fields[8:]])
    path = tmp_path / "readings.csv"
    path.write_text("".join(lines))
    out, _ = run("import_readings", str(path), "-v", "2")
    assert out.splitlines()[:2] == [
        "要確認(メーター一巡・交換)の行: 7",
        "要確認(前回指針の不一致)の行: 3",
    ]


def test_a_missing_file_is_a_clear_error():
    with pytest.raises(CommandError) as missing:
        run("import_readings", "no-such.csv")
    assert str(missing.value) == "no-such.csv: ファイルがありません。"


def test_a_directory_is_refused_in_japanese(tmp_path):
    with pytest.raises(CommandError) as directory:
        run("import_customers", str(tmp_path))
    assert str(directory.value) == f"{tmp_path}: フォルダです。CSVファイルを指定してください。"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_counts_rows_with_their_rate_then_says_it_is_writing(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run("import_customers", str(FIXTURES / "customers_good.csv"))
    run("import_readings", str(FIXTURES / "readings_good.csv"))
    bar = terminal.getvalue()
    # Time is frozen here, so the rate reads "?": the field is there, tqdm fills it in.
    assert "契約: 0.00行 [00:00, ?行/s]" in bar
    assert "契約(照合・書き込み中): 5.00行 [" in bar
    assert "検針(照合・書き込み中): 10.0行 [" in bar


def test_no_bar_when_not_on_a_terminal_or_at_verbosity_0(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    run("import_customers", str(FIXTURES / "customers_good.csv"))
    assert sys.stderr.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run("import_readings", str(FIXTURES / "readings_good.csv"), "-v", "0")
    assert terminal.getvalue() == ""
