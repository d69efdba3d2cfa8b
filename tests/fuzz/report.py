"""Print the counts of a fuzz report (NCNNLIKE_FUZZ_REPORT=path, see test_fuzz.py) by format and
outcome, then every bad case: `python tests/fuzz/report.py /tmp/fuzz.jsonl`."""
import collections
import json
import sys

BAD_KINDS = ("traceback", "signal", "hang", "noise", "longline", "badexit", "harness")


def main(path):
    rows = [json.loads(line) for line in open(path)]
    counts = collections.Counter()
    for row in rows:
        kind = "ok, refused" if row["outcome"] == "ok" and row["problems"] else row["outcome"]
        counts[(row["format"], row["tool"], kind)] += 1
    print("%-7s %-15s %-12s %7s" % ("format", "tool", "outcome", "cases"))
    for (fmt, tool, kind), n in sorted(counts.items()):
        print("%-7s %-15s %-12s %7d" % (fmt, tool, kind, n))
    totals = collections.Counter(row["outcome"] for row in rows)
    refused = sum(1 for row in rows if row["outcome"] == "ok" and row["problems"])
    problems = sum(1 for row in rows if row["problems"])
    print("total %d cases: %s; exit-0 outputs refused: %d; cases with any problem: %d"
          % (len(rows), ", ".join("%s %d" % kv for kv in sorted(totals.items())), refused, problems))
    for row in rows:
        if row["outcome"] in BAD_KINDS or row["problems"]:
            print("--", row["format"], row["tool"], row["outcome"], row["problems"], row["argv"][-4:])
            print("  ", row["stderr"][-300:].replace("\n", " | "))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
