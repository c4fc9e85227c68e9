#!/usr/bin/env python3
"""Sums the TRX files of one `dotnet test` run into the closing line 'N passed, N failed, N skipped'."""
import glob
import sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)
for path in files:
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    if counters is None:
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    skipped += int(counters.get("notExecuted", 0))
expected = int(sys.argv[2]) if len(sys.argv) > 2 else len(files)
print(f"test projects reported: {len(files)} of {expected}")
if len(files) < expected:
    print("some test projects produced no results (crashed, or did not run)")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or len(files) < expected or passed == 0 else 0)
