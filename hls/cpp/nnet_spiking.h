// spikehls: spike-driven, accumulate-only layers for hls4ml (io_parallel).
//
// Every layer runs the whole time loop inside (input [T][...], output [T][...]) and keeps
// its membranes as local arrays, so one call is one inference. The integer semantics are
// those of quantize/intnet.py, bit for bit.
//
// Arithmetic on weights: in spiking_conv2d / spiking_dense / spike_readout the only use of a
// weight is `acc[...] += w` for an input that spiked. Zero / pruned weights are never added.
// The direct-encoded first layer (8-bit pixels) is the one multiply-accumulate layer
// (direct_conv2d / direct_dense in nnet_spiking_direct.h), reported as such; chunk_mac is
// its inner step, also used by a skip whose source is the direct-encoded input.
//
// Parallelism (DESIGN.md section 6, docs/hls.md): a layer has two lane counts, both derived
// from its `parallelism` knob P by spikehls.hls.layers and fixed at compile time:
//   * n_lanes  = min(P, channels): the scatter lanes. The weight table is stored in *chunks*
//     of n_lanes slots: slot j of a chunk of group g is the weight to output channel
//     g * n_lanes + j (0 = no weight: that lane adds nothing). Lane j therefore only ever
//     touches accumulator bank j -- different banks by construction, no crossbar, and the P
//     weights of a chunk are one wide word (the table is reshaped by n_lanes).
//   * fire_lanes = the most row-aligned positions <= P (a divisor of the output row, or whole
//     rows: spikehls.hls.lanes.row_lanes): fire / reset handle fire_lanes neighbouring positions
//     of one channel per cycle. Membranes and output spikes are banked by position
//     (pos % fire_lanes; output spikes by pos % 2 fire_lanes where a max pool reads them,
//     spikehls.hls.lanes.output_banks: fire_lanes consecutive positions are still distinct
//     banks), accumulators by (channel % n_lanes, pos % fire_lanes), so both passes hit
//     distinct banks by construction as well.
// Dependence claims (issue 13, R2). Every `DEPENDENCE` pragma below names its reason next to it:
//   * `inter false` only where every pair of iterations of one run of the loop touches different
//     accumulator words BY CONSTRUCTION (the chunks of one table row are distinct channel groups;
//     the taps of one input reach distinct output positions; a fire pass visits each neuron
//     once) -- an argument that assumes no distance and no memory latency, so it holds for any
//     binding and any schedule. The loop drains between two runs: its parent carries
//     `LOOP_FLATTEN off`, so Vitis cannot merge two events into one pipeline.
//   * back_to_back (spiking_conv2d_core, lanes.events_back_to_back) overlaps the events of one
//     input channel: consecutive events may hit the same word, but never closer than
//     CONFIG_T::b2b_distance iterations. That is stated as `inter true distance = ev_distance`
//     (b2b_distance, or more where the last writes are forwarded, below),
//     a constraint Vitis enforces (it raises the II rather than schedule a read before the write
//     it depends on), never as `inter false`, which would be silently wrong if the read-to-write
//     depth grew beyond the distance (a block RAM's synchronous read, a deeper schedule).
//     With LUTRAM / registers (an asynchronous read, add, write: lanes.SCATTER_DEPTH = 3 <=
//     b2b_distance) the claimed II = 1 is what Vitis can schedule; with block / ultra RAM (a read
//     one cycle late) the last writes are forwarded from registers (acc_forward, conv_taps<FWD>),
//     and the memory is asked to deliver only writes beyond the forwarded distances (ev_distance).
//   * Every other read-modify-write loop is argued on distinct words (`inter false` by
//     construction, no latency assumed), so it holds for a block / ultra RAM accumulator as is.
#ifndef NNET_SPIKING_H_
#define NNET_SPIKING_H_

#include "ap_fixed.h"
#include "nnet_spiking_common.h"

namespace nnet {

// ------------------------------------------------------------------------------------------
// helpers: one table chunk of one input event into the accumulator banks
// ------------------------------------------------------------------------------------------
// acc is [fire_lanes][acc_depth][n_lanes]: neuron (c, pos) lives in bank pos % fire_lanes, word
// (c / n_lanes) * plane_words + pos / fire_lanes, lane c % n_lanes of the word (the twin's packing:
// a word holds the n_lanes channel lanes of one position, nnet_spiking_common.h). A chunk of group
// g adds slot j to channel g * n_lanes + j: one word read, its L lanes added, the word written.

// Add chunk `e` (spikes) into one accumulator word acc (the L lanes of one position): the only
// arithmetic on a weight is acc += w. The word is read and written whole (as the twin's): a zero
// slot adds 0 to its lane, and is not counted as a synaptic op.
template <typename CONFIG_T, typename T_w>
SPK_INLINE unsigned chunk_add(unsigned e, const T_w weights[], typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    unsigned n = 0;
ChunkLanes:
    for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
        #pragma HLS UNROLL
        const T_w w = weights[e * CONFIG_T::n_lanes + j];
        acc[j] += w;
#ifdef __SYNTHESIS__
        n += w != 0;
#endif
    }
#ifndef __SYNTHESIS__
    // C-simulation: the same count (it only feeds the synop counter, SPK_STAT) in a loop of its own,
    // which g++ vectorizes; inside the lane loop it stayed scalar and took ~45 % of a ResNet-19 run
    n = spike_count_nonzero<CONFIG_T::n_lanes>(weights + e * CONFIG_T::n_lanes);
#endif
    return n;
}

// Multiply-accumulate twin of chunk_add, for 8-bit pixels (direct encoding) only: used by the
// direct-encoded first layer and by a skip taken from a direct-encoded input. Never on spikes.
template <typename CONFIG_T, typename T_w>
SPK_INLINE unsigned chunk_mac(unsigned e, ap_uint<8> pixel, const T_w weights[], typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    unsigned n = 0;
MacLanes:
    for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
        #pragma HLS UNROLL
        const T_w w = weights[e * CONFIG_T::n_lanes + j];
        acc[j] += w * pixel;
        n += w != 0;
    }
    return n;
}

// One chunk hit by one input value: a spike adds (chunk_add), an 8-bit pixel multiplies
// (chunk_mac). Chosen by overload on the element type, so a spike can never reach the multiplier.
template <typename CONFIG_T, typename T_w>
SPK_INLINE unsigned chunk_event(spike_t s, unsigned e, const T_w weights[], typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    (void)s; // callers only pass active inputs (is_active)
    return chunk_add<CONFIG_T>(e, weights, acc);
}

template <typename CONFIG_T, typename T_w>
SPK_INLINE unsigned chunk_event(ap_ufixed<8, 0> px, unsigned e, const T_w weights[], typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const ap_uint<8> pixel = px.range(7, 0);
    return chunk_mac<CONFIG_T>(e, pixel, weights, acc);
}

// Chunk `e` of a row reaching plane word `word` of bank `bank`: its group's accumulator word.
template <typename CONFIG_T, typename data_T, typename T_grp, typename T_w>
SPK_INLINE unsigned chunk_hit(data_T x, unsigned e, unsigned bank, unsigned word, const T_grp groups[], const T_w weights[],
                              typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const unsigned g = groups[e]; // index arithmetic in plain unsigned (ap_uint * unsigned is 72-bit in csim)
    const unsigned addr = g * CONFIG_T::plane_words + word;
    return chunk_event<CONFIG_T>(x, e, weights, acc[bank][addr]);
}

// Bank and word of output position (oy, ox) -- pos % fire_lanes, pos / fire_lanes with pos = oy *
// out_width + ox -- without a divider on pos (R3): fire_lanes is row-aligned
// (spikehls.hls.lanes.row_lanes), either a divisor of the row (bank = ox % F, word = oy * (W / F)
// + ox / F) or k whole rows (bank = (oy % k) * W + ox, word = oy / k). What is left divides a
// bits(W)- or bits(H)-bit column / row by a constant (a shift where it is a power of two, else a
// few LUTs on a 3-6 bit operand); the running counters of skip_current avoid even that.
template <typename CONFIG_T> SPK_INLINE void pos_bank_word(unsigned oy, unsigned ox, unsigned &bank, unsigned &word) {
    #pragma HLS INLINE
    const unsigned F = CONFIG_T::fire_lanes, W = CONFIG_T::out_width;
    if (F % W == 0) {
        const unsigned k = F / W;
        bank = (k == 1 ? 0u : oy % k) * W + ox;
        word = k == 1 ? oy : oy / k;
    } else {
        bank = F == 1 ? 0u : ox % F;
        word = oy * (W / F) + (F == 1 ? ox : ox / F);
    }
}

// Every chunk of table row `row` for one input value reaching accumulator (bank, word) of each lane.
template <typename CONFIG_T, typename data_T, typename T_idx, typename T_grp, typename T_w>
SPK_INLINE unsigned input_event(data_T x, unsigned row, unsigned bank, unsigned word, const T_idx offsets[],
                                const T_grp groups[], const T_w weights[],
                                typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const unsigned begin = offsets[row], end = offsets[row + 1];
    unsigned n = 0;
RowChunks:
    for (unsigned e = begin; e < end; e++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = 0 max = CONFIG_T::row_trip_max avg = CONFIG_T::row_trip_avg
        // II=1 justified: lane j reads and writes bank row j only (distinct banks by construction),
        // one chunk word of `weights` and one `groups` entry per cycle (<= 2 ROM ports).
        // DEPENDENCE inter false justified: the chunks of one row are distinct channel groups
        // (groups[e] strictly increasing within a row: chunk_table, hls/layers.py), so every pair of
        // iterations of this run writes a different word (groups[e] * plane_words + word) of
        // bank (j, bank): no distance or latency assumed. Runs never overlap: every caller's
        // loop carries LOOP_FLATTEN off (and is not pipelined), so this loop drains between events.
        #pragma HLS DEPENDENCE variable = acc inter false
        n += chunk_hit<CONFIG_T>(x, e, bank, word, groups, weights, acc);
    }
    return n;
}

SPK_INLINE bool is_active(spike_t s) { return s != 0; }
SPK_INLINE bool is_active(ap_ufixed<8, 0> px) {
    const ap_uint<8> bits = px.range(7, 0);
    return bits != 0;
}

// ------------------------------------------------------------------------------------------
// word-wide input scan
// ------------------------------------------------------------------------------------------
// A producer that writes R neighbouring positions per cycle owns R banks (pos % R; the project
// partitions its output cyclic by R), so its consumer reads R consecutive positions in one
// cycle (R = CONFIG_T::read_lanes, row-aligned; 1 for the pixel input). The scan lists every
// R-position word holding an active input as (where it starts, mask); the event loop then takes
// one event per iteration from the listed words with a priority encoder on the mask. Silent
// words cost one scan cycle, silent positions nothing.

// Index of the lowest set bit of a nonzero mask (a priority encoder).
template <unsigned R> SPK_INLINE unsigned lowest_set(spk::uint_t<R> m) {
    #pragma HLS INLINE
    unsigned f = 0;
LowestSet:
    for (int i = R - 1; i >= 0; i--) {
        #pragma HLS UNROLL
        if (m[i])
            f = i;
    }
    return f;
}

template <unsigned R> SPK_INLINE unsigned popcount(spk::uint_t<R> m) {
    #pragma HLS INLINE
    unsigned n = 0;
PopCount:
    for (unsigned i = 0; i < R; i++) {
        #pragma HLS UNROLL
        n += m[i];
    }
    return n;
}

// Mask of the active inputs among data[base + first .. base + first + R) (positions >= n: none).
template <unsigned R, class data_T> SPK_INLINE spk::uint_t<R> active_word(const data_T data[], unsigned base, unsigned first, unsigned n) {
    #pragma HLS INLINE
    spk::uint_t<R> m = 0;
WordLanes:
    for (unsigned f = 0; f < R; f++) {
        #pragma HLS UNROLL
        if (first + f < n && is_active(data[base + first + f]))
            m[f] = 1;
    }
    return m;
}

// Walks the events of the listed words: next() returns the offset of the next active position in
// its word and sets `word` to the word's list index; one call per event, no per-word cycle.
// R4: the next word's mask is prefetched (nxt, loaded one word ahead), so the loop-carried path of
// the II=1 event loops is register -> priority encoder -> clear -> mux(rest, nxt) -> register: no
// memory read on it. The load of masks[wi + 2] only feeds nxt, whose next use is a word later.
// WB: bits of the list index (bits(N_WORDS), R6).
template <unsigned R, unsigned WB = 32> struct word_events {
    spk::uint_t<WB> wi;
    spk::uint_t<R> m, nxt;
    SPK_INLINE word_events(const spk::uint_t<R> masks[], unsigned n_words)
        : wi(0), m(n_words ? masks[0] : spk::uint_t<R>(0)), nxt(n_words > 1 ? masks[1] : spk::uint_t<R>(0)) {}
    SPK_INLINE unsigned next(const spk::uint_t<R> masks[], unsigned n_words, unsigned &word) {
        #pragma HLS INLINE
        const unsigned f = lowest_set<R>(m);
        spk::uint_t<R> rest = m;
        rest[f] = 0;
        word = wi;
        if (rest == 0) { // this word is done: the prefetched one is next
            m = nxt;
            wi++;
            nxt = (unsigned(wi) + 1 < n_words) ? masks[unsigned(wi) + 1] : spk::uint_t<R>(0);
        } else {
            m = rest;
        }
        return f;
    }
};

// Scan of one frame of a dense layer / the readout: list (word index, mask, first active value)
// of every word with an active input; returns the number of events (active inputs).
template <unsigned R, typename CONFIG_T, class data_T, class T_ev>
SPK_INLINE unsigned scan_words(const data_T data[], unsigned base, unsigned n, T_ev ev_w[], spk::uint_t<R> ev_m[], data_T ev_v[],
                               unsigned &n_words) {
    #pragma HLS INLINE
    spk::uint_t<CONFIG_T::ev_word_bits> n_w = 0; // R6: bits(N_WORDS), bits(n_in)
    spk::uint_t<CONFIG_T::ev_count_bits> n_ev = 0;
Scan:
    for (unsigned wd = 0; wd < (n + R - 1) / R; wd++) {
        #pragma HLS PIPELINE II = 1
        // II=1: the R reads of data are R banks (the producer's cyclic partition); one write to
        // each list; n_w / n_ev are register counters (one-cycle recurrences)
        const spk::uint_t<R> m = active_word<R>(data, base, wd * R, n);
        if (m != 0) {
            ev_w[n_w] = wd;
            ev_m[n_w] = m;
            // the value matters for pixels only, and pixels are scanned one per word (R = 1): the
            // word's own read; R > 1 only for spikes, where an active input is 1 (no second read, R5)
            ev_v[n_w] = R == 1 ? data_T(data[base + wd * R]) : data_T(1);
            n_w++;
            n_ev += popcount<R>(m);
        }
    }
    n_words = n_w;
    return n_ev;
}

// Skip (residual) current of a spiking conv: the earlier layer's output sampled with
// skip_stride, through a 1x1 table (identity skips are the diagonal table of their gains).
template <class skip_T, typename CONFIG_T>
inline void skip_current(const skip_T skip[], unsigned t, const typename CONFIG_T::skip_index_t skip_offsets[],
                         const typename CONFIG_T::skip_group_t skip_groups[],
                         const typename CONFIG_T::skip_weight_t skip_weights[],
                         typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const unsigned S_HW = CONFIG_T::skip_height * CONFIG_T::skip_width;
    const unsigned base_t = t * CONFIG_T::skip_chan * S_HW;
SkipChan:
    for (unsigned cs = 0; cs < CONFIG_T::skip_chan; cs++) {
        unsigned bank = 0, word = 0; // pos % fire_lanes, pos / fire_lanes of pos = oy * out_width + ox (R3: counters)
    SkipY:
        for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++) {
        SkipX:
            for (unsigned ox = 0; ox < CONFIG_T::out_width; ox++) {
                #pragma HLS LOOP_FLATTEN off
                // not flattened: each event's RowChunks run drains before the next (its inter false)
                const unsigned sy = oy * CONFIG_T::skip_stride, sx = ox * CONFIG_T::skip_stride;
                const skip_T x = skip[base_t + cs * S_HW + sy * CONFIG_T::skip_width + sx];
                if (is_active(x)) {
                    SPK_STAT(CONFIG_T, in_events, 1);
                    unsigned n = input_event<CONFIG_T>(x, cs, bank, word, skip_offsets, skip_groups, skip_weights, acc);
                    SPK_STAT(CONFIG_T, synops, n);
                }
                if (++bank == CONFIG_T::fire_lanes) {
                    bank = 0;
                    word++;
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// residual streams (hls/geometry.py: a stream layer; quantize/intnet.py: residual, current_sign)
// ------------------------------------------------------------------------------------------
// A stream layer's accumulators hold its stream z = sum W x (+ skip) (+ z_t of its residual
// source, their value at the start of every step); its fire pass integrates the current
// bias + sign * z and, where a later layer reads the stream, stores z in its stream buffer
// [T][C][H][W]. A stream layer's config carries the members below with z_current = true; every
// other layer runs with no_stream, and then the current is the accumulator (bias included), as
// it always was.
template <typename CONFIG_T> struct no_stream {
    static const bool z_current = false, has_residual = false, writes_stream = false;
    typedef typename CONFIG_T::accum_t cur_t; // the neuron's current
    typedef typename CONFIG_T::accum_t zb_t;  // bias and z, one bit wider than both (bias + z exact)
    typedef ap_int<2> sign_t;                 // current_sign in {-1, 0, +1}
};

// The neuron's current from the accumulator: z itself (no stream: acc = bias + sum), or bias +
// sign * z -- the sign selects an add, a subtract or neither: accumulate-only, no multiplier.
template <typename CONFIG_T, typename STREAM_T>
SPK_INLINE typename STREAM_T::cur_t neuron_current(typename CONFIG_T::bias_t b, typename STREAM_T::sign_t sg,
                                                   typename CONFIG_T::accum_t z) {
    #pragma HLS INLINE
    typedef typename STREAM_T::cur_t cur_t;
    if (!STREAM_T::z_current)
        return cur_t(z);
    const typename STREAM_T::zb_t bz = b, zz = z;
    return sg == 0 ? cur_t(bz) : (sg > 0 ? cur_t(bz + zz) : cur_t(bz - zz));
}

// Lane j of accumulator word (f, word) set to x, the word's other lanes rewritten as they are: one
// read and one write of the whole L-lane word (the twin's write-back of one lane, fire_d).
template <typename CONFIG_T>
SPK_INLINE void set_lane(typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes], unsigned f,
                         unsigned word, unsigned j, typename CONFIG_T::accum_t x) {
    #pragma HLS INLINE
SetLane:
    for (unsigned l = 0; l < CONFIG_T::n_lanes; l++) {
        #pragma HLS UNROLL
        const typename CONFIG_T::accum_t old = acc[f][word][l];
        acc[f][word][l] = l == j ? x : old;
    }
}

// Accumulators = bias (n_lanes x fire_lanes words per cycle): a flat pipelined loop with running
// counters (no divider, one pipeline fill). Membranes need no pass: the first fire pass (t = 0)
// starts every neuron from 0 instead of reading v. A stream layer's accumulators start at 0.
template <typename CONFIG_T, typename STREAM_T = no_stream<CONFIG_T> >
SPK_INLINE void init_state(const typename CONFIG_T::bias_t bias[],
                           typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    unsigned g = 0, a = 0;
InitAcc:
    for (unsigned word = 0; word < CONFIG_T::acc_depth; word++) {
        #pragma HLS PIPELINE II = 1
    InitAccLane:
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
            #pragma HLS UNROLL
            const unsigned c = g * CONFIG_T::n_lanes + j;
            const typename CONFIG_T::accum_t b =
                c < CONFIG_T::n_filt && !STREAM_T::z_current ? typename CONFIG_T::accum_t(bias[c]) : typename CONFIG_T::accum_t(0);
        InitAccBank:
            for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
                #pragma HLS UNROLL
                acc[f][word][j] = b;
            }
        }
        if (++a == CONFIG_T::plane_words) {
            a = 0;
            g++;
        }
    }
}

// The running counters of a fire pass over channels x plane words (no divider): a = word in
// the plane, c = channel, j = c % n_lanes (the accumulator bank row), acc_word = (c / n_lanes)
// * plane_words + a, out_base = c * out_hw.
template <typename CONFIG_T, typename T_a, typename T_c, typename T_j, typename T_w>
SPK_INLINE void next_fire_word(T_a &a, T_c &c, T_j &j, T_w &acc_word, unsigned &out_base) {
    #pragma HLS INLINE
    acc_word++;
    if (++a == CONFIG_T::plane_words) {
        a = 0;
        c++;
        out_base += CONFIG_T::out_hw;
        if (++j == CONFIG_T::n_lanes) {
            j = 0; // next group: acc_word runs on
        } else {
            acc_word -= CONFIG_T::plane_words; // same group, next lane: same words
        }
    }
}

// A residual reader's accumulators start every sample at z_0 of its source: one pass over
// channels x plane words, fire_lanes neighbouring positions of one channel per cycle -- the order
// (and the F-position words of the stream buffer) of the fire pass, which loads z_{t+1} the same way.
template <typename CONFIG_T, class zin_T>
SPK_INLINE void init_residual(const zin_T res_z[],
                              typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    unsigned out_base = 0;
    spk::uint_t<CONFIG_T::fire_word_bits> a = 0;
    spk::uint_t<CONFIG_T::fire_chan_bits> c = 0;
    spk::uint_t<CONFIG_T::fire_lane_bits> j = 0;
    spk::uint_t<CONFIG_T::acc_word_bits> acc_word = 0;
InitResidual:
    for (unsigned v_word = 0; v_word < CONFIG_T::v_depth; v_word++) {
        #pragma HLS PIPELINE II = 1
        // II=1: one write per bank (j, f), F reads from F distinct banks of the stream buffer (z_banks
        // is a multiple of F). DEPENDENCE inter false justified: the pass writes each accumulator
        // word once ((j, acc_word) is one-to-one in v_word, as in fire_all) and reads none: distinct
        // words by construction, no distance or latency assumed.
        #pragma HLS DEPENDENCE variable = acc inter false
    InitResidualBank:
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
            #pragma HLS UNROLL
            set_lane<CONFIG_T>(acc, f, acc_word, j, res_z[out_base + a * CONFIG_T::fire_lanes + f]);
        }
        next_fire_word<CONFIG_T>(a, c, j, acc_word, out_base);
    }
}

// Fire every neuron of one time step (fire_lanes neighbouring positions of one channel per
// cycle, one flat pipelined pass over channels x plane words), write the spikes, and -- unless
// the current is kept for every step (direct encoding) -- reset the accumulators to the bias
// for the next step in the same pass (no separate init pass per step). A stream layer stores z
// in its stream buffer (a writer), integrates bias + sign * z and resets to z_{t+1} of its
// residual source (or 0).
template <class res_T, typename CONFIG_T, typename STREAM_T = no_stream<CONFIG_T>, class zin_T = typename CONFIG_T::accum_t,
          class zout_T = typename CONFIG_T::accum_t>
SPK_INLINE void fire_all(unsigned t, typename CONFIG_T::v_t v[CONFIG_T::v_depth][CONFIG_T::fire_lanes],
                         typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                         const typename CONFIG_T::bias_t bias[], const typename CONFIG_T::thr_t thr[], res_T res[],
                         const zin_T *res_z = 0, zout_T *out_z = 0, const typename STREAM_T::sign_t *sign = 0) {
    #pragma HLS INLINE
    unsigned spikes = 0, out_base = t * CONFIG_T::n_out;
    spk::uint_t<CONFIG_T::fire_word_bits> a = 0; // R6: the running counters in bits(trip) (templates.py, fire_*_bits)
    spk::uint_t<CONFIG_T::fire_chan_bits> c = 0;
    spk::uint_t<CONFIG_T::fire_lane_bits> j = 0;
    spk::uint_t<CONFIG_T::acc_word_bits> acc_word = 0;
FireWord:
    for (unsigned v_word = 0; v_word < CONFIG_T::v_depth; v_word++) {
        #pragma HLS PIPELINE II = 1
        // v_word = c * plane_words + a; acc_word = (c / n_lanes) * plane_words + a; j = c % n_lanes
        // II=1: bank f of v and bank (j, f) of acc see one read and one write per cycle (ram_2p),
        // thr / bias one read. DEPENDENCE inter false justified: each iteration reads and writes
        // only neuron (c, a) -- v word v_word, acc word acc_word of bank row j -- and (j, acc_word)
        // is a one-to-one function of v_word, so no two iterations of the pass touch the same word:
        // distinct words by construction, no distance or latency assumed (j is a run-time bank
        // index, which Vitis cannot see through alone).
        #pragma HLS DEPENDENCE variable = acc inter false
        const typename CONFIG_T::thr_t th = thr[c];
        const typename CONFIG_T::bias_t b = bias[c];
        const typename STREAM_T::sign_t sg = STREAM_T::z_current ? sign[c] : typename STREAM_T::sign_t(1);
    FireBank:
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
            #pragma HLS UNROLL
            if (t == 0)
                v[v_word][f] = 0; // a new sample: every membrane starts at rest (no separate pass)
            const unsigned pos = out_base + a * CONFIG_T::fire_lanes + f; // [t][c][pos] of res (and of the streams)
            const typename CONFIG_T::accum_t z = acc[f][acc_word][j];
            if (STREAM_T::writes_stream)
                out_z[pos] = z; // the stream buffer: z_banks banks, a multiple of fire_lanes
            spike_t s = neuron_step<CONFIG_T>(v[v_word][f], neuron_current<CONFIG_T, STREAM_T>(b, sg, z), th);
            if (!CONFIG_T::current_once) {
                typename CONFIG_T::accum_t r = 0; // lane j's reset; the word's other lanes are rewritten as read
                if (!STREAM_T::z_current)
                    r = b;
                else if (STREAM_T::has_residual && t + 1 < CONFIG_T::n_time)
                    r = res_z[pos + CONFIG_T::n_out]; // z_{t+1} of the residual source
                set_lane<CONFIG_T>(acc, f, acc_word, j, r);
            }
            res[pos] = s; // bank f (or f + fire_lanes): out_hw is a multiple of the banks
            spikes += s;
        }
        next_fire_word<CONFIG_T>(a, c, j, acc_word, out_base);
    }
    SPK_STAT(CONFIG_T, out_spikes, spikes);
}

// Output position (oy, ox) that input pixel (iy, ix) reaches through kernel tap (ky, kx), if any.
template <typename CONFIG_T> SPK_INLINE bool conv_target(int iy, int ix, int ky, int kx, unsigned &oy, unsigned &ox) {
    #pragma HLS INLINE
    const int ny = iy + CONFIG_T::pad_top - ky, nx = ix + CONFIG_T::pad_left - kx;
    if (ny < 0 || nx < 0 || ny % CONFIG_T::stride_height || nx % CONFIG_T::stride_width)
        return false;
    oy = ny / CONFIG_T::stride_height;
    ox = nx / CONFIG_T::stride_width;
    return oy < CONFIG_T::out_height && ox < CONFIG_T::out_width;
}

// The next event of a dense layer / the readout from the listed words: its table row (word * R +
// offset) and value (the word's value for pixels, R = 1; else a spike); counts it.
template <typename CONFIG_T, typename T_ev, typename data_T>
SPK_INLINE unsigned next_dense_event(word_events<CONFIG_T::read_lanes, CONFIG_T::ev_word_bits> &walk, unsigned n_words, const T_ev ev_w[],
                                     const spk::uint_t<CONFIG_T::read_lanes> ev_m[], const data_T ev_v[], data_T &x) {
    #pragma HLS INLINE
    unsigned wi;
    const unsigned f = walk.next(ev_m, n_words, wi);
    x = CONFIG_T::events_have_values ? ev_v[wi] : data_T(1);
    SPK_STAT(CONFIG_T, in_events, 1);
    return unsigned(ev_w[wi]) * CONFIG_T::read_lanes + f;
}

// The events of one frame of a dense layer / the readout, from the listed words of scan_words
// (event index = word * R + offset). With one channel group every row has at most one chunk and
// each lane's accumulator is a single word -- a register -- so the event loop itself pipelines at
// II=1 (a register add is a one-cycle recurrence). Otherwise each event runs its row's chunks
// (input_event). Event values: the word's value (pixels, R = 1) or a spike.
template <typename CONFIG_T, typename T_ev, typename data_T, typename T_idx, typename T_grp, typename T_w>
SPK_INLINE void dense_events(unsigned n_ev, unsigned n_words, const T_ev ev_w[], const spk::uint_t<CONFIG_T::read_lanes> ev_m[],
                             const data_T ev_v[], const T_idx offsets[], const T_grp groups[], const T_w weights[],
                             typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const unsigned R = CONFIG_T::read_lanes;
    word_events<R, CONFIG_T::ev_word_bits> walk(ev_m, n_words);
    const spk::uint_t<CONFIG_T::ev_count_bits> n_e = n_ev; // R6: bits(n_in)
    if (CONFIG_T::n_groups == 1) {
    EventsOneGroup:
        for (spk::uint_t<CONFIG_T::ev_count_bits> e = 0; e < n_e; e++) {
            #pragma HLS PIPELINE II = 1
            #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::ev_trip_min max = CONFIG_T::ev_trip_max avg = CONFIG_T::ev_trip_avg
            // II=1 justified without a DEPENDENCE pragma: one group means acc_depth = 1, so each
            // lane's accumulator is one word -- registers by the rule (acc_mem: at most 2 words) --
            // and acc += w is a one-cycle register recurrence; the mask walk is prefetched (R4);
            // the row's offsets are two reads of a rom_2p, its one chunk one word of weights.
            data_T x;
            const unsigned row = next_dense_event<CONFIG_T>(walk, n_words, ev_w, ev_m, ev_v, x);
            if (offsets[row] != offsets[row + 1]) {
                unsigned n = chunk_hit<CONFIG_T>(x, offsets[row], 0, 0, groups, weights, acc);
                SPK_STAT(CONFIG_T, synops, n);
            }
        }
    } else {
    Events:
        for (spk::uint_t<CONFIG_T::ev_count_bits> e = 0; e < n_e; e++) {
            #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::ev_trip_min max = CONFIG_T::ev_trip_max avg = CONFIG_T::ev_trip_avg
            #pragma HLS LOOP_FLATTEN off
            // not pipelined, not flattened: each event's RowChunks run drains before the next
            data_T x;
            const unsigned row = next_dense_event<CONFIG_T>(walk, n_words, ev_w, ev_m, ev_v, x);
            unsigned n = input_event<CONFIG_T>(x, row, 0, 0, offsets, groups, weights, acc);
            SPK_STAT(CONFIG_T, synops, n);
        }
    }
}

// Write-to-read forwarding of block / ultra RAM accumulators (CONFIG_T::acc_forward; the standard
// HLS histogram idiom, and the twin's acc_fw / acc_fd): such a RAM reads one cycle after the
// address (bind_lanes: latency = 1), so in a pipelined loop the read of iteration i may be issued
// before the writes of iterations i - 1 .. i - acc_fwd_depth have landed (acc_fwd_depth =
// lanes.SCATTER_DEPTH = 3: the read latency, the add, the write). Each bank keeps the words written
// by those iterations in registers (fw_addr / fw_ok / fw_word [bank][distance - 1]), and a read whose
// address matches takes the most recent of them instead of the memory's word.
template <typename CONFIG_T> struct acc_fwd {
    typedef spk::uint_t<CONFIG_T::acc_word_bits> addr_t;
    typedef typename CONFIG_T::accum_t word_t[CONFIG_T::n_lanes];
};

// The word of bank `bank` at `addr` as the loop's program order sees it: the memory's, or the most
// recent forwarded write to that address.
template <typename CONFIG_T>
SPK_INLINE void fwd_read(const typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                         const typename acc_fwd<CONFIG_T>::addr_t fw_addr[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                         const bool fw_ok[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                         const typename CONFIG_T::accum_t fw_word[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth][CONFIG_T::n_lanes],
                         unsigned bank, unsigned addr, typename CONFIG_T::accum_t cur[CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
FwdMem:
    for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
        #pragma HLS UNROLL
        cur[j] = acc[bank][addr][j];
    }
FwdHit:
    for (int d = CONFIG_T::acc_fwd_depth - 1; d >= 0; d--) { // the oldest first: the most recent hit wins
        #pragma HLS UNROLL
        if (fw_ok[bank][d] && fw_addr[bank][d] == addr) {
        FwdLane:
            for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
                #pragma HLS UNROLL
                cur[j] = fw_word[bank][d][j];
            }
        }
    }
}

// C-simulation models the memory's side of the bargain at its worst: a write lands in acc only
// when it leaves the forwarding window (acc_fwd_depth iterations later; fwd_land), so every read
// within the window is served by the forwarding registers or not at all -- a missing or wrong
// forward is a spike mismatch, not a silent pass. Synthesis writes at once (the RAM's own write).
template <typename CONFIG_T>
SPK_INLINE void fwd_land(typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                         const typename acc_fwd<CONFIG_T>::addr_t fw_addr[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                         const bool fw_ok[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                         const typename CONFIG_T::accum_t fw_word[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth][CONFIG_T::n_lanes],
                         unsigned from) {
#ifndef __SYNTHESIS__
    for (int d = CONFIG_T::acc_fwd_depth - 1; d >= int(from); d--) // the oldest first
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++)
            if (fw_ok[f][d])
                for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
                    acc[f][unsigned(fw_addr[f][d])][j] = fw_word[f][d][j];
#endif
}

// One iteration on: every bank's history moves one distance back, and this iteration's writes
// (wrote / waddr / wword per bank) become distance 1.
template <typename CONFIG_T>
SPK_INLINE void fwd_shift(typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                          typename acc_fwd<CONFIG_T>::addr_t fw_addr[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                          bool fw_ok[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                          typename CONFIG_T::accum_t fw_word[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth][CONFIG_T::n_lanes],
                          const bool wrote[CONFIG_T::fire_lanes], const unsigned waddr[CONFIG_T::fire_lanes],
                          const typename CONFIG_T::accum_t wword[CONFIG_T::fire_lanes][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    fwd_land<CONFIG_T>(acc, fw_addr, fw_ok, fw_word, CONFIG_T::acc_fwd_depth - 1); // C-simulation: the oldest write lands
FwdBank:
    for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
        #pragma HLS UNROLL
    FwdAge:
        for (unsigned d = CONFIG_T::acc_fwd_depth - 1; d > 0; d--) {
            #pragma HLS UNROLL
            fw_ok[f][d] = fw_ok[f][d - 1];
            fw_addr[f][d] = fw_addr[f][d - 1];
            for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
                fw_word[f][d][j] = fw_word[f][d - 1][j];
        }
        fw_ok[f][0] = wrote[f];
        fw_addr[f][0] = waddr[f];
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
            fw_word[f][0][j] = wword[f][j];
    }
}

// One iteration of a conv event with one channel group (at most one chunk per table row): the
// tap_lanes taps (ky, kx0 .. kx0 + tap_lanes - 1) of input (ci, iy, ix). With tap_lanes = kw the
// taps of a kernel row reach neighbouring outputs of one output row, distinct banks (pos %
// fire_lanes, fire_lanes >= kw), and their chunks are a window of consecutive table words.
// Ports: the window's tap_lanes + 1 offsets and tap_lanes chunks come from tap_words banks of
// offsets / groups and tap_words-chunk words of weights (reshaped in spiking_conv2d_core).
// Open (issue 13 R1): which tap reaches which bank (ox % fire_lanes) is known at run time only,
// so each bank has a tap_lanes-way address / data mux, and Vitis may not prove the tap_lanes
// writes hit distinct banks: the II it schedules for tap_lanes > 1 may be tap_lanes, not 1.
// FWD (back-to-back events on a block / ultra RAM accumulator, acc_forward): every read goes
// through the forwarding registers, and the iteration's writes enter them (fwd_read / fwd_shift).
template <typename CONFIG_T, bool FWD, typename data_T, typename T_idx, typename T_grp, typename T_w>
SPK_INLINE void conv_taps(data_T x, unsigned ci, unsigned iy, unsigned ix, unsigned ky, unsigned kx0, const T_idx offsets[],
                          const T_grp groups[], const T_w weights[],
                          typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                          typename acc_fwd<CONFIG_T>::addr_t fw_addr[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                          bool fw_ok[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth],
                          typename CONFIG_T::accum_t fw_word[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth][CONFIG_T::n_lanes]) {
    #pragma HLS INLINE
    const unsigned row0 = (ci * CONFIG_T::filt_height + ky) * CONFIG_T::filt_width + kx0;
    bool wrote[CONFIG_T::fire_lanes]; // FWD: this iteration's write of each bank
    unsigned waddr[CONFIG_T::fire_lanes];
    typename CONFIG_T::accum_t wword[CONFIG_T::fire_lanes][CONFIG_T::n_lanes];
    #pragma HLS ARRAY_PARTITION variable = wrote complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = waddr complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = wword complete dim = 0
NoWrite:
    for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
        #pragma HLS UNROLL
        wrote[f] = false;
        waddr[f] = 0;
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
            wword[f][j] = 0;
    }
TapLanes:
    for (unsigned k = 0; k < CONFIG_T::tap_lanes; k++) {
        #pragma HLS UNROLL
        unsigned oy, ox;
        if (!conv_target<CONFIG_T>(iy, ix, ky, kx0 + k, oy, ox))
            continue;
        if (offsets[row0 + k] == offsets[row0 + k + 1])
            continue;
        unsigned bank, word; // R3: from (oy, ox), no divider on pos (pos_bank_word)
        pos_bank_word<CONFIG_T>(oy, ox, bank, word);
        unsigned n = 0;
        if (FWD) {
            const unsigned e = offsets[row0 + k];
            const unsigned g = groups[e];
            const unsigned addr = g * CONFIG_T::plane_words + word;
            typename CONFIG_T::accum_t cur[CONFIG_T::n_lanes];
            fwd_read<CONFIG_T>(acc, fw_addr, fw_ok, fw_word, bank, addr, cur);
            n = chunk_event<CONFIG_T>(x, e, weights, cur);
        FwdWrite:
            for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
                #pragma HLS UNROLL
#ifdef __SYNTHESIS__
                acc[bank][addr][j] = cur[j]; // C-simulation: lands acc_fwd_depth iterations later (fwd_land)
#endif
                wword[bank][j] = cur[j];
            }
            wrote[bank] = true;
            waddr[bank] = addr;
        } else {
            n = chunk_hit<CONFIG_T>(x, offsets[row0 + k], bank, word, groups, weights, acc);
        }
        SPK_STAT(CONFIG_T, synops, n);
    }
    if (FWD)
        fwd_shift<CONFIG_T>(acc, fw_addr, fw_ok, fw_word, wrote, waddr, wword);
}

// Moves input position (ci, iy, ix) f <= in_width columns on in raster order (wrapping at most one
// row, and a channel at its last row): a listed word's start + an event's offset, or the next word.
template <typename CONFIG_T, typename T_c, typename T_y, typename T_x>
SPK_INLINE void advance_position(unsigned f, T_c &ci, T_y &iy, T_x &ix) {
    #pragma HLS INLINE
    ix += f;
    if (ix >= CONFIG_T::in_width) {
        ix -= CONFIG_T::in_width;
        if (++iy == CONFIG_T::in_height) {
            iy = 0;
            ci++;
        }
    }
}

// Direct encoding fires once (CONFIG_T::fire_once): the current is the same at every step and
// every membrane starts at 0, so a neuron's T spikes are a function of (channel, current) alone
// (spikehls.hls.spike_trains). One pass, fire_lanes positions of one channel per cycle: the
// current's piece among the channel's sorted boundaries selects its T-bit train. No membrane,
// no second pass. T writes per bank and cycle: two ports take ceil(T / 2) cycles per word.
template <class res_T, typename CONFIG_T>
SPK_INLINE void fire_trains(typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                            const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[], res_T res[]) {
    #pragma HLS INLINE
    unsigned spikes = 0, out_base = 0;
    spk::uint_t<CONFIG_T::fire_word_bits> a = 0; // R6: bits(trip)
    spk::uint_t<CONFIG_T::fire_chan_bits> c = 0;
    spk::uint_t<CONFIG_T::fire_lane_bits> j = 0;
    spk::uint_t<CONFIG_T::acc_word_bits> acc_word = 0;
FireTrain:
    for (unsigned v_word = 0; v_word < CONFIG_T::v_depth; v_word++) {
        #pragma HLS PIPELINE II = 1
    FireTrainBank:
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::accum_t cur = acc[f][acc_word][j];
            unsigned k = 0;
        Piece:
            for (unsigned b = 0; b < CONFIG_T::n_breaks; b++) {
                #pragma HLS UNROLL
                k += (cur >= breaks[c * CONFIG_T::n_breaks + b]) ? 1 : 0; // sorted: k = the piece
            }
            const typename CONFIG_T::train_t tr = trains[c * (CONFIG_T::n_breaks + 1) + k];
        Step:
            for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
                #pragma HLS UNROLL
                const spike_t s = tr[t];
                res[t * CONFIG_T::n_out + out_base + a * CONFIG_T::fire_lanes + f] = s;
                spikes += s;
            }
        }
        next_fire_word<CONFIG_T>(a, c, j, acc_word, out_base);
    }
    SPK_STAT(CONFIG_T, out_spikes, spikes);
}

// One time step's fire: the per-step neuron pass, or -- for a layer that fires once -- the
// whole train at t = 0 and nothing after.
template <class res_T, typename CONFIG_T, typename STREAM_T = no_stream<CONFIG_T>, class zin_T = typename CONFIG_T::accum_t,
          class zout_T = typename CONFIG_T::accum_t>
SPK_INLINE void fire_step(unsigned t, typename CONFIG_T::v_t v[CONFIG_T::v_depth][CONFIG_T::fire_lanes],
                          typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes],
                          const typename CONFIG_T::bias_t bias[], const typename CONFIG_T::thr_t thr[],
                          const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[], res_T res[],
                          const zin_T *res_z = 0, zout_T *out_z = 0, const typename STREAM_T::sign_t *sign = 0) {
    #pragma HLS INLINE
    if (CONFIG_T::fire_once) { // never a stream layer (geometry: a stream layer fires per step)
        if (t == 0)
            fire_trains<res_T, CONFIG_T>(acc, breaks, trains, res);
    } else {
        fire_all<res_T, CONFIG_T, STREAM_T>(t, v, acc, bias, thr, res, res_z, out_z, sign);
    }
}

// ------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------
// spiking conv2d (+ optional skip), accumulate-only
// ------------------------------------------------------------------------------------------
template <class data_T, class skip_T, class res_T, typename CONFIG_T, typename STREAM_T = no_stream<CONFIG_T>,
          class zin_T = typename CONFIG_T::accum_t, class zout_T = typename CONFIG_T::accum_t>
void spiking_conv2d_core(const data_T data[], res_T res[], const typename CONFIG_T::bias_t bias[],
                         const typename CONFIG_T::thr_t thr[], const typename CONFIG_T::index_t offsets[],
                         const typename CONFIG_T::group_t groups[], const typename CONFIG_T::weight_t weights[],
                         const skip_T *skip, const typename CONFIG_T::skip_index_t skip_offsets[],
                         const typename CONFIG_T::skip_group_t skip_groups[],
                         const typename CONFIG_T::skip_weight_t skip_weights[],
                         const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[],
                         const zin_T *res_z = 0, zout_T *out_z = 0, const typename STREAM_T::sign_t *sign = 0) {
    #pragma HLS ARRAY_RESHAPE variable = breaks cyclic factor = CONFIG_T::n_breaks
    #pragma HLS ARRAY_RESHAPE variable = trains cyclic factor = CONFIG_T::n_breaks + 1
    // a chunk (n_lanes weights) is one word; with tap_lanes > 1 a window of tap_lanes consecutive
    // chunks / tap_lanes + 1 offsets is read per cycle: words of tap_words chunks (two ports), and
    // the offsets in tap_words banks
    #pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = CONFIG_T::n_lanes * CONFIG_T::tap_words
    #pragma HLS ARRAY_RESHAPE variable = groups cyclic factor = CONFIG_T::tap_words
    #pragma HLS ARRAY_PARTITION variable = offsets cyclic factor = CONFIG_T::tap_words
    #pragma HLS ARRAY_PARTITION variable = bias cyclic factor = CONFIG_T::n_lanes
    // storage of the ROMs by the rule, as the twin's (nnet_spiking_common.h: CONFIG_T::<array>_mem;
    // the chunk tables in block RAM where the twin reads them through a registered port)
    bind_rom(offsets, mem_tag<CONFIG_T::offsets_mem>());
    bind_rom(groups, mem_tag<CONFIG_T::groups_mem>());
    bind_rom(weights, mem_tag<CONFIG_T::weights_mem>());
    bind_rom(bias, mem_tag<CONFIG_T::bias_mem>());
    bind_rom(thr, mem_tag<CONFIG_T::thr_mem>());
    bind_rom(breaks, mem_tag<CONFIG_T::breaks_mem>());
    bind_rom(trains, mem_tag<CONFIG_T::trains_mem>());
    bind_rom(skip_offsets, mem_tag<CONFIG_T::skip_offsets_mem>());
    bind_rom(skip_groups, mem_tag<CONFIG_T::skip_groups_mem>());
    bind_rom(skip_weights, mem_tag<CONFIG_T::skip_weights_mem>());
    const unsigned I_HW = CONFIG_T::in_height * CONFIG_T::in_width;
    const unsigned R = CONFIG_T::read_lanes; // <= in_width: a word wraps at most one row
    const unsigned N_IN = CONFIG_T::n_chan * I_HW, N_WORDS = (N_IN + R - 1) / R;
    // the listed words of one frame: where each starts (channel, row, column), its mask, a value
    spk::uint_t<CONFIG_T::ev_chan_bits> ev_c[N_WORDS];
    spk::uint_t<CONFIG_T::ev_row_bits> ev_y[N_WORDS];
    spk::uint_t<CONFIG_T::ev_col_bits> ev_x[N_WORDS];
    spk::uint_t<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS];
    spk::uint_t<CONFIG_T::chan_count_bits> n_ev_c[CONFIG_T::n_chan + 1]; // events per input channel of one frame (back_to_back)
    typename CONFIG_T::v_t v[CONFIG_T::v_depth][CONFIG_T::fire_lanes];
    typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes];
    // storage of the RAMs by the rule, packed as the twin's (nnet_spiking_common.h): the accumulators
    // F banks of L-lane words, the membranes one word of the F fire lanes; the scan lists (the
    // kernel's own, read in the cycle of the address) registers or LUTRAM
    bind_lanes(acc, mem_tag<CONFIG_T::acc_mem>());
    bind_word(v, mem_tag<CONFIG_T::v_mem>());
    bind_ram(ev_c, mem_tag<CONFIG_T::ev_c_mem>());
    bind_ram(ev_y, mem_tag<CONFIG_T::ev_y_mem>());
    bind_ram(ev_x, mem_tag<CONFIG_T::ev_x_mem>());
    bind_ram(ev_m, mem_tag<CONFIG_T::ev_m_mem>());
    bind_ram(ev_v, mem_tag<CONFIG_T::ev_v_mem>());
    bind_ram(n_ev_c, mem_tag<CONFIG_T::n_ev_c_mem>());
    // the accumulators' forwarding registers (acc_forward: back-to-back events on a block / ultra RAM)
    typename acc_fwd<CONFIG_T>::addr_t fw_addr[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth];
    bool fw_ok[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth];
    typename CONFIG_T::accum_t fw_word[CONFIG_T::fire_lanes][CONFIG_T::acc_fwd_depth][CONFIG_T::n_lanes];
    #pragma HLS ARRAY_PARTITION variable = fw_addr complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = fw_ok complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = fw_word complete dim = 0
    if (STREAM_T::has_residual)
        init_residual<CONFIG_T>(res_z, acc); // acc = z_0 of the residual source
    else
        init_state<CONFIG_T, STREAM_T>(bias, acc);
InitCount:
    for (unsigned c = 0; c <= CONFIG_T::n_chan; c++) {
        #pragma HLS PIPELINE II = 1
        n_ev_c[c] = 0;
    }
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
        // direct encoding repeats one frame T times: its current is computed once, from frame 0
        if (t == 0 || !CONFIG_T::current_once) {
            // list the frame's words with an active input: pipelined, R positions per cycle
            const unsigned base_t = t * N_IN;
            spk::uint_t<CONFIG_T::ev_word_bits> n_w = 0; // R6: bits(N_WORDS), bits(N_IN), bits(I_HW)
            spk::uint_t<CONFIG_T::ev_count_bits> n_ev = 0;
            spk::uint_t<CONFIG_T::chan_count_bits> cur = 0; // events of channel cc so far (back_to_back)
            unsigned cc = 0, yy = 0, xx = 0, pc = 0; // pc: position in channel cc
        Compact:
            for (unsigned wd = 0; wd < N_WORDS; wd++) {
                #pragma HLS PIPELINE II = 1
                // II=1 justified: R reads of data from R banks (the producer's partition), one
                // write to each list at n_w, and (back_to_back) one write of n_ev_c per channel
                // from the register `cur` -- no read-modify-write of a memory (R5); every
                // recurrence (n_w, n_ev, cur, cc / yy / xx / pc) is a register.
                const spk::uint_t<R> m = active_word<R>(data, base_t, wd * R, N_IN);
                if (m != 0) { // event-driven: a silent word costs no more than this cycle
                    ev_c[n_w] = cc;
                    ev_y[n_w] = yy;
                    ev_x[n_w] = xx;
                    ev_m[n_w] = m;
                    // the value matters for pixels (R = 1: this word's own read); R > 1 only for
                    // spikes, where an active input is 1 -- no second dynamic read (R5)
                    ev_v[n_w] = R == 1 ? data_T(data[base_t + wd * R]) : data_T(1);
                    n_w++;
                    n_ev += popcount<R>(m);
                }
                if (CONFIG_T::back_to_back) { // events per channel (a word may straddle two)
                    const unsigned rem = I_HW - pc; // positions of channel cc in this word: min(rem, R)
                    const spk::uint_t<R> lo = rem >= R ? m : spk::uint_t<R>(m & ((spk::uint_t<R + 1>(1) << rem) - 1));
                    if (rem <= R) { // the word ends channel cc: its count is complete
                        n_ev_c[cc] = cur + popcount<R>(lo);
                        cur = popcount<R>(m ^ lo); // the straddling rest opens channel cc + 1
                    } else {
                        cur += popcount<R>(lo);
                    }
                }
                pc += R;
                if (pc >= I_HW)
                    pc -= I_HW;
                advance_position<CONFIG_T>(R, cc, yy, xx);
            }
            word_events<R, CONFIG_T::ev_word_bits> walk(ev_m, n_w);
            if (CONFIG_T::back_to_back) {
                // one channel group and a kernel whose rows make consecutive events of one input
                // channel reach different output rows within the scatter depth
                // (spikehls.hls.lanes.events_back_to_back): the events of a channel follow each
                // other in one pipelined loop of iters_per_event iterations each; it drains once
                // per channel, where raster order (and so the argument) starts over
            EvChan:
                for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                    #pragma HLS LOOP_FLATTEN off
                    // not flattened: EvFlat drains between channels, where the raster order (and
                    // with it the distance argument) starts over
                    const spk::uint_t<CONFIG_T::chan_it_bits> n_it = n_ev_c[c] * CONFIG_T::iters_per_event; // R6
                    unsigned ci = 0, iy = 0, ix = 0, ky = 0, kx0 = 0;
                    data_T x = 0;
                FwdClear:
                    for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
                        #pragma HLS UNROLL
                        for (unsigned d = 0; d < CONFIG_T::acc_fwd_depth; d++)
                            fw_ok[f][d] = false; // the run starts drained: the memory holds every write
                    }
                EvFlat:
                    for (spk::uint_t<CONFIG_T::chan_it_bits> it = 0; it < n_it; it++) {
                        #pragma HLS PIPELINE II = 1
                        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::chan_trip_min max = CONFIG_T::chan_trip_max avg = CONFIG_T::chan_trip_avg
                        // Distance bound, not independence: within one event the taps reach distinct
                        // outputs; two iterations of different events of channel c are at least
                        // b2b_distance = (filt_height - 1) * iters_per_row + 1 iterations apart when
                        // they can reach the same output row (the later one on a kernel row >= the
                        // earlier's; lanes.events_back_to_back; templates.py). Stated as a true
                        // dependence at ev_distance, Vitis schedules read -> add -> write within it or
                        // raises the II -- never a stale read. LUTRAM / registers (no acc_forward):
                        // ev_distance = b2b_distance >= lanes.SCATTER_DEPTH = 3, the read-to-write
                        // depth of an asynchronous read, add, write (events_back_to_back checks
                        // exactly that), so II = 1 holds. Block / ultra RAM (acc_forward, a read one
                        // cycle late): the writes of distances 1 .. acc_fwd_depth (= 3: read latency
                        // 1, add, write) are forwarded from registers (conv_taps<FWD>), so the memory
                        // itself need only deliver writes of distance > acc_fwd_depth: ev_distance =
                        // max(b2b_distance, acc_fwd_depth + 1), and II = 1 holds as well.
                        #pragma HLS DEPENDENCE variable = acc inter RAW true distance = CONFIG_T::ev_distance
                        if (ky == 0 && kx0 == 0) {
                            unsigned wi;
                            const unsigned f = walk.next(ev_m, n_w, wi);
                            ci = ev_c[wi];
                            iy = ev_y[wi];
                            ix = ev_x[wi];
                            advance_position<CONFIG_T>(f, ci, iy, ix);
                            x = ev_v[wi];
                            SPK_STAT(CONFIG_T, in_events, 1);
                        }
                        conv_taps<CONFIG_T, CONFIG_T::acc_forward>(x, ci, iy, ix, ky, kx0, offsets, groups, weights, acc, fw_addr,
                                                                   fw_ok, fw_word);
                        kx0 += CONFIG_T::tap_lanes;
                        if (kx0 == CONFIG_T::filt_width) {
                            kx0 = 0;
                            if (++ky == CONFIG_T::filt_height)
                                ky = 0;
                        }
                    }
                    if (CONFIG_T::acc_forward) // C-simulation: the run drains, its last writes land
                        fwd_land<CONFIG_T>(acc, fw_addr, fw_ok, fw_word, 0);
                }
            } else {
            Events:
                for (spk::uint_t<CONFIG_T::ev_count_bits> e = 0; e < n_ev; e++) {
                    #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::ev_trip_min max = CONFIG_T::ev_trip_max avg = CONFIG_T::ev_trip_avg
                    #pragma HLS LOOP_FLATTEN off
                    // not pipelined, not flattened: each event's KernIter / RowChunks run drains
                    // before the next event (their inter false need no distance)
                    unsigned wi;
                    const unsigned f = walk.next(ev_m, n_w, wi);
                    unsigned ci = ev_c[wi], iy = ev_y[wi], ix = ev_x[wi];
                    advance_position<CONFIG_T>(f, ci, iy, ix);
                    const data_T x = ev_v[wi];
                    SPK_STAT(CONFIG_T, in_events, 1);
                    if (CONFIG_T::n_groups == 1) {
                        // one chunk per row at most: the tap loop pipelines at II=1 and drains
                        // before the next event (Events: LOOP_FLATTEN off)
                        unsigned ky = 0, kx0 = 0; // R3: running counters, not it / (kw / taps), it % (kw / taps)
                    KernIter:
                        for (unsigned it = 0; it < CONFIG_T::iters_per_event; it++) {
                            #pragma HLS PIPELINE II = 1
                            // DEPENDENCE inter false justified: the taps of one input reach distinct
                            // output positions (one per (ky, kx)), so every pair of iterations of
                            // this run writes different accumulator words: distinct words by
                            // construction, no distance or latency assumed.
                            #pragma HLS DEPENDENCE variable = acc inter false
                            conv_taps<CONFIG_T, false>(x, ci, iy, ix, ky, kx0, offsets, groups, weights, acc, fw_addr, fw_ok,
                                                       fw_word);
                            kx0 += CONFIG_T::tap_lanes;
                            if (kx0 == CONFIG_T::filt_width) {
                                kx0 = 0;
                                ky++;
                            }
                        }
                    } else {
                    KernY:
                        for (unsigned ky = 0; ky < CONFIG_T::filt_height; ky++) {
                        KernX:
                            for (unsigned kx = 0; kx < CONFIG_T::filt_width; kx++) {
                                #pragma HLS LOOP_FLATTEN off
                                // not flattened: the RowChunks runs of the taps stay separate
                                // pipelines (its inter false is argued per run)
                                unsigned oy, ox;
                                if (!conv_target<CONFIG_T>(iy, ix, ky, kx, oy, ox))
                                    continue;
                                const unsigned row = (ci * CONFIG_T::filt_height + ky) * CONFIG_T::filt_width + kx;
                                unsigned bank, word; // R3: from (oy, ox), no divider on pos
                                pos_bank_word<CONFIG_T>(oy, ox, bank, word);
                                unsigned n = input_event<CONFIG_T>(x, row, bank, word, offsets, groups, weights, acc);
                                SPK_STAT(CONFIG_T, synops, n);
                            }
                        }
                    }
                }
            }
            if (CONFIG_T::has_skip)
                skip_current<skip_T, CONFIG_T>(skip, t, skip_offsets, skip_groups, skip_weights, acc);
        }
        fire_step<res_T, CONFIG_T, STREAM_T>(t, v, acc, bias, thr, breaks, trains, res, res_z, out_z, sign);
    }
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

template <class data_T, class res_T, typename CONFIG_T>
void spiking_conv2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                    typename CONFIG_T::bias_t bias[CONFIG_T::n_filt], typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                    typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                    typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                    typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    spike_t no_skip[1] = {0}; // never read: has_skip is false (the skip table types alias the main ones)
    typename CONFIG_T::break_t no_breaks[CONFIG_T::n_breaks] = {0}; // never read: spikes in, fire_once is false
    typename CONFIG_T::train_t no_trains[CONFIG_T::n_breaks + 1] = {0};
    spiking_conv2d_core<data_T, spike_t, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, no_skip, offsets,
                                                          groups, weights, no_breaks, no_trains);
}

template <class data_T, class skip_T, class res_T, typename CONFIG_T>
void spiking_conv2d_skip(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[CONFIG_T::n_time * CONFIG_T::n_skip],
                         res_T res[CONFIG_T::n_time * CONFIG_T::n_out], typename CONFIG_T::bias_t bias[CONFIG_T::n_filt],
                         typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                         typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                         typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                         typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                         typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                         typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                         typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    #pragma HLS ARRAY_RESHAPE variable = skip_weights cyclic factor = CONFIG_T::n_lanes
    typename CONFIG_T::break_t no_breaks[CONFIG_T::n_breaks] = {0}; // never read: spikes in, fire_once is false
    typename CONFIG_T::train_t no_trains[CONFIG_T::n_breaks + 1] = {0};
    spiking_conv2d_core<data_T, skip_T, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, skip, skip_offsets,
                                                         skip_groups, skip_weights, no_breaks, no_trains);
}

// ------------------------------------------------------------------------------------------
// spiking conv2d on a residual stream (a stream layer: CONFIG_T has z_current = true)
// ------------------------------------------------------------------------------------------
// The accumulators hold z (+ skip) and start each step at z_t of the residual source (has_residual)
// or 0; the fire pass integrates bias + sign * z (sign in {-1, 0, +1}: an add, a subtract, or
// neither) and `_write` stores z in out_z [T][C][H][W] for the layer that reads the stream. An
// absent skip or residual input is passed as the layer's own input (hls/templates.py): has_skip /
// has_residual are false and it is never read. Direct-encoded twins: nnet_spiking_direct.h.
template <class data_T, class skip_T, class zin_T, class res_T, class zout_T, typename CONFIG_T>
void stream_conv2d_core(const data_T data[], const skip_T skip[], const zin_T res_z[], res_T res[], zout_T *out_z,
                        const typename CONFIG_T::bias_t bias[], const typename CONFIG_T::thr_t thr[],
                        const typename CONFIG_T::sign_t sign[], const typename CONFIG_T::index_t offsets[],
                        const typename CONFIG_T::group_t groups[], const typename CONFIG_T::weight_t weights[],
                        const typename CONFIG_T::skip_index_t skip_offsets[], const typename CONFIG_T::skip_group_t skip_groups[],
                        const typename CONFIG_T::skip_weight_t skip_weights[]) {
    #pragma HLS INLINE
    bind_rom(sign, mem_tag<CONFIG_T::sign_mem>());
    typename CONFIG_T::break_t no_breaks[CONFIG_T::n_breaks] = {0}; // never read: a stream layer fires per step
    typename CONFIG_T::train_t no_trains[CONFIG_T::n_breaks + 1] = {0};
    spiking_conv2d_core<data_T, skip_T, res_T, CONFIG_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, skip, skip_offsets,
                                                                   skip_groups, skip_weights, no_breaks, no_trains, res_z, out_z,
                                                                   sign);
}

template <class data_T, class skip_T, class zin_T, class res_T, typename CONFIG_T>
void spiking_stream_conv2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[], zin_T res_z[],
                           res_T res[CONFIG_T::n_time * CONFIG_T::n_out], typename CONFIG_T::bias_t bias[CONFIG_T::n_filt],
                           typename CONFIG_T::thr_t thr[CONFIG_T::n_filt], typename CONFIG_T::sign_t sign[CONFIG_T::n_filt],
                           typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                           typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                           typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                           typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                           typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                           typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    #pragma HLS ARRAY_RESHAPE variable = skip_weights cyclic factor = CONFIG_T::n_lanes
    stream_conv2d_core<data_T, skip_T, zin_T, res_T, typename CONFIG_T::accum_t, CONFIG_T>(
        data, skip, res_z, res, (typename CONFIG_T::accum_t *)0, bias, thr, sign, offsets, groups, weights, skip_offsets,
        skip_groups, skip_weights);
}

template <class data_T, class skip_T, class zin_T, class res_T, class zout_T, typename CONFIG_T>
void spiking_stream_conv2d_write(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[], zin_T res_z[],
                                 res_T res[CONFIG_T::n_time * CONFIG_T::n_out], zout_T out_z[CONFIG_T::n_time * CONFIG_T::n_out],
                                 typename CONFIG_T::bias_t bias[CONFIG_T::n_filt], typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                                 typename CONFIG_T::sign_t sign[CONFIG_T::n_filt],
                                 typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                                 typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                                 typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                                 typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                                 typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                                 typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    #pragma HLS ARRAY_RESHAPE variable = skip_weights cyclic factor = CONFIG_T::n_lanes
    stream_conv2d_core<data_T, skip_T, zin_T, res_T, zout_T, CONFIG_T>(data, skip, res_z, res, out_z, bias, thr, sign, offsets,
                                                                       groups, weights, skip_offsets, skip_groups, skip_weights);
}

// ------------------------------------------------------------------------------------------
// spiking dense, accumulate-only (input flattened in C,H,W order = storage order)
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spiking_dense_core(const data_T data[], res_T res[], const typename CONFIG_T::bias_t bias[],
                        const typename CONFIG_T::thr_t thr[], const typename CONFIG_T::index_t offsets[],
                        const typename CONFIG_T::group_t groups[], const typename CONFIG_T::weight_t weights[],
                        const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[]) {
    #pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = CONFIG_T::n_lanes
    #pragma HLS ARRAY_RESHAPE variable = breaks cyclic factor = CONFIG_T::n_breaks
    #pragma HLS ARRAY_RESHAPE variable = trains cyclic factor = CONFIG_T::n_breaks + 1
    #pragma HLS ARRAY_PARTITION variable = bias cyclic factor = CONFIG_T::n_lanes
    const unsigned R = CONFIG_T::read_lanes, N_WORDS = (CONFIG_T::n_in + R - 1) / R;
    spk::uint_t<CONFIG_T::ev_index_bits> ev_w[N_WORDS]; // the listed words of one frame
    spk::uint_t<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS];
    typename CONFIG_T::v_t v[CONFIG_T::v_depth][CONFIG_T::fire_lanes];
    typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes];
    // storage by the rule, packed as the twin's (nnet_spiking_common.h: CONFIG_T::<array>_mem)
    bind_rom(offsets, mem_tag<CONFIG_T::offsets_mem>());
    bind_rom(groups, mem_tag<CONFIG_T::groups_mem>());
    bind_rom(weights, mem_tag<CONFIG_T::weights_mem>());
    bind_rom(bias, mem_tag<CONFIG_T::bias_mem>());
    bind_rom(thr, mem_tag<CONFIG_T::thr_mem>());
    bind_rom(breaks, mem_tag<CONFIG_T::breaks_mem>());
    bind_rom(trains, mem_tag<CONFIG_T::trains_mem>());
    bind_ram(ev_w, mem_tag<CONFIG_T::ev_w_mem>());
    bind_ram(ev_m, mem_tag<CONFIG_T::ev_m_mem>());
    bind_ram(ev_v, mem_tag<CONFIG_T::ev_v_mem>());
    bind_lanes(acc, mem_tag<CONFIG_T::acc_mem>());
    bind_word(v, mem_tag<CONFIG_T::v_mem>());
    init_state<CONFIG_T>(bias, acc);
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
        if (t == 0 || !CONFIG_T::current_once) { // direct encoding: one frame, one current
            unsigned n_w;
            const unsigned n_ev = scan_words<R, CONFIG_T>(data, t * CONFIG_T::n_in, CONFIG_T::n_in, ev_w, ev_m, ev_v, n_w);
            dense_events<CONFIG_T>(n_ev, n_w, ev_w, ev_m, ev_v, offsets, groups, weights, acc);
        }
        fire_step<res_T, CONFIG_T>(t, v, acc, bias, thr, breaks, trains, res);
    }
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

template <class data_T, class res_T, typename CONFIG_T>
void spiking_dense(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                   typename CONFIG_T::bias_t bias[CONFIG_T::n_out], typename CONFIG_T::thr_t thr[CONFIG_T::n_out],
                   typename CONFIG_T::index_t offsets[CONFIG_T::n_in + 1], typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                   typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    typename CONFIG_T::break_t no_breaks[CONFIG_T::n_breaks] = {0}; // never read: spikes in, fire_once is false
    typename CONFIG_T::train_t no_trains[CONFIG_T::n_breaks + 1] = {0};
    spiking_dense_core<data_T, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, no_breaks, no_trains);
}

// ------------------------------------------------------------------------------------------
// non-spiking readout: out[k] = sum_t (bias[k] + sum_{i spiked} W[k, i]), accumulate-only
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spike_readout(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                   typename CONFIG_T::bias_t bias[CONFIG_T::n_out], typename CONFIG_T::index_t offsets[CONFIG_T::n_in + 1],
                   typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                   typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    #pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = CONFIG_T::n_lanes
    #pragma HLS ARRAY_PARTITION variable = bias cyclic factor = CONFIG_T::n_lanes
    typename CONFIG_T::accum_t acc[CONFIG_T::fire_lanes][CONFIG_T::acc_depth][CONFIG_T::n_lanes];
    const unsigned R = CONFIG_T::read_lanes, N_WORDS = (CONFIG_T::n_in + R - 1) / R;
    spk::uint_t<CONFIG_T::ev_index_bits> ev_w[N_WORDS]; // the listed words of one frame
    spk::uint_t<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS]; // unused: every readout event is a spike
    // storage by the rule (nnet_spiking_common.h: CONFIG_T::<array>_mem); the accumulators are
    // registers or LUTRAM (the output loop reads them in the cycle of the address, as the twin's stream)
    bind_rom(offsets, mem_tag<CONFIG_T::offsets_mem>());
    bind_rom(groups, mem_tag<CONFIG_T::groups_mem>());
    bind_rom(weights, mem_tag<CONFIG_T::weights_mem>());
    bind_rom(bias, mem_tag<CONFIG_T::bias_mem>());
    bind_ram(ev_w, mem_tag<CONFIG_T::ev_w_mem>());
    bind_ram(ev_m, mem_tag<CONFIG_T::ev_m_mem>());
    bind_ram(ev_v, mem_tag<CONFIG_T::ev_v_mem>());
    bind_lanes(acc, mem_tag<CONFIG_T::acc_mem>());
InitAcc:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II = 1
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
            acc[0][g][j] = 0;
    }
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
    Bias:
        for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
            #pragma HLS PIPELINE II = 1
        BiasLane:
            for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
                const unsigned k = g * CONFIG_T::n_lanes + j;
                if (k < CONFIG_T::n_out)
                    acc[0][g][j] += bias[k];
            }
        }
        unsigned n_w;
        const unsigned n_ev = scan_words<R, CONFIG_T>(data, t * CONFIG_T::n_in, CONFIG_T::n_in, ev_w, ev_m, ev_v, n_w);
        dense_events<CONFIG_T>(n_ev, n_w, ev_w, ev_m, ev_v, offsets, groups, weights, acc);
    }
    spk::uint_t<CONFIG_T::out_lane_bits> j = 0; // R3: running counters for k % n_lanes, k / n_lanes (R6 widths)
    spk::uint_t<CONFIG_T::out_group_bits> g = 0;
Out:
    for (unsigned k = 0; k < CONFIG_T::n_out; k++) {
        res[k] = acc[0][g][j];
        if (++j == CONFIG_T::n_lanes) {
            j = 0;
            g++;
        }
    }
}

// ------------------------------------------------------------------------------------------
// max pooling on spikes: OR over the window
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spike_maxpool2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out]) {
    // R = out_lanes neighbouring outputs of one output row per cycle: their windows span
    // stride (R - 1) + pool_width consecutive input positions of each window row, which the
    // producer's banks serve together (spikehls.hls.lanes.pool_lanes); the R outputs go to R
    // banks of res (the project partitions it cyclic by R).
    const unsigned R = CONFIG_T::out_lanes;
    const unsigned I_HW = CONFIG_T::in_height * CONFIG_T::in_width;
    const unsigned O_HW = CONFIG_T::out_height * CONFIG_T::out_width;
    const unsigned SEGS = (CONFIG_T::out_width + R - 1) / R;
    unsigned spikes = 0;
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
    Chan:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        OutY:
            for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++) {
            OutSeg:
                for (unsigned sg = 0; sg < SEGS; sg++) {
                    #pragma HLS PIPELINE II = 1
                OutLane:
                    for (unsigned j = 0; j < R; j++) {
                        #pragma HLS UNROLL
                        const unsigned ox = sg * R + j;
                        if (ox >= CONFIG_T::out_width)
                            continue;
                        spike_t s = 0;
                    PoolY:
                        for (unsigned py = 0; py < CONFIG_T::pool_height; py++) {
                        PoolX:
                            for (unsigned px = 0; px < CONFIG_T::pool_width; px++) {
                                const unsigned iy = oy * CONFIG_T::stride_height + py, ix = ox * CONFIG_T::stride_width + px;
                                s = s | spike_t(data[t * CONFIG_T::n_in + c * I_HW + iy * CONFIG_T::in_width + ix]);
                            }
                        }
                        res[t * CONFIG_T::n_out + c * O_HW + oy * CONFIG_T::out_width + ox] = s;
                        spikes += s;
                    }
                }
            }
        }
    }
    SPK_STAT(CONFIG_T, out_spikes, spikes);
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

} // namespace nnet

#endif
