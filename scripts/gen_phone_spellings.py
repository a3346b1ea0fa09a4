#!/usr/bin/env python3
"""Writes tests/data/phone_spellings.csv: phone spellings and the E.164 number that
libphonenumber (its Python port `phonenumbers`, pinned below) gives for each.

Run once when the pinned version changes:
    pip install phonenumbers==9.0.43 && python3 scripts/gen_phone_spellings.py

Rows: the example numbers of every region libphonenumber knows (fixed line, mobile,
toll-free), spelled the international way, spaced (`+55 11 2345-6789`) and compact
(`+551123456789`); and every region's examples spelled nationally (`(11) 2345-6789`)
with that region as the default country. `e164` is empty where libphonenumber finds
no possible number, which the gateway must refuse too.
"""
import csv
import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T

PINNED = "9.0.43"
TYPES = [("fixed_line", T.FIXED_LINE), ("mobile", T.MOBILE), ("toll_free", T.TOLL_FREE)]


def expected(spelling, region):
    try:
        n = phonenumbers.parse(spelling, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(n):
        return ""
    return phonenumbers.format_number(n, F.E164)


def main():
    if phonenumbers.__version__ != PINNED:
        sys.exit(f"phonenumbers {PINNED} is pinned; found {phonenumbers.__version__}")
    rows, seen = [], set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind, t in TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            spellings = [
                ("international", phonenumbers.format_number(n, F.INTERNATIONAL), "US"),
                ("compact", phonenumbers.format_number(n, F.E164), "US"),
                ("national", phonenumbers.format_number(n, F.NATIONAL), region),
            ]
            for style, spelling, default in spellings:
                key = (spelling, default)
                if key in seen:
                    continue
                seen.add(key)
                rows.append([region, kind, style, default, spelling, expected(spelling, default)])
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["region", "kind", "style", "default_country", "spelling", "e164"])
    out.writerows(rows)


if __name__ == "__main__":
    main()
