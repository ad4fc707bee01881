"""Tests of the Python reader (`import mgsweep`) and of `mgsweep report` (ctest: report_*).

    run_report_test.py --mgsweep BIN --scratch DIR CASE

Two small stores are made once per scratch folder (again when the binary is newer) with a
tiny random model: "blocks" (guitar, piano, rock, electronic; lens; replace and adjust on
every component of every layer, over the whole generation and a step window; pairs of all
four categories) and "heads" (head targets, adjust, no lens). `mgsweep report blocks heads`
is made once too (case report), and the other cases read it.

CASE:
  reader    open_store: labelled dimensions and coordinates, values equal h5py's, items not
            done are NaN / -1, laziness (nothing big read at opening), unstack_targets
  numbers   every value of every CSV recomputed here from the store with h5py and numpy
            (the CIs too, from the documented bootstrap), every CI contains its mean, the
            paper's labels (EDM), every figure as PNG and SVG
  rerun     the same stores give byte-identical CSVs (a second report, without audio)
  page      headless Chromium: every image loaded, every audio decodes (duration > 0), no
            console error; the screenshot is kept at SCRATCH/report/index.png
  partial   a store with items not done: NaN in the reader, the report marks it on the page
            and on every figure, n counts only done prompts
  journal   a run killed with -9 before its first checkpoint: the reader sees the journal's
            items (as `mgsweep status` does), and after the resume they hold the same values
  schema    schema 1 is refused (message naming `mgsweep migrate`) or read with legacy=True;
            after `mgsweep migrate` it reads; a newer schema is refused; so does the report

The cases are in report_cases_store.py (reader, partial, journal, schema) and
report_cases_report.py (numbers, rerun, page); what they share is in report_common.py, the oracle
of the report's numbers in report_oracle.py.
"""

import argparse
import os
import sys

from report_cases_report import case_numbers, case_page, case_rerun  # noqa: F401
from report_cases_store import case_journal, case_partial, case_reader, case_schema  # noqa: F401
from report_common import REPO, failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=["reader", "numbers", "rerun", "page", "partial", "journal",
                                     "schema"])
    args = ap.parse_args()
    args.mgsweep = os.path.abspath(args.mgsweep)
    os.makedirs(args.scratch, exist_ok=True)
    sys.path.insert(0, os.path.join(REPO, "python"))
    globals()[f"case_{args.case}"](args)
    print(f"{args.case}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
