"""Validates a JSON(-LD) document against a JSON Schema; used by EpcisExportTests.

usage: python3 validate_epcis.py SCHEMA DOCUMENT
Prints VALID, or INVALID followed by one line per error; exit code 0 / 1.
The schema's own $schema picks the draft (validator_for). 'date-time' (RFC 3339) and 'uri' (RFC 3986: a scheme, then
no spaces or controls) are checked here: jsonschema only checks them when optional packages (rfc3987, ...) happen to be
installed, so the result would otherwise depend on the machine.
"""
import json
import re
import sys
from datetime import datetime

import jsonschema

URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]*$")
RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    document = json.load(open(sys.argv[2], encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = cls.FORMAT_CHECKER

    @checker.checks("date-time", raises=ValueError)
    def date_time(value):
        if not isinstance(value, str):
            return True
        m = RFC3339.match(value)
        if not m:
            return False
        zone = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
        # Range check (month 13, hour 25, offset 99:00 raise ValueError); the fraction is syntax-checked above.
        datetime.fromisoformat(m.group(1) + "T" + m.group(2) + zone)
        return True

    @checker.checks("uri")
    def uri(value):
        return not isinstance(value, str) or URI.match(value) is not None

    validator = cls(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        print("INVALID")
        for e in errors[:50]:
            print("/".join(str(p) for p in e.absolute_path), ":", e.message[:500])
        return 1
    print("VALID", cls.__name__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
