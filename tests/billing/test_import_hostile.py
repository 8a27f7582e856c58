"""Files that broke the old importer: a field over 128 KiB, a stream with no newline at all.

Each is refused with its line number like any bad field, from the command and from the admin
upload alike, and the importer's memory stays that of a block whatever the input.
"""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.imports import csvfile, import_customers, import_readings
from billing.models import MeterReading
from tests.factories import CustomerFactory, MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
JST = datetime.timezone(datetime.timedelta(hours=9))
TOO_LONG = "長すぎます(1行は 64 KiB までです)。"


@pytest.fixture
def customer():
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield CustomerFactory(utility=UtilityFactory(slug="kanazawa"))


def good_row(customer) -> str:
    return (
        f"kanazawa,{customer.number},2025-05-26,2025-07-25,2025-07-25,"
        "100,120,20,3000,2000,454,5000\n"
    )


def test_a_128_kib_field_is_refused_with_its_line_by_the_command(customer, tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + good_row(customer) + "kanazawa," + "9" * 131_073 + ",x\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="何も書き込みませんでした"):
        call_command("import_readings", str(path), stderr=err)
    assert err.getvalue() == f"line 3: customer_number: {TOO_LONG}\n"
    assert not MeterReading.objects.exists()


def test_a_128_kib_field_is_refused_in_the_admin_upload(customer, client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    text = HEADER + good_row(customer) + "kanazawa," + "9" * 131_073 + ",x\n"
    upload = SimpleUploadedFile("big.csv", text.encode(), content_type="text/csv")
    url = reverse("admin:billing_meterreading_import_csv")
    page = client.post(url, {"file": upload}, follow=True)
    assert page.status_code == 200
    assert f"line 3: customer_number: {TOO_LONG}" in page.content.decode()
    assert not MeterReading.objects.exists()


def test_a_quoted_field_over_the_csv_limit_across_lines_is_refused(customer):
    lines = "\n".join(["y" * 60_000] * 3)  # each line under 64 KiB, the field 180 KB
    data = HEADER + good_row(customer) + f'kanazawa,"{lines}",2025-05-26\n'
    result = import_readings(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [f"line 3: customer_number: {TOO_LONG}"]


def test_the_column_of_a_long_field_is_counted_outside_quotes(customer):
    # Issue 16: 「line N: column: 長すぎます」 names the column the field is in.
    lines = "\n".join(["z" * 60_000] * 3)
    row = f'kanazawa,"{customer.number}","2025-05-26,x","{lines}",100\n'
    result = import_readings(io.BytesIO((HEADER + row).encode()))
    assert [str(e) for e in result.errors] == [f"line 2: period_end: {TOO_LONG}"]


def test_a_line_that_does_not_decode_inside_an_overlong_field_is_reported_once(customer):
    lines = b"\n".join([b"y" * 60_000, b"\xff", b"y" * 60_000, b"y" * 60_000])
    data = (HEADER + good_row(customer)).encode() + b'kanazawa,"' + lines + b'",x\n'
    result = import_readings(io.BytesIO(data))
    assert [str(e)[:25] for e in result.errors] == [
        f"line 3: customer_number: {TOO_LONG}"[:25],
        "line 4: encoding: utf-8 と",
    ]


def test_a_customer_file_with_a_long_line_is_refused_too(customer):
    data = "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
    data += "kanazawa,00000000000001," + "長" * 30_000 + ",,,,,20,1\n"
    result = import_customers(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [f"line 2: name: {TOO_LONG}"]


@pytest.mark.parametrize(
    "long_line",
    [
        "kanazawa," + "9" * 1_100_000 + ",x\n",  # longer than a block, with its newline
        "kanazawa," + "9" * 100_000,  # past the block's end, no final newline
    ],
)
def test_a_long_line_past_the_end_of_a_block_is_reported_with_its_own_number(customer, long_line):
    # It was reported as line 1 whenever it did not end inside the block being read.
    data = HEADER + good_row(customer) * 2 + long_line
    result = import_readings(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [f"line 4: customer_number: {TOO_LONG}"]


def test_a_long_line_in_a_later_block_among_plain_rows_has_its_number(customer, monkeypatch):
    # Rows as a CIS export writes them are never too long: only other blocks are measured.
    monkeypatch.setattr(csvfile, "BLOCK_SIZE", 100_000)
    days = (datetime.date(2022, 1, 1) + datetime.timedelta(days=n) for n in range(1200))
    rows = "".join(f"kanazawa,{customer.number},{d},{d},{d},0,0,0,0,0,0,0\n" for d in days)
    data = HEADER + rows + "kanazawa," + "9" * 70_000 + ",x\n" + good_row(customer)
    result = import_readings(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [f"line 1202: customer_number: {TOO_LONG}"]


def test_a_long_customer_line_with_no_final_newline_has_its_number(customer):
    data = "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
    data += "kanazawa,00000000000001,a,,,,,20,1\n" + "kanazawa," + "9" * 100_000
    result = import_customers(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [f"line 3: customer_number: {TOO_LONG}"]


def test_lines_ending_in_cr_alone_are_refused_with_a_japanese_message(customer):
    data = (HEADER + good_row(customer)).replace("\n", "\r")
    result = import_readings(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [
        "line 1: row: 改行がCRだけです。改行コードをLFかCRLFにして保存し直してください。"
    ]


@pytest.mark.parametrize("rows_before", [0, 50])
def test_one_line_ending_in_cr_alone_in_an_lf_file_is_named_with_its_number(customer, rows_before):
    # It was reported as 「長すぎます」 although the line is short.
    rows = [good_row(customer).replace("2025", str(1950 + i)) for i in range(rows_before + 3)]
    rows[-2] = rows[-2].replace("\n", "\r")
    data = HEADER + "".join(rows)
    result = import_readings(io.BytesIO(data.encode()))
    assert [str(e) for e in result.errors] == [
        f"line {rows_before + 3}: row: 改行がCRだけです。改行コードをLFかCRLFにして保存し直してください。"
    ]


def test_a_blank_header_is_no_header(customer):
    result = import_readings(io.BytesIO(b"\n" + good_row(customer).encode()))
    assert [str(e) for e in result.errors] == ["line 1: header: ヘッダー行がありません。"]


def _peak_rss_kb(args: list[str], env: dict, feed: bytes, repeat: int = 1) -> tuple[int, bytes]:
    """Run a command, write ``feed`` ``repeat`` times to its stdin; its peak RSS and stderr."""
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def write() -> None:
        try:
            for _ in range(repeat):
                process.stdin.write(feed)
            process.stdin.close()
        except BrokenPipeError:
            pass  # the importer refused the stream and stopped reading: as it should

    writer = threading.Thread(target=write)
    writer.start()
    err = process.stderr.read()
    _pid, _status, usage = os.wait4(process.pid, 0)
    writer.join()
    return usage.ru_maxrss, err


def test_a_stream_with_no_newline_is_refused_at_once_in_flat_memory(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "loaddata", "utilities", "-v0"], cwd=ROOT, env=env, check=True)
    command = [*manage, "import_readings", "-"]
    small, _err = _peak_rss_kb(command, env, HEADER.encode())
    # 96 MB without a newline (the old importer held it whole, several times over).
    big, err = _peak_rss_kb(command, env, b"\x1f\x8b" + b"x" * (1 << 20), repeat=96)
    assert f"line 1: row: {TOO_LONG}" in err.decode()
    assert big < small + 16 * 1024, (small, big)


def test_control_characters_of_a_file_reach_the_terminal_written_out(customer, tmp_path):
    # An escape sequence in a header or a value would recolour, retitle or clear the terminal.
    path = tmp_path / "readings.csv"
    header = HEADER.rstrip("\n") + ",\x1b[31mRED\x1b]0;TITLE\x07\n"
    path.write_text(header + good_row(customer).replace("kanazawa", "kana\x1b[2Jzawa"))
    err = io.StringIO()
    with pytest.raises(CommandError, match="何も書き込みませんでした"):
        call_command("import_readings", str(path), stderr=err)
    assert "\\x1b[31mRED\\x1b]0;TITLE\\x07" in err.getvalue()
    assert not any(ord(c) < 0x20 and c != "\n" for c in err.getvalue())
