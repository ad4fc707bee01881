"""Hook-site and target names of the store, taken apart into labelled parts.

    layers.{i}.{self_attn|cross_attn|mlp|out}        a block site
    layers.{i}.{self_attn|cross_attn}.head.{h}       one head's slice of an attention output
    SITE@T0-T1                                       a target limited to steps T0 <= s < T1
                                                     (T1 = 2^63 - 1 is "end"; no suffix: all steps)
"""

from __future__ import annotations

import dataclasses
import re

END = 2**63 - 1  # StepWindow::t1 of a window open to the end of the generation
_SITE = re.compile(r"^layers\.(\d+)\.(self_attn|cross_attn|mlp|out)(?:\.head\.(\d+))?$")


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    layer: int
    component: str  # self_attn | cross_attn | mlp | out
    head: int  # -1 for a whole block
    t0: int
    t1: int  # END: to the end

    @property
    def window(self) -> str:
        """"all", "T0-T1" or "T0-end"."""
        if self.t0 == 0 and self.t1 == END:
            return "all"
        return f"{self.t0}-{'end' if self.t1 == END else self.t1}"


def parse(name: str) -> Target:
    site, _, win = name.partition("@")
    m = _SITE.match(site)
    if not m:
        raise ValueError(f"not an mgsweep hook site or target name: {name!r}")
    t0, t1 = 0, END
    if win:
        a, _, b = win.partition("-")
        t0, t1 = int(a), int(b)
    head = int(m.group(3)) if m.group(3) is not None else -1
    return Target(name, int(m.group(1)), m.group(2), head, t0, t1)
