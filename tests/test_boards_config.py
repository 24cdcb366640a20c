"""Board files and run configs: validation errors name the file and the field; the boards command."""

from __future__ import annotations

import pytest

from spikehls.boards import load_board
from spikehls.cli import main
from spikehls.config import Config, config_from_dict, load_config
from spikehls.errors import SpikehlsError

GOOD = """name: mine
part: xc7z020clg400-1
clock_mhz: 100
resources: {LUT: 53200, FF: 106400, BRAM18: 280, DSP: 220}
"""


def _board(tmp_path, text):
    p = tmp_path / "b.yaml"
    p.write_text(text)
    return p


def test_user_board_file_with_defaults(tmp_path):
    b = load_board(_board(tmp_path, GOOD))
    assert b.resources.URAM == 0 and b.budget.LUT == 0.8 and b.clock_period_ns == 10.0
    assert b.allowed()["LUT"] == pytest.approx(53200 * 0.8)


@pytest.mark.parametrize(
    "edit, field",
    [
        (GOOD.replace("clock_mhz: 100\n", ""), "clock_mhz"),
        (GOOD.replace("LUT: 53200", "LUT: -1"), "resources.LUT"),
        (GOOD + "budget: {BRAM18: 1.5}\n", "budget.BRAM18"),
        (GOOD + "budget: {LUT: 0}\n", "budget.LUT"),
        (GOOD + "colour: red\n", "colour"),
        (GOOD + "hls: {backend: Quartus}\n", "hls.backend"),
        (GOOD + "hls: {block_ram_min_fill: 1.5}\n", "hls.block_ram_min_fill"),
        (GOOD + "hls: {block_ram_min_fill: -0.1}\n", "hls.block_ram_min_fill"),
    ],
)
def test_bad_board_names_file_and_field(tmp_path, edit, field):
    p = _board(tmp_path, edit)
    with pytest.raises(SpikehlsError) as e:
        load_board(p)
    msg = str(e.value)
    assert str(p) in msg and field in msg and "\n" not in msg


def test_invalid_yaml_board_and_config(tmp_path):
    p = _board(tmp_path, "name: [unclosed\n")
    with pytest.raises(SpikehlsError, match="invalid YAML"):
        load_board(p)
    with pytest.raises(SpikehlsError, match="invalid YAML"):
        load_config(p)


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"neuron": {"kind": "izhikevich"}}, "neuron.kind"),
        ({"sca": {"p": 0.9, "q": 0.2}}, "sca.p + sca.q"),
        ({"trian": {}}, "trian: unknown field"),
        ({"dataset": {"name": "mnist"}}, "dataset.path"),
        ({"quant": {"w_bits": 9}}, "quant.w_bits"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(data, needle):
    with pytest.raises(SpikehlsError) as e:
        config_from_dict(data, "my.yaml")
    assert str(e.value).startswith("my.yaml:") and needle in str(e.value)


def test_default_config_round_trips_through_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(Config().to_yaml())
    assert load_config(p) == Config()


def test_boards_command_lists_and_shows(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for name in ("pynq-z2", "arty-a7-100t", "zcu104", "kv260", "alveo-u250"):
        assert name in out
    assert main(["boards", "zcu104"]) == 0
    out = capsys.readouterr().out
    assert "xczu7ev-ffvc1156-2-e" in out and "URAM" in out


def test_cli_bad_option_value_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["codesign", "--strategy", "greedy"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "greedy" in err and len(err.splitlines()) == 1


def test_a_zero_dsp_budget_forbids_dsp(tmp_path):
    """DSP: 0 is a target (a DSP-free design), not a mistake: allowed, and any DSP is over budget."""
    from spikehls.hls.report_run import fits_detail

    b = load_board(_board(tmp_path, GOOD + "budget: {DSP: 0}\n"))
    assert b.allowed()["DSP"] == 0
    report = {"total": {"LUT": 10, "FF": 10, "BRAM18": 1, "URAM": 0, "DSP": 1}, "latency": {"us": {"worst": 1.0, "activity": None}}}
    assert fits_detail(report, b)["DSP"] is False
    report["total"]["DSP"] = 0
    assert fits_detail(report, b)["DSP"] is True


@pytest.mark.parametrize("bound, asked", [(None, 0), (0, None), (0.25, 0), (None, None)])
def test_a_project_is_priced_at_the_threshold_it_was_bound_with(bound, asked, tmp_path):
    """The report prices a project's memories as its BIND_STORAGE lines and its twin hold them,
    whatever threshold the board it is asked with has (a project of an earlier version, with no
    record, was bound at the default)."""
    from spikehls.hls.report_run import project_board

    board = load_board("pynq-z2").with_block_ram_min_fill(asked)
    metas = [{"board": {"block_ram_min_fill": bound}}] + ([{"board": {}}] if bound is None else [])
    for meta in metas:
        brd = project_board(tmp_path, meta, board)
        assert brd.hls.block_ram_min_fill == bound
        assert brd.model_dump(exclude={"hls"}) == board.model_dump(exclude={"hls"})
