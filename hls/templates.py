"""Config and function-call templates of the spiking layers (same text for Vivado and Vitis).

The config struct carries every size, the bit widths derived in :mod:`spikehls.hls.layers`
and ``layer_id`` (the hls4ml layer index, which keys the C-simulation spike counters and the
spike capture of the csim driver). ``parallelism`` is the knob; the kernels use what it
becomes: ``n_lanes`` (scatter lanes = accumulator banks by channel), ``fire_lanes`` (neurons
fired per cycle = banks by position), ``n_groups``, ``plane_words``, ``acc_depth``, ``v_depth``
(:func:`_lane_lines`; see hls/cpp/nnet_spiking.h for why the banks are what they are).
"""

from __future__ import annotations

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from spikehls.hls.activity import layer_tripcounts
from spikehls.hls.lanes import SCATTER_DEPTH, tap_words
from spikehls.hls.layers import SpikeMaxPool2D, SpikeReadout, SpikingConv2D, SpikingDense
from spikehls.hls.memory import has_uram, memory_style, registered_read
from spikehls.hls.twin_cost import layer_memories

INCLUDES_SPIKING = ["nnet_utils/nnet_spiking.h"]
INCLUDES_DIRECT = ["nnet_utils/nnet_spiking.h", "nnet_utils/nnet_spiking_direct.h"]


def _wtype(node, name: str) -> str:
    return node.get_weights(name).type.name


def _wvar(node, name: str) -> str:
    return node.get_weights(name).name


def _table_lines(node, prefix: str = "") -> list[str]:
    p = prefix
    return [
        f"    typedef {_wtype(node, p + 'offsets')} {p}index_t;",
        f"    typedef {_wtype(node, p + 'groups')} {p}group_t;",
        f"    typedef {_wtype(node, p + 'weights')} {p}weight_t;",
    ]


def _neuron_lines(node) -> list[str]:
    vb = int(node.get_attr("v_bits"))
    return [
        f"    static const int leak_shift = {int(node.get_attr('leak_shift'))};",
        f"    static const bool reset_subtract = {'true' if node.get_attr('reset') == 'subtract' else 'false'};",
        f"    static const long long v_max = {2 ** (vb - 1) - 1}LL;",
        f"    static const long long v_min = {-(2 ** (vb - 1))}LL;",
        f"    typedef spk::int_t<{vb}> v_t;",
        f"    typedef spk::int_t<{int(node.get_attr('acc_bits'))}> accum_t;",
        f"    typedef spk::int_t<{int(node.get_attr('sum_bits'))}> sum_t;",
        f"    typedef {_wtype(node, 'thr')} thr_t;",
        f"    typedef {_wtype(node, 'bias')} bias_t;",
        # direct encoding: one fire pass through the constant-current train table (spike_trains.py)
        f"    static const bool fire_once = {'true' if node.get_attr('fire_once') else 'false'};",
        f"    static const unsigned n_breaks = {int(node.get_attr('n_breaks'))};",
        f"    typedef {_wtype(node, 'fire_breaks') if node.input_is_pixels() else 'accum_t'} break_t;",
        f"    typedef {_wtype(node, 'fire_trains') if node.input_is_pixels() else 'ap_uint<' + str(int(node.get_attr('n_time'))) + '>'} train_t;",
    ]


def _train_args(node) -> str:
    """The train table arguments of a direct layer's call (none for a spiking input)."""
    if not node.input_is_pixels():
        return ""
    return f", {_wvar(node, 'fire_breaks')}, {_wvar(node, 'fire_trains')}"


def _lane_lines(node, n_filt: int, plane: int) -> list[str]:
    """Lane counts and bank geometry of the state arrays (acc [lanes][fire][acc_depth], v [fire][v_depth])."""
    lanes, fire = int(node.get_attr("n_lanes")), int(node.get_attr("fire_lanes"))
    groups = -(-n_filt // lanes)
    words = plane // fire
    return [
        f"    static const unsigned parallelism = {int(node.get_attr('parallelism'))};",
        f"    static const unsigned n_lanes = {lanes}, fire_lanes = {fire}, n_groups = {groups};",
        f"    static const unsigned out_hw = {plane}, plane_words = {words};",
        f"    static const unsigned acc_depth = {groups * words}, v_depth = {n_filt * words};",
        f"    static const unsigned n_chunks = {len(node.get_weights('groups').data)}, n_table = {len(node.get_weights('weights').data)};",
        f"    static const unsigned n_nonzero = {int(node.get_attr('nnz'))}; // weight additions per full fan-out",
        f"    static const bool current_once = {'true' if getattr(node, 'input_is_pixels', lambda: False)() else 'false'}; // direct: one frame",
    ]


def _stream_lines(node) -> list[str]:
    """The residual-stream members of a stream layer's config (those of ``nnet::no_stream``, with
    z_current = true; hls/geometry.py); nothing for any other layer, whose config is unchanged."""
    g = node.geometry()
    if not g.z_current:
        return []
    zb = max(g.acc_bits, g.bias_bits) + 1  # bias + z and bias - z, exact
    return [
        "    // residual stream: acc holds z, the fire pass integrates bias + sign * z (add or subtract)",
        f"    static const bool z_current = true, has_residual = {'true' if g.residual_source else 'false'},"
        f" writes_stream = {'true' if g.writes_stream else 'false'};",
        f"    static const unsigned z_banks = {g.z_banks}; // banks of the stream buffer (lcm of writer and reader fire lanes)",
        f"    typedef spk::int_t<{g.cur_bits}> cur_t;",
        f"    typedef spk::int_t<{zb}> zb_t;",
        f"    typedef {_wtype(node, 'sign')} sign_t;",
        *_mem_lines(None, [("sign", 2, g.channels, True)])[1:],  # the twin's sgn_rom: 2 b x channels, distributed
    ]


def _ubits(n: int) -> int:
    """Unsigned bits of a counter 0..n (at least 1)."""
    return max(1, int(n).bit_length())


# ---- storage binding and trip counts (issue 13: decided by spikehls, not guessed by Vitis) ----
_MEM = {"registers": "nnet::mem_registers", "distributed": "nnet::mem_distributed", "block": "nnet::mem_block",
        "ultra": "nnet::mem_ultra"}

# the kernels' arrays that are the twin's (hls/rtl/verilog.py): kernel name -> twin_cost.layer_memories name
# (the twin keeps a chunk's group and weights in one table word, the kernels in two ROMs: both
# are that table; the fire tables are one ROM there, breaks and trains here)
TWIN_ARRAY = {"acc": "acc", "v": "membranes", "bias": "bias", "thr": "thresholds", "breaks": "fire_tables",
              "trains": "fire_tables", "offsets": "offsets", "groups": "table", "weights": "table",
              "skip_offsets": "skip_offsets", "skip_groups": "skip_table", "skip_weights": "skip_table"}


def _wbits(node, name: str) -> int:
    return int(node.get_weights(name).type.precision.width)


def layer_storage(node) -> dict:
    """The twin's arrays of a layer and where the memory rule puts them
    (:func:`spikehls.hls.twin_cost.layer_memories` on the layer's geometry, URAM where the part has
    it): the one decision the kernels, the twin's ``ram_style`` / ``rom_style`` and the cost model
    share."""
    part = node.model.config.get_config_value("Part")
    return layer_memories(node.geometry(), 1, has_uram(part))


def _mem_lines(node, arrays, skip_alias: bool = False) -> list[str]:
    """One line per array ``(name, width, depth, rom)`` of the layer's kernel: its storage as
    ``<name>_mem`` (``nnet::mem_registers / _distributed / _block / _ultra``), which the kernel
    turns into a literal ``BIND_STORAGE ... impl=`` (or a complete partition) by tag dispatch
    (``bind_*`` in nnet_spiking_common.h).

    An array the twin has (:data:`TWIN_ARRAY`) gets the twin's style (:func:`layer_storage`), with
    the twin's shape in the comment. The scan lists (the kernels' own, read in the cycle of the
    address) and an array this layer never reads (the thresholds of a layer that fires once, the
    fire tables of one that does not) get the rule on their own shape, read asynchronously.
    ``skip_alias``: the skip tables are the main tables passed again (no skip): the main's style."""
    mems = layer_storage(node) if node is not None else {}
    lines = ["    // storage by spikehls.hls.twin_cost.layer_memories: the twin's arrays, packed as there (width b x depth words)"]
    for name, width, depth, rom in arrays:
        width, depth = max(1, int(width)), max(1, int(depth))
        twin = TWIN_ARRAY.get(name[5:] if skip_alias and name.startswith("skip_") else name)
        m = mems.get(twin) if twin else None
        if m is not None:
            style = m.style
            shape = f"twin {twin}: {m.width} b x {m.depth}{f' x {m.banks} banks' if m.banks > 1 else ''}"
        else:  # read in the cycle of the address (or never read): the rule, asynchronous
            style = memory_style(width, depth, rom=rom, sync_read=False)
            shape = f"{width} b x {depth}"
        if rom and style == "ultra":  # pragma: no cover - the rule never picks it (URAM has no contents)
            raise AssertionError(f"{name}: a ROM in URAM")
        lines.append(f"    static const nnet::mem_style {name}_mem = {_MEM[style]}; // {style}: {shape}{' ROM' if rom else ''}")
    return lines


def _trip_lines(node, names: dict[str, str]) -> list[str]:
    """``<prefix>_min/_max/_avg`` of the layer's data-dependent loops (hls/activity.py): the
    project generator measures them on the test vectors; without, min 0 and avg = max."""
    measured = all(node.get_attr(k) is not None for k in names)
    trips = {k: node.get_attr(k) for k in names} if measured else layer_tripcounts(node, None)
    src = "the reference's activity on the test vectors" if measured else "no test vectors: avg = max (worst case)"
    lines = [f"    // LOOP_TRIPCOUNT of the data-dependent loops, min/avg from {src}, max structural"]
    for key, prefix in names.items():
        lo, hi, avg = (int(v) for v in trips[key])
        lines.append(f"    static const unsigned {prefix}_min = {lo}, {prefix}_max = {hi}, {prefix}_avg = {avg};")
    return lines


def _rom_table_arrays(node, prefix: str, depth_div: int, lanes: int) -> list[tuple]:
    """(offsets, groups, weights) of a nonzero table as the kernels reshape them: offsets and
    groups in ``depth_div`` banks, weights as words of ``lanes * depth_div`` slots."""
    p = prefix
    n_off = len(node.get_weights(p + "offsets").data)
    n_grp = len(node.get_weights(p + "groups").data)
    n_w = len(node.get_weights(p + "weights").data)
    return [
        (p + "offsets", _wbits(node, p + "offsets"), -(-n_off // depth_div), True),
        (p + "groups", _wbits(node, p + "groups") * depth_div, -(-n_grp // depth_div), True),
        (p + "weights", _wbits(node, p + "weights") * lanes * depth_div, -(-n_w // (lanes * depth_div)), True),
    ]


def _neuron_arrays(node, n_filt: int, lanes: int, fire: int, plane: int) -> list[tuple]:
    """State (acc, v) and per-channel ROMs (bias, thr, fire breaks / trains) of a neuron layer."""
    words = plane // fire
    groups = -(-n_filt // lanes)
    nb = int(node.get_attr("n_breaks"))
    T = int(node.get_attr("n_time"))
    pixels = node.input_is_pixels()
    acc_bits = int(node.get_attr("acc_bits"))
    return [
        ("acc", acc_bits, groups * words, False),
        ("v", int(node.get_attr("v_bits")), n_filt * words, False),
        ("bias", _wbits(node, "bias"), groups, True),
        ("thr", _wbits(node, "thr"), n_filt, True),
        ("breaks", (acc_bits + 1) * max(1, nb), n_filt if pixels else 1, True),
        ("trains", T * (nb + 1), n_filt if pixels else 1, True),
    ]


def _counter_lines(n_filt: int, lanes: int, words: int, groups: int) -> list[str]:
    """Widths of the fire pass's running counters (R6: bits(trip), not 32-bit unsigned)."""
    return [
        f"    static const unsigned fire_chan_bits = {_ubits(n_filt)}, fire_lane_bits = {_ubits(lanes)},"
        f" fire_word_bits = {_ubits(words)}, acc_word_bits = {_ubits(groups * words)}; // fire counters",
    ]


def _struct(node, lines: list[str]) -> str:
    head = [
        f"struct config{node.index} {{",
        f"    // {node.class_name} '{node.name}'",
        f"    static const unsigned layer_id = {node.index};",
        f"    static const unsigned n_time = {int(node.get_attr('n_time'))};",
        f"    static const unsigned n_in = {int(node.get_attr('n_in'))};",
    ]
    return "\n".join(head + lines + ["};"]) + "\n"


def _b2b_distance(node, kh: int, kw: int) -> int:
    """The least distance (in EvFlat iterations) between two iterations of different events of one
    input channel that may reach the same accumulator word: an event runs its kernel rows in
    ascending ky (kw / taps iterations each) and a later event of the channel reaches an earlier
    one's output row only on a kernel row >= that one's, the earliest being the same row of the
    next event, ``(kh - 1) * per_row + 1`` iterations on. ``lanes.events_back_to_back`` admits
    overlap only when this is >= the scatter depth; the kernel states it as a true dependence at
    this distance (Vitis keeps the schedule within it)."""
    per_row = max(1, kw // max(1, int(node.get_attr("tap_lanes"))))
    dist = (kh - 1) * per_row + 1
    if node.get_attr("back_to_back") and dist < SCATTER_DEPTH:
        raise AssertionError(f"{node.name}: back_to_back with a dependence distance {dist} < scatter depth {SCATTER_DEPTH}")
    return dist


def _forward_lines(node, kh: int, kw: int) -> list[str]:
    """Write-to-read forwarding of a conv layer's back-to-back event loop (EvFlat): on where the
    accumulators are block / ultra RAM (a read one cycle late), over the last ``SCATTER_DEPTH``
    iterations (read latency 1, add, write); the memory then delivers writes of greater distance
    only (``ev_distance``, the loop's DEPENDENCE distance; ``b2b_distance`` without forwarding)."""
    fwd = registered_read(layer_storage(node)["acc"].style)
    b2b = _b2b_distance(node, kh, kw)
    dist = max(b2b, SCATTER_DEPTH + 1) if fwd else b2b
    return [
        f"    static const bool acc_forward = {'true' if fwd else 'false'}; // acc in block / ultra RAM: EvFlat forwards the last writes",
        f"    static const unsigned acc_fwd_depth = {SCATTER_DEPTH}; // forwarded distances 1 .. {SCATTER_DEPTH}: read latency 1, add, write",
        f"    static const unsigned ev_distance = {dist}; // EvFlat's DEPENDENCE distance: what the memory itself must deliver",
    ]


def _dense_event_lines(node) -> list[str]:
    """Counter widths and trip counts of the event loops of a dense layer / the readout."""
    n_in, R = int(node.get_attr("n_in")), node.read_lanes()
    return [
        f"    static const unsigned ev_count_bits = {_ubits(n_in)}, ev_word_bits = {_ubits(-(-n_in // R))}; // events / listed words of a frame",
    ] + _trip_lines(node, {"trip_events": "ev_trip", "trip_row": "row_trip"})


def _event_arrays(node) -> list[tuple]:
    """The listed words of one frame (scan_words): word index, mask, value."""
    n_in, R = int(node.get_attr("n_in")), node.read_lanes()
    n_words = -(-n_in // R)
    pixels = node.input_is_pixels() if hasattr(node, "input_is_pixels") else False
    return [("ev_w", _ubits(n_in - 1), n_words, False), ("ev_m", R, n_words, False),
            ("ev_v", 8 if pixels else 1, n_words, False)]


class SpikingConv2DConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SpikingConv2D)

    def format(self, node):
        c, h, w = node.get_attr("in_shape")
        co, ho, wo = node.get_attr("out_shape")
        kh, kw = node.get_attr("weight_shape")[2:]
        s, p = int(node.get_attr("stride")), int(node.get_attr("padding"))
        has_skip = node.has_skip()
        lines = [
            f"    static const unsigned n_out = {co * ho * wo};",
            f"    static const unsigned n_chan = {c}, in_height = {h}, in_width = {w};",
            f"    static const unsigned n_filt = {co}, out_height = {ho}, out_width = {wo};",
            f"    static const unsigned filt_height = {kh}, filt_width = {kw};",
            f"    static const unsigned stride_height = {s}, stride_width = {s}, pad_top = {p}, pad_left = {p};",
            f"    static const unsigned n_rows = {int(node.get_attr('rows'))};",
            f"    static const bool has_skip = {'true' if has_skip else 'false'};",
            f"    static const unsigned ev_chan_bits = {_ubits(c - 1)}, ev_row_bits = {_ubits(h - 1)}, ev_col_bits = {_ubits(w - 1)};",
            f"    static const unsigned read_lanes = {node.read_lanes()}; // input positions scanned per cycle",
            f"    static const unsigned tap_lanes = {int(node.get_attr('tap_lanes'))}; // kernel taps per cycle (a row, or 1)",
            f"    static const unsigned tap_words = {tap_words(int(node.get_attr('tap_lanes')))}; // table words / offset banks per read window",
            f"    static const unsigned iters_per_event = {kh * (kw // int(node.get_attr('tap_lanes')))}; // pipelined iterations of one event",
            f"    static const bool back_to_back = {'true' if node.get_attr('back_to_back') else 'false'}; // a channel's events overlap in the pipeline",
            f"    static const unsigned b2b_distance = {_b2b_distance(node, kh, kw)}; // EvFlat: iterations between two events' hits of one word, at least",
        ]
        lines += _lane_lines(node, co, ho * wo)
        lanes, fire = int(node.get_attr("n_lanes")), int(node.get_attr("fire_lanes"))
        tw, R = tap_words(int(node.get_attr("tap_lanes"))), node.read_lanes()
        n_words = -(-(c * h * w) // R)
        iters = kh * (kw // int(node.get_attr("tap_lanes")))
        lines += [
            f"    static const unsigned ev_count_bits = {_ubits(c * h * w)}, ev_word_bits = {_ubits(n_words)}; // events / listed words of a frame",
            f"    static const unsigned chan_count_bits = {_ubits(h * w)}, chan_it_bits = {_ubits(h * w * iters)}; // events / iterations of a channel",
        ]
        lines += _counter_lines(co, lanes, (ho * wo) // fire, -(-co // lanes))
        lines += _trip_lines(node, {"trip_events": "ev_trip", "trip_chan": "chan_trip", "trip_row": "row_trip"})
        arrays = [
            ("ev_c", _ubits(c - 1), n_words, False), ("ev_y", _ubits(h - 1), n_words, False),
            ("ev_x", _ubits(w - 1), n_words, False), ("ev_m", R, n_words, False),
            ("ev_v", 8 if node.input_is_pixels() else 1, n_words, False), ("n_ev_c", _ubits(h * w), c + 1, False),
        ]
        arrays += _neuron_arrays(node, co, lanes, fire, ho * wo) + _rom_table_arrays(node, "", tw, lanes)
        arrays += _rom_table_arrays(node, "skip_", 1, lanes) if has_skip else [
            ("skip_" + n, wd, d, rom) for n, wd, d, rom in _rom_table_arrays(node, "", tw, lanes)]  # the main tables again
        lines += _mem_lines(node, arrays, skip_alias=not has_skip)
        lines += _forward_lines(node, kh, kw)
        lines += _table_lines(node)
        if has_skip:
            sc, sh, sw = node.get_attr("skip_shape")
            lines += [
                f"    static const unsigned skip_chan = {sc}, skip_height = {sh}, skip_width = {sw}, n_skip = {sc * sh * sw};",
                f"    static const unsigned skip_stride = {int(node.get_attr('skip_stride'))};",
                f"    static const unsigned skip_chunks = {len(node.get_weights('skip_groups').data)}, skip_table = {len(node.get_weights('skip_weights').data)};",
            ]
            lines += _table_lines(node, "skip_")
        else:  # unused, but the shared kernel names them
            lines += [
                f"    static const unsigned skip_chan = 1, skip_height = {ho}, skip_width = {wo}, n_skip = {ho * wo};",
                "    static const unsigned skip_stride = 1, skip_chunks = 1, skip_table = 1;",
                "    typedef index_t skip_index_t;",
                "    typedef group_t skip_group_t;",
                "    typedef weight_t skip_weight_t;",
            ]
        lines += _neuron_lines(node)
        lines += _stream_lines(node)
        return _struct(node, lines)


class SpikingDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SpikingDense)

    def format(self, node):
        co = node.get_attr("out_shape")[0]
        lines = [
            f"    static const unsigned n_out = {co}, n_filt = {co};",
            f"    static const unsigned ev_index_bits = {_ubits(int(node.get_attr('n_in')) - 1)};",
            f"    static const unsigned read_lanes = {node.read_lanes()}; // input positions scanned per cycle",
            "    static const bool events_have_values = true;",
        ]
        lines += _lane_lines(node, co, 1)
        lines += _dense_event_lines(node)
        lanes = int(node.get_attr("n_lanes"))
        lines += _counter_lines(co, lanes, 1, -(-co // lanes))
        arrays = _event_arrays(node) + _neuron_arrays(node, co, lanes, 1, 1) + _rom_table_arrays(node, "", 1, lanes)
        lines += _mem_lines(node, arrays)
        lines += _table_lines(node) + _neuron_lines(node)
        return _struct(node, lines)


class SpikeReadoutConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SpikeReadout)

    def format(self, node):
        k = int(node.get_attr("weight_shape")[0])
        lines = [
            f"    static const unsigned n_out = {k};",
            f"    static const unsigned ev_index_bits = {_ubits(int(node.get_attr('n_in')) - 1)};",
            f"    static const unsigned read_lanes = {node.read_lanes()}; // input positions scanned per cycle",
            "    static const bool events_have_values = false; // readout events are spikes",
            *_lane_lines(node, k, 1),
            f"    typedef spk::int_t<{int(node.get_attr('acc_bits'))}> accum_t;",
            f"    typedef {_wtype(node, 'bias')} bias_t;",
        ]
        lines += _dense_event_lines(node)
        lanes = int(node.get_attr("n_lanes"))
        lines += [f"    static const unsigned out_lane_bits = {_ubits(lanes)}, out_group_bits = {_ubits(-(-k // lanes))}; // Out counters"]
        arrays = _event_arrays(node) + [
            ("acc", int(node.get_attr("acc_bits")), -(-k // lanes), False),
            ("bias", _wbits(node, "bias"), -(-k // lanes), True),
        ] + _rom_table_arrays(node, "", 1, lanes)
        lines += _mem_lines(node, arrays)
        lines += _table_lines(node)
        return _struct(node, lines)


class SpikeMaxPool2DConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SpikeMaxPool2D)

    def format(self, node):
        c, h, w = node.get_attr("in_shape")
        _, ho, wo = node.get_attr("out_shape")
        k, s = int(node.get_attr("pool_size")), int(node.get_attr("stride"))
        lines = [
            f"    static const unsigned n_out = {c * ho * wo};",
            f"    static const unsigned n_chan = {c}, in_height = {h}, in_width = {w};",
            f"    static const unsigned out_height = {ho}, out_width = {wo};",
            f"    static const unsigned pool_height = {k}, pool_width = {k}, stride_height = {s}, stride_width = {s};",
            f"    static const unsigned out_lanes = {node.out_lanes()}; // pooled outputs per cycle (= output banks)",
        ]
        return _struct(node, lines)


def _table_args(node, prefix: str = "") -> str:
    return ", ".join(_wvar(node, prefix + n) for n in ("offsets", "groups", "weights"))


class SpikingConv2DFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SpikingConv2D, include_header=INCLUDES_DIRECT)

    def format(self, node):
        p = self._default_function_params(node)
        common = f"{_wvar(node, 'bias')}, {_wvar(node, 'thr')}, {_table_args(node)}"
        prefix = "direct" if node.input_is_pixels() else "spiking"
        if "sign" in node.weights:  # a stream layer (hls/geometry.py: z_current)
            return _stream_call(node, p, prefix)
        if node.has_skip():
            skip = node.get_input_variable(node.inputs[1])
            return (
                f"nnet::{prefix}_conv2d_skip<{p['input_t']}, {skip.type.name}, {p['output_t']}, {p['config']}>"
                f"({p['input']}, {skip.name}, {p['output']}, {common}, {_table_args(node, 'skip_')}{_train_args(node)});"
            )
        return f"nnet::{prefix}_conv2d<{p['input_t']}, {p['output_t']}, {p['config']}>({p['input']}, {p['output']}, {common}{_train_args(node)});"


def _stream_call(node, p: dict, prefix: str) -> str:
    """The call of a stream layer: ``<prefix>_stream_conv2d[_write]`` with every input named; an
    absent skip or residual input is the layer's own input (never read: has_skip / has_residual)."""
    x = p["input"]
    skip = node.get_input_variable(node.inputs[1]).name if node.has_skip() else x
    skip_t = node.get_input_variable(node.inputs[1]).type.name if node.has_skip() else p["input_t"]
    res = node.residual_input()
    z_in = node.get_input_variable(res).name if res else x
    z_in_t = node.get_input_variable(res).type.name if res else p["input_t"]
    skip_tables = _table_args(node, "skip_") if node.has_skip() else _table_args(node)
    common = f"{_wvar(node, 'bias')}, {_wvar(node, 'thr')}, {_wvar(node, 'sign')}, {_table_args(node)}, {skip_tables}"
    out = node.stream_output()
    if out is None:
        return (f"nnet::{prefix}_stream_conv2d<{p['input_t']}, {skip_t}, {z_in_t}, {p['output_t']}, {p['config']}>"
                f"({x}, {skip}, {z_in}, {p['output']}, {common});")
    z_out = node.get_output_variable(out)
    return (f"nnet::{prefix}_stream_conv2d_write<{p['input_t']}, {skip_t}, {z_in_t}, {p['output_t']}, {z_out.type.name}, {p['config']}>"
            f"({x}, {skip}, {z_in}, {p['output']}, {z_out.name}, {common});")


class SpikingDenseFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SpikingDense, include_header=INCLUDES_DIRECT)

    def format(self, node):
        p = self._default_function_params(node)
        fn = "direct_dense" if node.input_is_pixels() else "spiking_dense"
        return (
            f"nnet::{fn}<{p['input_t']}, {p['output_t']}, {p['config']}>({p['input']}, {p['output']}, "
            f"{_wvar(node, 'bias')}, {_wvar(node, 'thr')}, {_table_args(node)}{_train_args(node)});"
        )


class SpikeReadoutFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SpikeReadout, include_header=INCLUDES_SPIKING)

    def format(self, node):
        p = self._default_function_params(node)
        return (
            f"nnet::spike_readout<{p['input_t']}, {p['output_t']}, {p['config']}>({p['input']}, {p['output']}, "
            f"{_wvar(node, 'bias')}, {_table_args(node)});"
        )


class SpikeMaxPool2DFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SpikeMaxPool2D, include_header=INCLUDES_SPIKING)

    def format(self, node):
        p = self._default_function_params(node)
        return f"nnet::spike_maxpool2d<{p['input_t']}, {p['output_t']}, {p['config']}>({p['input']}, {p['output']});"


TEMPLATES = (
    SpikingConv2DConfigTemplate,
    SpikingDenseConfigTemplate,
    SpikeReadoutConfigTemplate,
    SpikeMaxPool2DConfigTemplate,
    SpikingConv2DFunctionTemplate,
    SpikingDenseFunctionTemplate,
    SpikeReadoutFunctionTemplate,
    SpikeMaxPool2DFunctionTemplate,
)
