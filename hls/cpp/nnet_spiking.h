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
// Within one input event the targets of a row are distinct (one entry per channel, and the
// taps of one input reach distinct output positions), which is what licenses
// `DEPENDENCE inter false` on the accumulators inside that event's pipelined loop; the loop
// drains between events, so no two events overlap -- except where back_to_back (see
// spiking_conv2d_core and lanes.events_back_to_back) proves consecutive events of one input
// channel reach different output rows within the scatter depth.
#ifndef NNET_SPIKING_H_
#define NNET_SPIKING_H_

#include "ap_fixed.h"
#include "nnet_spiking_common.h"

namespace nnet {

// ------------------------------------------------------------------------------------------
// helpers: one table chunk of one input event into the accumulator banks
// ------------------------------------------------------------------------------------------
// acc is [n_lanes][fire_lanes][acc_depth]: neuron (c, pos) lives in bank (c % n_lanes,
// pos % fire_lanes) at word (c / n_lanes) * plane_words + pos / fire_lanes. A chunk of group g
// adds slot j to channel g * n_lanes + j: lane j writes bank row j only.

// Add chunk `e` (spikes): the only arithmetic on a weight is acc += w, and a zero slot adds nothing.
template <typename CONFIG_T, typename T_grp, typename T_w>
SPK_INLINE unsigned chunk_add(unsigned e, unsigned bank, unsigned word, const T_grp groups[], const T_w weights[],
                              typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned g = groups[e]; // index arithmetic in plain unsigned (ap_uint * unsigned is 72-bit in csim)
    const unsigned addr = g * CONFIG_T::plane_words + word;
    unsigned n = 0;
ChunkLanes:
    for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
        #pragma HLS UNROLL
        const T_w w = weights[e * CONFIG_T::n_lanes + j];
        if (w != 0) {
            acc[j][bank][addr] += w;
            n++;
        }
    }
    return n;
}

// Multiply-accumulate twin of chunk_add, for 8-bit pixels (direct encoding) only: used by the
// direct-encoded first layer and by a skip taken from a direct-encoded input. Never on spikes.
template <typename CONFIG_T, typename T_grp, typename T_w>
SPK_INLINE unsigned chunk_mac(unsigned e, unsigned bank, unsigned word, ap_uint<8> pixel, const T_grp groups[],
                              const T_w weights[],
                              typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned g = groups[e];
    const unsigned addr = g * CONFIG_T::plane_words + word;
    unsigned n = 0;
MacLanes:
    for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
        #pragma HLS UNROLL
        const T_w w = weights[e * CONFIG_T::n_lanes + j];
        if (w != 0) {
            acc[j][bank][addr] += w * pixel;
            n++;
        }
    }
    return n;
}

// One chunk hit by one input value: a spike adds (chunk_add), an 8-bit pixel multiplies
// (chunk_mac). Chosen by overload on the element type, so a spike can never reach the multiplier.
template <typename CONFIG_T, typename T_grp, typename T_w>
SPK_INLINE unsigned chunk_event(spike_t s, unsigned e, unsigned bank, unsigned word, const T_grp groups[], const T_w weights[],
                                typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    (void)s; // callers only pass active inputs (is_active)
    return chunk_add<CONFIG_T>(e, bank, word, groups, weights, acc);
}

template <typename CONFIG_T, typename T_grp, typename T_w>
SPK_INLINE unsigned chunk_event(ap_ufixed<8, 0> px, unsigned e, unsigned bank, unsigned word, const T_grp groups[],
                                const T_w weights[],
                                typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const ap_uint<8> pixel = px.range(7, 0);
    return chunk_mac<CONFIG_T>(e, bank, word, pixel, groups, weights, acc);
}

// Every chunk of table row `row` for one input value reaching output position `pos`.
// Pipelined II=1: the chunks of one row are different groups, so their words differ and the
// accumulator updates of consecutive iterations are independent (DEPENDENCE inter false).
template <typename CONFIG_T, typename data_T, typename T_idx, typename T_grp, typename T_w>
SPK_INLINE unsigned input_event(data_T x, unsigned row, unsigned pos, const T_idx offsets[], const T_grp groups[],
                                const T_w weights[],
                                typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned begin = offsets[row], end = offsets[row + 1];
    const unsigned bank = pos % CONFIG_T::fire_lanes, word = pos / CONFIG_T::fire_lanes; // constants: a shift, or a small divider
    unsigned n = 0;
RowChunks:
    for (unsigned e = begin; e < end; e++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS DEPENDENCE variable = acc inter false
        n += chunk_event<CONFIG_T>(x, e, bank, word, groups, weights, acc);
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
template <unsigned R> SPK_INLINE unsigned lowest_set(ap_uint<R> m) {
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

template <unsigned R> SPK_INLINE unsigned popcount(ap_uint<R> m) {
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
template <unsigned R, class data_T> SPK_INLINE ap_uint<R> active_word(const data_T data[], unsigned base, unsigned first, unsigned n) {
    #pragma HLS INLINE
    ap_uint<R> m = 0;
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
template <unsigned R> struct word_events {
    unsigned wi;
    ap_uint<R> m;
    SPK_INLINE word_events(const ap_uint<R> masks[], unsigned n_words) : wi(0), m(n_words ? masks[0] : ap_uint<R>(0)) {}
    SPK_INLINE unsigned next(const ap_uint<R> masks[], unsigned n_words, unsigned &word) {
        #pragma HLS INLINE
        const unsigned f = lowest_set<R>(m);
        m[f] = 0;
        word = wi;
        if (m == 0 && ++wi < n_words)
            m = masks[wi];
        return f;
    }
};

// Scan of one frame of a dense layer / the readout: list (word index, mask, first active value)
// of every word with an active input; returns the number of events (active inputs).
template <unsigned R, class data_T, class T_ev>
SPK_INLINE unsigned scan_words(const data_T data[], unsigned base, unsigned n, T_ev ev_w[], ap_uint<R> ev_m[], data_T ev_v[],
                               unsigned &n_words) {
    #pragma HLS INLINE
    unsigned n_w = 0, n_ev = 0;
Scan:
    for (unsigned wd = 0; wd < (n + R - 1) / R; wd++) {
        #pragma HLS PIPELINE II = 1
        const ap_uint<R> m = active_word<R>(data, base, wd * R, n);
        if (m != 0) {
            ev_w[n_w] = wd;
            ev_m[n_w] = m;
            ev_v[n_w] = data[base + wd * R + lowest_set<R>(m)]; // the value matters for pixels only (R = 1)
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
                         typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned S_HW = CONFIG_T::skip_height * CONFIG_T::skip_width;
    const unsigned base_t = t * CONFIG_T::skip_chan * S_HW;
SkipChan:
    for (unsigned cs = 0; cs < CONFIG_T::skip_chan; cs++) {
    SkipY:
        for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++) {
        SkipX:
            for (unsigned ox = 0; ox < CONFIG_T::out_width; ox++) {
                const unsigned sy = oy * CONFIG_T::skip_stride, sx = ox * CONFIG_T::skip_stride;
                const skip_T x = skip[base_t + cs * S_HW + sy * CONFIG_T::skip_width + sx];
                if (!is_active(x))
                    continue;
                SPK_STAT(CONFIG_T, in_events, 1);
                unsigned n = input_event<CONFIG_T>(x, cs, oy * CONFIG_T::out_width + ox, skip_offsets, skip_groups,
                                                   skip_weights, acc);
                SPK_STAT(CONFIG_T, synops, n);
            }
        }
    }
}

// Accumulators = bias (n_lanes x fire_lanes words per cycle): a flat pipelined loop with running
// counters (no divider, one pipeline fill). Membranes need no pass: the first fire pass (t = 0)
// starts every neuron from 0 instead of reading v.
template <typename CONFIG_T>
SPK_INLINE void init_state(const typename CONFIG_T::bias_t bias[],
                           typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    unsigned g = 0, a = 0;
InitAcc:
    for (unsigned word = 0; word < CONFIG_T::acc_depth; word++) {
        #pragma HLS PIPELINE II = 1
    InitAccLane:
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++) {
            #pragma HLS UNROLL
            const unsigned c = g * CONFIG_T::n_lanes + j;
            const typename CONFIG_T::accum_t b = c < CONFIG_T::n_filt ? typename CONFIG_T::accum_t(bias[c]) : typename CONFIG_T::accum_t(0);
        InitAccBank:
            for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
                #pragma HLS UNROLL
                acc[j][f][word] = b;
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
template <typename CONFIG_T>
SPK_INLINE void next_fire_word(unsigned &a, unsigned &c, unsigned &j, unsigned &acc_word, unsigned &out_base) {
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

// Fire every neuron of one time step (fire_lanes neighbouring positions of one channel per
// cycle, one flat pipelined pass over channels x plane words), write the spikes, and -- unless
// the current is kept for every step (direct encoding) -- reset the accumulators to the bias
// for the next step in the same pass (no separate init pass per step).
template <class res_T, typename CONFIG_T>
SPK_INLINE void fire_all(unsigned t, typename CONFIG_T::v_t v[CONFIG_T::fire_lanes][CONFIG_T::v_depth],
                         typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth],
                         const typename CONFIG_T::bias_t bias[], const typename CONFIG_T::thr_t thr[], res_T res[]) {
    #pragma HLS INLINE
    unsigned spikes = 0;
    unsigned c = 0, j = 0, a = 0, acc_word = 0, out_base = t * CONFIG_T::n_out;
FireWord:
    for (unsigned v_word = 0; v_word < CONFIG_T::v_depth; v_word++) {
        #pragma HLS PIPELINE II = 1
        // v_word = c * plane_words + a; acc_word = (c / n_lanes) * plane_words + a; j = c % n_lanes
        const typename CONFIG_T::thr_t th = thr[c];
        const typename CONFIG_T::accum_t b = bias[c];
    FireBank:
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
            #pragma HLS UNROLL
            if (t == 0)
                v[f][v_word] = 0; // a new sample: every membrane starts at rest (no separate pass)
            spike_t s = neuron_step<CONFIG_T>(v[f][v_word], acc[j][f][acc_word], th);
            if (!CONFIG_T::current_once)
                acc[j][f][acc_word] = b;
            res[out_base + a * CONFIG_T::fire_lanes + f] = s; // bank f (or f + fire_lanes): out_hw is a multiple of the banks
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
SPK_INLINE unsigned next_dense_event(word_events<CONFIG_T::read_lanes> &walk, unsigned n_words, const T_ev ev_w[],
                                     const ap_uint<CONFIG_T::read_lanes> ev_m[], const data_T ev_v[], data_T &x) {
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
SPK_INLINE void dense_events(unsigned n_ev, unsigned n_words, const T_ev ev_w[], const ap_uint<CONFIG_T::read_lanes> ev_m[],
                             const data_T ev_v[], const T_idx offsets[], const T_grp groups[], const T_w weights[],
                             typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned R = CONFIG_T::read_lanes;
    word_events<R> walk(ev_m, n_words);
    if (CONFIG_T::n_groups == 1) {
    EventsOneGroup:
        for (unsigned e = 0; e < n_ev; e++) {
            #pragma HLS PIPELINE II = 1
            data_T x;
            const unsigned row = next_dense_event<CONFIG_T>(walk, n_words, ev_w, ev_m, ev_v, x);
            if (offsets[row] != offsets[row + 1]) {
                unsigned n = chunk_event<CONFIG_T>(x, offsets[row], 0, 0, groups, weights, acc);
                SPK_STAT(CONFIG_T, synops, n);
            }
        }
    } else {
    Events:
        for (unsigned e = 0; e < n_ev; e++) {
            data_T x;
            const unsigned row = next_dense_event<CONFIG_T>(walk, n_words, ev_w, ev_m, ev_v, x);
            unsigned n = input_event<CONFIG_T>(x, row, 0, offsets, groups, weights, acc);
            SPK_STAT(CONFIG_T, synops, n);
        }
    }
}

// One iteration of a conv event with one channel group (at most one chunk per table row): the
// tap_lanes taps (ky, kx0 .. kx0 + tap_lanes - 1) of input (ci, iy, ix). With tap_lanes = kw the
// taps of a kernel row reach neighbouring outputs of one output row, distinct banks (pos %
// fire_lanes, fire_lanes >= kw), and their chunks are a window of consecutive table words.
template <typename CONFIG_T, typename data_T, typename T_idx, typename T_grp, typename T_w>
SPK_INLINE void conv_taps(data_T x, unsigned ci, unsigned iy, unsigned ix, unsigned ky, unsigned kx0, const T_idx offsets[],
                          const T_grp groups[], const T_w weights[],
                          typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth]) {
    #pragma HLS INLINE
    const unsigned row0 = (ci * CONFIG_T::filt_height + ky) * CONFIG_T::filt_width + kx0;
TapLanes:
    for (unsigned k = 0; k < CONFIG_T::tap_lanes; k++) {
        #pragma HLS UNROLL
        unsigned oy, ox;
        if (!conv_target<CONFIG_T>(iy, ix, ky, kx0 + k, oy, ox))
            continue;
        if (offsets[row0 + k] == offsets[row0 + k + 1])
            continue;
        const unsigned pos = oy * CONFIG_T::out_width + ox;
        unsigned n = chunk_event<CONFIG_T>(x, offsets[row0 + k], pos % CONFIG_T::fire_lanes, pos / CONFIG_T::fire_lanes,
                                           groups, weights, acc);
        SPK_STAT(CONFIG_T, synops, n);
    }
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
SPK_INLINE void fire_trains(typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth],
                            const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[], res_T res[]) {
    #pragma HLS INLINE
    unsigned spikes = 0;
    unsigned c = 0, j = 0, a = 0, acc_word = 0, out_base = 0;
FireTrain:
    for (unsigned v_word = 0; v_word < CONFIG_T::v_depth; v_word++) {
        #pragma HLS PIPELINE II = 1
    FireTrainBank:
        for (unsigned f = 0; f < CONFIG_T::fire_lanes; f++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::accum_t cur = acc[j][f][acc_word];
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
template <class res_T, typename CONFIG_T>
SPK_INLINE void fire_step(unsigned t, typename CONFIG_T::v_t v[CONFIG_T::fire_lanes][CONFIG_T::v_depth],
                          typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth],
                          const typename CONFIG_T::bias_t bias[], const typename CONFIG_T::thr_t thr[],
                          const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[], res_T res[]) {
    #pragma HLS INLINE
    if (CONFIG_T::fire_once) {
        if (t == 0)
            fire_trains<res_T, CONFIG_T>(acc, breaks, trains, res);
    } else {
        fire_all<res_T, CONFIG_T>(t, v, acc, bias, thr, res);
    }
}

// ------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------
// spiking conv2d (+ optional skip), accumulate-only
// ------------------------------------------------------------------------------------------
template <class data_T, class skip_T, class res_T, typename CONFIG_T>
void spiking_conv2d_core(const data_T data[], res_T res[], const typename CONFIG_T::bias_t bias[],
                         const typename CONFIG_T::thr_t thr[], const typename CONFIG_T::index_t offsets[],
                         const typename CONFIG_T::group_t groups[], const typename CONFIG_T::weight_t weights[],
                         const skip_T *skip, const typename CONFIG_T::skip_index_t skip_offsets[],
                         const typename CONFIG_T::skip_group_t skip_groups[],
                         const typename CONFIG_T::skip_weight_t skip_weights[],
                         const typename CONFIG_T::break_t breaks[], const typename CONFIG_T::train_t trains[]) {
    #pragma HLS ARRAY_RESHAPE variable = breaks cyclic factor = CONFIG_T::n_breaks
    #pragma HLS ARRAY_RESHAPE variable = trains cyclic factor = CONFIG_T::n_breaks + 1
    // a chunk (n_lanes weights) is one word; with tap_lanes > 1 a window of tap_lanes consecutive
    // chunks / tap_lanes + 1 offsets is read per cycle: words of tap_words chunks (two ports), and
    // the offsets in tap_words banks
    #pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = CONFIG_T::n_lanes * CONFIG_T::tap_words
    #pragma HLS ARRAY_RESHAPE variable = groups cyclic factor = CONFIG_T::tap_words
    #pragma HLS ARRAY_PARTITION variable = offsets cyclic factor = CONFIG_T::tap_words
    #pragma HLS ARRAY_PARTITION variable = bias cyclic factor = CONFIG_T::n_lanes
    const unsigned I_HW = CONFIG_T::in_height * CONFIG_T::in_width;
    const unsigned R = CONFIG_T::read_lanes; // <= in_width: a word wraps at most one row
    const unsigned N_IN = CONFIG_T::n_chan * I_HW, N_WORDS = (N_IN + R - 1) / R;
    // the listed words of one frame: where each starts (channel, row, column), its mask, a value
    ap_uint<CONFIG_T::ev_chan_bits> ev_c[N_WORDS];
    ap_uint<CONFIG_T::ev_row_bits> ev_y[N_WORDS];
    ap_uint<CONFIG_T::ev_col_bits> ev_x[N_WORDS];
    ap_uint<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS];
    unsigned n_ev_c[CONFIG_T::n_chan + 1]; // events per input channel of one frame (back_to_back; +1: a straddling last word)
    typename CONFIG_T::v_t v[CONFIG_T::fire_lanes][CONFIG_T::v_depth];
    typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth];
    #pragma HLS ARRAY_PARTITION variable = v complete dim = 1
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 1
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    init_state<CONFIG_T>(bias, acc);
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
            unsigned n_w = 0, n_ev = 0, cc = 0, yy = 0, xx = 0, pc = 0; // pc: position in channel cc
        Compact:
            for (unsigned wd = 0; wd < N_WORDS; wd++) {
                #pragma HLS PIPELINE II = 1
                const ap_uint<R> m = active_word<R>(data, base_t, wd * R, N_IN);
                if (m != 0) { // event-driven: a silent word costs no more than this cycle
                    ev_c[n_w] = cc;
                    ev_y[n_w] = yy;
                    ev_x[n_w] = xx;
                    ev_m[n_w] = m;
                    ev_v[n_w] = data[base_t + wd * R + lowest_set<R>(m)]; // the value matters for pixels (R = 1)
                    n_w++;
                    n_ev += popcount<R>(m);
                    if (CONFIG_T::back_to_back) { // events per channel (a word may straddle two)
                        const unsigned rem = I_HW - pc; // positions of channel cc in this word: min(rem, R)
                        const ap_uint<R> lo = rem >= R ? m : ap_uint<R>(m & ((ap_uint<R + 1>(1) << rem) - 1));
                        n_ev_c[cc] += popcount<R>(lo);
                        if (rem < R)
                            n_ev_c[cc + 1] += popcount<R>(m ^ lo);
                    }
                }
                pc += R;
                if (pc >= I_HW)
                    pc -= I_HW;
                advance_position<CONFIG_T>(R, cc, yy, xx);
            }
            word_events<R> walk(ev_m, n_w);
            if (CONFIG_T::back_to_back) {
                // one channel group and a kernel whose rows make consecutive events of one input
                // channel reach different output rows within the scatter depth
                // (spikehls.hls.lanes.events_back_to_back): the events of a channel follow each
                // other in one pipelined loop of iters_per_event iterations each; it drains once
                // per channel, where raster order (and so the argument) starts over
            EvChan:
                for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                    const unsigned n_it = n_ev_c[c] * CONFIG_T::iters_per_event;
                    n_ev_c[c] = 0; // ready for the next frame
                    unsigned ci = 0, iy = 0, ix = 0, ky = 0, kx0 = 0;
                    data_T x = 0;
                EvFlat:
                    for (unsigned it = 0; it < n_it; it++) {
                        #pragma HLS PIPELINE II = 1
                        #pragma HLS DEPENDENCE variable = acc inter false
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
                        conv_taps<CONFIG_T>(x, ci, iy, ix, ky, kx0, offsets, groups, weights, acc);
                        kx0 += CONFIG_T::tap_lanes;
                        if (kx0 == CONFIG_T::filt_width) {
                            kx0 = 0;
                            if (++ky == CONFIG_T::filt_height)
                                ky = 0;
                        }
                    }
                }
            } else {
            Events:
                for (unsigned e = 0; e < n_ev; e++) {
                    unsigned wi;
                    const unsigned f = walk.next(ev_m, n_w, wi);
                    unsigned ci = ev_c[wi], iy = ev_y[wi], ix = ev_x[wi];
                    advance_position<CONFIG_T>(f, ci, iy, ix);
                    const data_T x = ev_v[wi];
                    SPK_STAT(CONFIG_T, in_events, 1);
                    if (CONFIG_T::n_groups == 1) {
                        // one chunk per row at most: the taps of one input reach distinct outputs,
                        // so the tap loop pipelines at II=1 and drains before the next event
                    KernIter:
                        for (unsigned it = 0; it < CONFIG_T::iters_per_event; it++) {
                            #pragma HLS PIPELINE II = 1
                            #pragma HLS DEPENDENCE variable = acc inter false
                            const unsigned ky = it / (CONFIG_T::filt_width / CONFIG_T::tap_lanes);
                            const unsigned kx0 = (it % (CONFIG_T::filt_width / CONFIG_T::tap_lanes)) * CONFIG_T::tap_lanes;
                            conv_taps<CONFIG_T>(x, ci, iy, ix, ky, kx0, offsets, groups, weights, acc);
                        }
                    } else {
                    KernY:
                        for (unsigned ky = 0; ky < CONFIG_T::filt_height; ky++) {
                        KernX:
                            for (unsigned kx = 0; kx < CONFIG_T::filt_width; kx++) {
                                unsigned oy, ox;
                                if (!conv_target<CONFIG_T>(iy, ix, ky, kx, oy, ox))
                                    continue;
                                const unsigned row = (ci * CONFIG_T::filt_height + ky) * CONFIG_T::filt_width + kx;
                                unsigned n = input_event<CONFIG_T>(x, row, oy * CONFIG_T::out_width + ox, offsets, groups,
                                                                   weights, acc);
                                SPK_STAT(CONFIG_T, synops, n);
                            }
                        }
                    }
                }
            }
            if (CONFIG_T::has_skip)
                skip_current<skip_T, CONFIG_T>(skip, t, skip_offsets, skip_groups, skip_weights, acc);
        }
        fire_step<res_T, CONFIG_T>(t, v, acc, bias, thr, breaks, trains, res);
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
    ap_uint<CONFIG_T::ev_index_bits> ev_w[N_WORDS]; // the listed words of one frame
    ap_uint<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS];
    typename CONFIG_T::v_t v[CONFIG_T::fire_lanes][CONFIG_T::v_depth];
    typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth];
    #pragma HLS ARRAY_PARTITION variable = v complete dim = 1
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 1
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    init_state<CONFIG_T>(bias, acc);
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
        if (t == 0 || !CONFIG_T::current_once) { // direct encoding: one frame, one current
            unsigned n_w;
            const unsigned n_ev = scan_words<R>(data, t * CONFIG_T::n_in, CONFIG_T::n_in, ev_w, ev_m, ev_v, n_w);
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
    typename CONFIG_T::accum_t acc[CONFIG_T::n_lanes][CONFIG_T::fire_lanes][CONFIG_T::acc_depth];
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 1
    const unsigned R = CONFIG_T::read_lanes, N_WORDS = (CONFIG_T::n_in + R - 1) / R;
    ap_uint<CONFIG_T::ev_index_bits> ev_w[N_WORDS]; // the listed words of one frame
    ap_uint<R> ev_m[N_WORDS];
    data_T ev_v[N_WORDS]; // unused: every readout event is a spike
InitAcc:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II = 1
        for (unsigned j = 0; j < CONFIG_T::n_lanes; j++)
            acc[j][0][g] = 0;
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
                    acc[j][0][g] += bias[k];
            }
        }
        unsigned n_w;
        const unsigned n_ev = scan_words<R>(data, t * CONFIG_T::n_in, CONFIG_T::n_in, ev_w, ev_m, ev_v, n_w);
        dense_events<CONFIG_T>(n_ev, n_w, ev_w, ev_m, ev_v, offsets, groups, weights, acc);
    }
Out:
    for (unsigned k = 0; k < CONFIG_T::n_out; k++)
        res[k] = acc[k % CONFIG_T::n_lanes][0][k / CONFIG_T::n_lanes];
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
