// spikehls: shared pieces of the spike-driven, accumulate-only layers.
//
// Spikes are ap_uint<1> (never hls4ml's XNOR binary type: a 0 spike must add nothing).
// Tensors are flat arrays in [T][C][H][W] order, time outermost, so a layer sees a whole
// sample and keeps its membranes as local variables: no state crosses two samples.
// Weights of a spiking layer are stored as a compressed table of NONZERO entries grouped by
// the input they belong to (offsets / target index / value): a pruned or zero weight has no
// entry, so it costs neither an adder nor a cycle, and the only operation on a weight is
// `acc[target] += value` when its input spiked.
#ifndef NNET_SPIKING_COMMON_H_
#define NNET_SPIKING_COMMON_H_

#include "ap_int.h"

// g++ ignores "#pragma HLS INLINE"; force the same inlining in C-simulation (speed only).
#if defined(__GNUC__) && !defined(__SYNTHESIS__)
#define SPK_INLINE inline __attribute__((always_inline))
#else
#define SPK_INLINE inline
#endif

namespace nnet {

typedef ap_uint<1> spike_t;

#ifndef __SYNTHESIS__
// Per-layer event counters, C-simulation only (they feed the latency model): input spikes
// seen, weight additions performed (synaptic ops) and output spikes, summed until reset.
struct spike_stats {
    unsigned long long in_events;
    unsigned long long synops;
    unsigned long long out_spikes;
};
static const int spike_stats_max_layers = 1024;
inline spike_stats *spike_stats_table() {
    static spike_stats table[spike_stats_max_layers];
    return table;
}
inline void spike_stats_reset() {
    spike_stats *t = spike_stats_table();
    for (int i = 0; i < spike_stats_max_layers; i++) {
        t[i].in_events = 0;
        t[i].synops = 0;
        t[i].out_spikes = 0;
    }
}
// Capture hook: when the driver points capture_slot(layer_id) at a byte buffer, the layer
// copies its output spikes there (one byte per spike, [T][C][H][W]).
inline unsigned char **spike_capture_table() {
    static unsigned char *slots[spike_stats_max_layers] = {0};
    return slots;
}
template <unsigned N> inline void spike_capture(int layer_id, const spike_t out[N]) {
    unsigned char *dst = spike_capture_table()[layer_id];
    if (dst) {
        for (unsigned i = 0; i < N; i++)
            dst[i] = (unsigned char)out[i].to_uint();
    }
}
#define SPK_STAT(cfg, field, n) (nnet::spike_stats_table()[cfg::layer_id].field += (n))
#else
#define SPK_STAT(cfg, field, n)
#endif

// Integer IF/LIF update of one neuron for one time step (DESIGN.md section 3, intnet.py):
//   V = V - (V >> k) (k > 0), V = sat(V + I, v_bits), s = V >= thr, reset by subtract or to zero.
// Only shifts, adds, a compare and a clamp: no multiplier.
template <typename CONFIG_T>
SPK_INLINE spike_t neuron_step(typename CONFIG_T::v_t &v_state, typename CONFIG_T::accum_t current,
                           typename CONFIG_T::thr_t thr) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::sum_t sum_t;
    sum_t v = v_state;
    if (CONFIG_T::leak_shift > 0) {
        v = v - (v >> CONFIG_T::leak_shift);
    }
    v = v + current;
    const sum_t vmax = CONFIG_T::v_max;
    const sum_t vmin = CONFIG_T::v_min;
    if (v > vmax)
        v = vmax;
    if (v < vmin)
        v = vmin;
    spike_t s = (v >= thr) ? 1 : 0;
    if (s) {
        if (CONFIG_T::reset_subtract)
            v = v - thr;
        else
            v = 0;
    }
    v_state = v;
    return s;
}

} // namespace nnet

#endif
