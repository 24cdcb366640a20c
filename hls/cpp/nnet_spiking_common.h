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
#include "nnet_spiking_types.h" // spk::int_t / spk::uint_t: ap_int / ap_uint in synthesis, fast in C-simulation
#ifndef __SYNTHESIS__
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nnet_helpers.h" // hls4ml's weight loader (spike_load_weights falls back to it) and WEIGHTS_DIR
#endif

// g++ ignores "#pragma HLS INLINE"; force the same inlining in C-simulation (speed only).
#if defined(__GNUC__) && !defined(__SYNTHESIS__)
#define SPK_INLINE inline __attribute__((always_inline))
#else
#define SPK_INLINE inline
#endif

namespace nnet {

typedef ap_uint<1> spike_t;

// Storage of every array of every kernel: decided by spikehls, the same decision the Verilog twin
// builds (hls/rtl/, ram_style / rom_style) and the cost model counts (hls/estimate.py).
// spikehls.hls.twin_cost.layer_memories -- the memory rule (spikehls.hls.memory) applied to the
// twin's arrays -- gives each array of a layer its style; hls/templates.py writes it into the
// layer's config as CONFIG_T::<array>_mem (for the arrays only the kernels have, the scan lists,
// the rule itself with an asynchronous read). The packing is the twin's: the accumulators are
// fire_lanes banks (pos % F) of acc_depth words, each word the n_lanes channel lanes of one
// position (acc [F][acc_depth][L], lane dimension reshaped into the word), the membranes one
// word of the fire_lanes lanes (v [v_depth][F], reshaped), so a block RAM holds what the twin's
// does. Vitis HLS (UG1399, "pragma HLS bind_storage": `#pragma HLS bind_storage variable=<variable>
// type=<type> [impl=<value> latency=<int>]`) takes the impl as a keyword, never a constant
// expression, so every style has its own binder below, the impl literal in its text, and a kernel
// binds an array with bind_*(array, mem_tag<CONFIG_T::<array>_mem>()): overload resolution on the
// tag picks the one binder of the layer's style at compile time -- the others are not called for
// that array, so Vitis never sees two bindings of one array (a run-time `if` on the constant
// would leave every branch's pragma in the code Vitis parses). The binders are inlined and their
// pragmas name their array argument: a pragma on an argument binds the array it names, as
// hls4ml's kernels bind their weight arguments (nnet_dense_resource.h) and these kernels always
// bound the weight tables, the top function's arrays.
//   registers   -> ARRAY_PARTITION complete (every word a register; no BIND_STORAGE)
//   distributed -> BIND_STORAGE impl = lutram (ram_2p / rom_2p)
//   block       -> BIND_STORAGE impl = bram latency = 1 (ram_2p / rom_2p)
//   ultra       -> BIND_STORAGE impl = uram latency = 1 (ram_2p; never a ROM: URAM288 has no
//                  initial contents, and the rule never puts a ROM there -- refused below)
// A block / ultra RAM reads one cycle after the address (latency = 1): every read-modify-write
// loop is either argued on distinct words (no distance or latency assumed) or forwards the last
// writes (acc_forward in nnet_spiking.h).
enum mem_style { mem_registers = 0, mem_distributed = 1, mem_block = 2, mem_ultra = 3 };
template <int S> struct mem_tag {};

// A RAM of one word dimension (the scan lists, the event counts): registers or LUTRAM.
template <class T> SPK_INLINE void bind_ram(T a[], mem_tag<mem_registers>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 0
}
template <class T> SPK_INLINE void bind_ram(T a[], mem_tag<mem_distributed>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = lutram
}

// The accumulators [F][D][L]: F banks (dim 1 partitioned) of D words of the L lanes (dim 3
// reshaped into the word) -- the twin's acc_mem_<f>, L * acc_bits wide and acc_depth deep.
template <class T, unsigned D, unsigned L> SPK_INLINE void bind_lanes(T a[][D][L], mem_tag<mem_registers>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 0
}
template <class T, unsigned D, unsigned L> SPK_INLINE void bind_lanes(T a[][D][L], mem_tag<mem_distributed>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 1
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 3
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = lutram
}
template <class T, unsigned D, unsigned L> SPK_INLINE void bind_lanes(T a[][D][L], mem_tag<mem_block>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 1
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 3
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = bram latency = 1
}
template <class T, unsigned D, unsigned L> SPK_INLINE void bind_lanes(T a[][D][L], mem_tag<mem_ultra>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 1
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 3
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = uram latency = 1
}

// The membranes [D][F]: one memory of D words of the F fire lanes (dim 2 reshaped into the word)
// -- the twin's v_mem, F * v_bits wide.
template <class T, unsigned F> SPK_INLINE void bind_word(T a[][F], mem_tag<mem_registers>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 0
}
template <class T, unsigned F> SPK_INLINE void bind_word(T a[][F], mem_tag<mem_distributed>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 2
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = lutram
}
template <class T, unsigned F> SPK_INLINE void bind_word(T a[][F], mem_tag<mem_block>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 2
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = bram latency = 1
}
template <class T, unsigned F> SPK_INLINE void bind_word(T a[][F], mem_tag<mem_ultra>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_RESHAPE variable = a complete dim = 2
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = uram latency = 1
}

// A ROM argument (the layer's tables, bias, thresholds, fire tables: hls4ml's weight arrays). Its
// word packing is the kernel's (ARRAY_RESHAPE / ARRAY_PARTITION next to the read it serves).
template <class T> SPK_INLINE void bind_rom(const T a[], mem_tag<mem_registers>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable = a complete dim = 0
}
template <class T> SPK_INLINE void bind_rom(const T a[], mem_tag<mem_distributed>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable = a type = rom_2p impl = lutram
}
template <class T> SPK_INLINE void bind_rom(const T a[], mem_tag<mem_block>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable = a type = rom_2p impl = bram latency = 1
}
template <class T> SPK_INLINE void bind_rom(const T a[], mem_tag<mem_ultra>) {
    static_assert(sizeof(T) == 0, "a ROM in URAM: URAM288 has no initial contents (spikehls.hls.memory never picks it)");
}

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

// Nonzero entries of one chunk of L weights (the synop count of chunk_add), C-simulation only. Byte
// weights (a spk::fint of <= 8 bits: one byte each, 0 is the zero byte) are counted 8 at a time in
// a 64-bit word (a byte is nonzero iff ((b & 0x7f) + 0x7f) | b has its top bit set); anything else
// compares itself. Inside the unrolled lane loop the count stayed one scalar compare per lane and
// took ~45 % of a ResNet-19 C-simulation.
template <class T> SPK_INLINE bool spike_nonzero(const T &w) { return w != 0; }
template <class T> struct spike_byte_weight { static const bool value = false; };
#ifndef SPK_CSIM_AP_TYPES
template <int W, bool S> SPK_INLINE bool spike_nonzero(const spk::fint<W, S> &w) { return w.V != 0; }
template <int W, bool S> struct spike_byte_weight<spk::fint<W, S> > { static const bool value = W <= 8; };
#endif
template <unsigned L, class T, bool BYTES> struct spike_nonzero_count {
    static SPK_INLINE unsigned count(const T *w) {
        unsigned n = 0;
        for (unsigned j = 0; j < L; j++)
            n += spike_nonzero(w[j]);
        return n;
    }
};
template <unsigned L, class T> struct spike_nonzero_count<L, T, true> {
    static SPK_INLINE unsigned count(const T *w) {
        const unsigned char *p = reinterpret_cast<const unsigned char *>(w);
        unsigned n = 0;
        for (unsigned k = 0; k + 8 <= L; k += 8) {
            unsigned long long x;
            std::memcpy(&x, p + k, 8);
            const unsigned long long lo7 = 0x7f7f7f7f7f7f7f7fULL;
            const unsigned long long top = ((((x & lo7) + lo7) | x) & ~lo7) >> 7; // 1 per nonzero byte
            n += (unsigned)((top * 0x0101010101010101ULL) >> 56);
        }
        for (unsigned j = L - L % 8; j < L; j++)
            n += p[j] != 0;
        return n;
    }
};
template <unsigned L, class T> SPK_INLINE unsigned spike_count_nonzero(const T *w) {
    return spike_nonzero_count<L, T, spike_byte_weight<T>::value && sizeof(T) == 1>::count(w);
}

// C-simulation weight loader (the top's "load weights" block, #ifndef __SYNTHESIS__; the
// synthesized code never calls it). hls4ml's load_weights_from_txt parses every value through a
// std::istringstream and ap_int's string operator>> (~0.5 us a value: 7 s of a VGG-16's start-up);
// the weight files of our layers hold plain decimal integers (spikehls.hls.weights), read here
// with a scanner of digits: the same integers into the same arrays. spikehls.hls.extension makes
// the top call it; a type that is not ap_int / ap_uint goes to hls4ml's loader.
template <typename T> struct spike_is_ap_integer { static const bool value = false; };
template <int W> struct spike_is_ap_integer<ap_int<W> > { static const bool value = true; };
template <int W> struct spike_is_ap_integer<ap_uint<W> > { static const bool value = true; };
#ifndef SPK_CSIM_AP_TYPES
template <int W, bool S> struct spike_is_ap_integer<spk::fint<W, S> > { static const bool value = true; };
#endif
template <bool B> struct spike_bool_tag {};

inline void spike_load_fail(const std::string &path, const char *what) {
    std::fprintf(stderr, "ERROR: weight file %s: %s\n", path.c_str(), what);
    std::exit(1);
}

template <class T, size_t SIZE> void spike_load_weights(T *w, const char *fname, spike_bool_tag<false>) {
    load_weights_from_txt<T, SIZE>(w, fname);
}

template <class T, size_t SIZE> void spike_load_weights(T *w, const char *fname, spike_bool_tag<true>) {
    const std::string path = std::string(WEIGHTS_DIR) + "/" + std::string(fname);
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        spike_load_fail(path, "does not exist");
    std::vector<char> buf;
    long size = -1;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        size = std::ftell(f);
        std::rewind(f);
    }
    if (size >= 0) { // one read into a buffer of the file's size (no regrowth: start-up)
        buf.resize((size_t)size);
        const size_t got = size ? std::fread(&buf[0], 1, (size_t)size, f) : 0;
        buf.resize(got);
    }
    char chunk[1 << 16];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) // the rest, if the file grew or had no size
        buf.insert(buf.end(), chunk, chunk + got);
    std::fclose(f);
    buf.push_back('\0');
    const char *p = &buf[0];
    size_t i = 0;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\r' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const bool neg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            spike_load_fail(path, "not a list of integers");
        unsigned long long mag = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            const unsigned d = (unsigned)(*p - '0');
            // mag * 10 + d > 2^64 - 1 (without a division per digit: the start-up of a VGG-16)
            if (mag > 1844674407370955161ULL || (mag == 1844674407370955161ULL && d > 5))
                spike_load_fail(path, "a value does not fit 64 bits");
            mag = mag * 10 + d;
        }
        while (*p == 'u' || *p == 'U' || *p == 'l' || *p == 'L')
            p++;
        if (*p != '\0' && *p != ',' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            spike_load_fail(path, "not a list of integers");
        if (i >= SIZE)
            spike_load_fail(path, "more values than the array holds");
        if (neg) {
            if (mag > (1ULL << 63))
                spike_load_fail(path, "a value does not fit 64 bits");
            w[i] = (long long)(0ULL - mag); // two's complement: -2^63 .. 0
        } else {
            w[i] = mag;
        }
        i++;
    }
    if (i != SIZE)
        spike_load_fail(path, "fewer values than the array holds");
}

template <class T, size_t SIZE> void spike_load_weights(T *w, const char *fname) {
    spike_load_weights<T, SIZE>(w, fname, spike_bool_tag<spike_is_ap_integer<T>::value>());
}
#else
#define SPK_STAT(cfg, field, n)
#endif

// Integer IF/LIF update of one neuron for one time step (DESIGN.md section 3, intnet.py):
//   V = V - (V >> k) (k > 0), V = sat(V + I, v_bits), s = V >= thr, reset by subtract or to zero.
// Only shifts, adds, a compare and a clamp: no multiplier.
// The current is the accumulator (accum_t) or, for a stream layer, bias + sign * z (cur_t).
template <typename CONFIG_T, typename cur_T>
SPK_INLINE spike_t neuron_step(typename CONFIG_T::v_t &v_state, cur_T current, typename CONFIG_T::thr_t thr) {
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
