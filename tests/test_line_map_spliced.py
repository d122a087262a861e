"""The line map of a module into which the compile cache spliced functions
(codegen/line_map.py: spliced_line_map, om_dsl.recompile) is the one a whole
module read again gives."""

from __future__ import annotations

import re
import sys

from om_dsl.build import build

from support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import generate as G  # noqa: E402


def test_a_line_map_made_for_spliced_functions_is_the_one_made_from_the_whole_module(tmp_path):
    """emit.spliced_line_map (the splice's) against with_new_line_map (the whole module read
    again), for functions that gain or lose marked lines, several at once, first and last."""
    from om_dsl.codegen import emit
    from om_dsl.codegen.line_map import spliced_line_map, with_new_line_map
    from om_dsl.codegen.splice import replaced

    folder = tmp_path / "specs"
    G.write_catalog(folder, 900, per_file=3)
    files = emit.skeleton(build([str(folder)]).catalogs[0])
    checked = 0
    for module in ("planner.py", "decomposition.py", "validation.py", "plans.py", "enrichment.py"):
        text = files[module]
        names = re.findall(r"\n\n\ndef (\w+)\(", text)
        for chosen in ([names[0]], [names[-1]], names[1:4], names[::7]):
            pieces = []
            for n, name in enumerate(chosen):
                start, end = emit.function_segment(text, name)
                body = text[start:end]
                lines = body.split("\n")
                # a marked line more, a line fewer, or a marker renamed: each moves the map otherwise
                if n % 3 == 0:
                    lines.insert(5, "    # @om extra:element  here")
                elif n % 3 == 1 and len(lines) > 6:
                    del lines[5]
                else:
                    lines = [line.replace("# @om ", "# @om renamed.", 1) for line in lines]
                pieces.append((start, end, "\n".join(lines)))
            fast = spliced_line_map(text, pieces)
            assert fast is None or fast == with_new_line_map(replaced(text, pieces)), (module, chosen)
            checked += fast is not None
    assert checked >= 15
