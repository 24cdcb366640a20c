// spikehls: spike-driven, accumulate-only layers for hls4ml (io_parallel).
//
// Every layer runs the whole time loop inside (input [T][...], output [T][...]) and keeps
// its membranes as local arrays, so one call is one inference. The integer semantics are
// those of quantize/intnet.py, bit for bit.
//
// Arithmetic on weights: in spiking_conv2d / spiking_dense / spike_readout the only use of a
// weight is `acc[...] += weights[e]` for an input that spiked. The table holds nonzero
// weights only (zero / pruned weights have no entry: no adder, no cycle). The inner loop over
// an input's nonzero fan-out is unrolled by CONFIG_T::parallelism (adds per cycle) with the
// accumulators partitioned to match: the area/latency knob of a layer.
// The direct-encoded first layer (8-bit pixels) is the one multiply-accumulate layer
// (direct_conv2d / direct_dense in nnet_spiking_direct.h), reported as such; scatter_mac is
// its inner loop, also used by a skip whose source is the direct-encoded input.
#ifndef NNET_SPIKING_H_
#define NNET_SPIKING_H_

#include "ap_fixed.h"
#include "nnet_spiking_common.h"

namespace nnet {

// ------------------------------------------------------------------------------------------
// helpers: scatter one input event through a nonzero table into the accumulators
// ------------------------------------------------------------------------------------------

// Add the nonzero weights of table row `row` to acc[target * stride + base].
template <typename CONFIG_T, typename T_idx, typename T_tgt, typename T_w, typename T_acc>
SPK_INLINE unsigned scatter_add(unsigned row, unsigned base, unsigned stride, const T_idx offsets[], const T_tgt targets[],
                            const T_w weights[], T_acc acc[]) {
    #pragma HLS INLINE
    const unsigned begin = offsets[row], end = offsets[row + 1];
ScatterAdd:
    for (unsigned e = begin; e < end; e++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS UNROLL factor = CONFIG_T::parallelism
        const unsigned target = targets[e]; // index arithmetic in plain unsigned
        acc[base + target * stride] += weights[e];
    }
    return end - begin;
}

// Multiply-accumulate twin of scatter_add, for 8-bit pixels (direct encoding) only: used by the
// direct-encoded first layer and by a skip taken from a direct-encoded input. Never on spikes.
template <typename CONFIG_T, typename T_idx, typename T_tgt, typename T_w, typename T_acc>
SPK_INLINE unsigned scatter_mac(unsigned row, unsigned base, unsigned stride, ap_uint<8> pixel, const T_idx offsets[],
                            const T_tgt targets[], const T_w weights[], T_acc acc[]) {
    #pragma HLS INLINE
    const unsigned begin = offsets[row], end = offsets[row + 1];
ScatterMac:
    for (unsigned e = begin; e < end; e++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS UNROLL factor = CONFIG_T::parallelism
        const unsigned target = targets[e];
        acc[base + target * stride] += weights[e] * pixel;
    }
    return end - begin;
}

// One input value hitting table row `row`: a spike adds the row's weights (scatter_add); an
// 8-bit pixel (direct encoding) multiplies them (scatter_mac). Chosen by overload on the
// element type, so a spiking tensor can never reach the multiplier. Returns the synops done.
template <typename CONFIG_T, typename T_idx, typename T_tgt, typename T_w, typename T_acc>
SPK_INLINE unsigned input_event(spike_t s, unsigned row, unsigned base, unsigned stride, const T_idx offsets[],
                            const T_tgt targets[], const T_w weights[], T_acc acc[]) {
    #pragma HLS INLINE
    (void)s; // callers only pass active inputs (is_active)
    return scatter_add<CONFIG_T>(row, base, stride, offsets, targets, weights, acc);
}

template <typename CONFIG_T, typename T_idx, typename T_tgt, typename T_w, typename T_acc>
SPK_INLINE unsigned input_event(ap_ufixed<8, 0> px, unsigned row, unsigned base, unsigned stride, const T_idx offsets[],
                            const T_tgt targets[], const T_w weights[], T_acc acc[]) {
    #pragma HLS INLINE
    const ap_uint<8> pixel = px.range(7, 0);
    return scatter_mac<CONFIG_T>(row, base, stride, pixel, offsets, targets, weights, acc);
}

SPK_INLINE bool is_active(spike_t s) { return s != 0; }
SPK_INLINE bool is_active(ap_ufixed<8, 0> px) {
    const ap_uint<8> bits = px.range(7, 0);
    return bits != 0;
}

// Skip (residual) current of a spiking conv: the earlier layer's output sampled with
// skip_stride, through a 1x1 table (identity skips are the diagonal table of their gains).
template <class skip_T, typename CONFIG_T>
inline void skip_current(const skip_T skip[], unsigned t, const typename CONFIG_T::skip_index_t skip_offsets[],
                         const typename CONFIG_T::skip_target_t skip_targets[],
                         const typename CONFIG_T::skip_weight_t skip_weights[], typename CONFIG_T::accum_t acc[]) {
    #pragma HLS INLINE
    const unsigned S_HW = CONFIG_T::skip_height * CONFIG_T::skip_width;
    const unsigned O_HW = CONFIG_T::out_height * CONFIG_T::out_width;
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
                unsigned n = input_event<CONFIG_T>(x, cs, oy * CONFIG_T::out_width + ox, O_HW, skip_offsets, skip_targets,
                                                   skip_weights, acc);
                SPK_STAT(CONFIG_T, synops, n);
            }
        }
    }
}

// Fire every neuron of one time step and write its spike.
template <class res_T, typename CONFIG_T>
SPK_INLINE void fire_all(unsigned t, typename CONFIG_T::v_t v[], const typename CONFIG_T::accum_t acc[],
                     const typename CONFIG_T::thr_t thr[], res_T res[]) {
    #pragma HLS INLINE
    const unsigned PER_CH = CONFIG_T::n_out / CONFIG_T::n_filt;
    unsigned spikes = 0;
FireChan:
    for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
    FireNeuron:
        for (unsigned j = 0; j < PER_CH; j++) {
            #pragma HLS PIPELINE II = 1
            const unsigned n = f * PER_CH + j;
            spike_t s = neuron_step<CONFIG_T>(v[n], acc[n], thr[f]);
            res[t * CONFIG_T::n_out + n] = s;
            spikes += s;
        }
    }
    SPK_STAT(CONFIG_T, out_spikes, spikes);
}

template <typename CONFIG_T> SPK_INLINE void init_currents(const typename CONFIG_T::bias_t bias[], typename CONFIG_T::accum_t acc[]) {
    #pragma HLS INLINE
    const unsigned PER_CH = CONFIG_T::n_out / CONFIG_T::n_filt;
BiasChan:
    for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
    BiasNeuron:
        for (unsigned j = 0; j < PER_CH; j++) {
            #pragma HLS PIPELINE II = 1
            acc[f * PER_CH + j] = bias[f];
        }
    }
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

// ------------------------------------------------------------------------------------------
// spiking conv2d (+ optional skip), accumulate-only
// ------------------------------------------------------------------------------------------
template <class data_T, class skip_T, class res_T, typename CONFIG_T>
void spiking_conv2d_core(const data_T data[], res_T res[], const typename CONFIG_T::bias_t bias[],
                         const typename CONFIG_T::thr_t thr[], const typename CONFIG_T::index_t offsets[],
                         const typename CONFIG_T::target_t targets[], const typename CONFIG_T::weight_t weights[],
                         const skip_T *skip, const typename CONFIG_T::skip_index_t skip_offsets[],
                         const typename CONFIG_T::skip_target_t skip_targets[],
                         const typename CONFIG_T::skip_weight_t skip_weights[]) {
    const unsigned I_HW = CONFIG_T::in_height * CONFIG_T::in_width;
    const unsigned O_HW = CONFIG_T::out_height * CONFIG_T::out_width;
    typename CONFIG_T::v_t v[CONFIG_T::n_out];
    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = acc cyclic factor = CONFIG_T::parallelism
InitV:
    for (unsigned n = 0; n < CONFIG_T::n_out; n++)
        v[n] = 0;
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
        init_currents<CONFIG_T>(bias, acc);
        const unsigned base_t = t * CONFIG_T::n_chan * I_HW;
    InChan:
        for (unsigned ci = 0; ci < CONFIG_T::n_chan; ci++) {
        InY:
            for (unsigned iy = 0; iy < CONFIG_T::in_height; iy++) {
            InX:
                for (unsigned ix = 0; ix < CONFIG_T::in_width; ix++) {
                    const data_T x = data[base_t + ci * I_HW + iy * CONFIG_T::in_width + ix];
                    if (!is_active(x))
                        continue; // event-driven: silent inputs cost nothing
                    SPK_STAT(CONFIG_T, in_events, 1);
                KernY:
                    for (unsigned ky = 0; ky < CONFIG_T::filt_height; ky++) {
                    KernX:
                        for (unsigned kx = 0; kx < CONFIG_T::filt_width; kx++) {
                            unsigned oy, ox;
                            if (!conv_target<CONFIG_T>(iy, ix, ky, kx, oy, ox))
                                continue;
                            const unsigned row = (ci * CONFIG_T::filt_height + ky) * CONFIG_T::filt_width + kx;
                            unsigned n = input_event<CONFIG_T>(x, row, oy * CONFIG_T::out_width + ox, O_HW, offsets,
                                                               targets, weights, acc);
                            SPK_STAT(CONFIG_T, synops, n);
                        }
                    }
                }
            }
        }
        if (CONFIG_T::has_skip)
            skip_current<skip_T, CONFIG_T>(skip, t, skip_offsets, skip_targets, skip_weights, acc);
        fire_all<res_T, CONFIG_T>(t, v, acc, thr, res);
    }
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

template <class data_T, class res_T, typename CONFIG_T>
void spiking_conv2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                    typename CONFIG_T::bias_t bias[CONFIG_T::n_filt], typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                    typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                    typename CONFIG_T::target_t targets[CONFIG_T::n_table],
                    typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    spike_t no_skip[1] = {0}; // never read: has_skip is false (the skip table types alias the main ones)
    spiking_conv2d_core<data_T, spike_t, res_T, CONFIG_T>(data, res, bias, thr, offsets, targets, weights, no_skip, offsets,
                                                          targets, weights);
}

template <class data_T, class skip_T, class res_T, typename CONFIG_T>
void spiking_conv2d_skip(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[CONFIG_T::n_time * CONFIG_T::n_skip],
                         res_T res[CONFIG_T::n_time * CONFIG_T::n_out], typename CONFIG_T::bias_t bias[CONFIG_T::n_filt],
                         typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                         typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                         typename CONFIG_T::target_t targets[CONFIG_T::n_table],
                         typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                         typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                         typename CONFIG_T::skip_target_t skip_targets[CONFIG_T::skip_table],
                         typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    spiking_conv2d_core<data_T, skip_T, res_T, CONFIG_T>(data, res, bias, thr, offsets, targets, weights, skip, skip_offsets,
                                                 skip_targets, skip_weights);
}

// ------------------------------------------------------------------------------------------
// spiking dense, accumulate-only (input flattened in C,H,W order = storage order)
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spiking_dense(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                   typename CONFIG_T::bias_t bias[CONFIG_T::n_out], typename CONFIG_T::thr_t thr[CONFIG_T::n_out],
                   typename CONFIG_T::index_t offsets[CONFIG_T::n_in + 1], typename CONFIG_T::target_t targets[CONFIG_T::n_table],
                   typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    typename CONFIG_T::v_t v[CONFIG_T::n_out];
    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = acc cyclic factor = CONFIG_T::parallelism
InitV:
    for (unsigned n = 0; n < CONFIG_T::n_out; n++)
        v[n] = 0;
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
        init_currents<CONFIG_T>(bias, acc);
    Inputs:
        for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
            const data_T x = data[t * CONFIG_T::n_in + i];
            if (!is_active(x))
                continue; // event-driven
            SPK_STAT(CONFIG_T, in_events, 1);
            unsigned n = input_event<CONFIG_T>(x, i, 0, 1, offsets, targets, weights, acc);
            SPK_STAT(CONFIG_T, synops, n);
        }
        fire_all<res_T, CONFIG_T>(t, v, acc, thr, res);
    }
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

// ------------------------------------------------------------------------------------------
// non-spiking readout: out[k] = sum_t (bias[k] + sum_{i spiked} W[k, i]), accumulate-only
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spike_readout(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                   typename CONFIG_T::bias_t bias[CONFIG_T::n_out], typename CONFIG_T::index_t offsets[CONFIG_T::n_in + 1],
                   typename CONFIG_T::target_t targets[CONFIG_T::n_table],
                   typename CONFIG_T::weight_t weights[CONFIG_T::n_table]) {
    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = acc cyclic factor = CONFIG_T::parallelism
InitAcc:
    for (unsigned k = 0; k < CONFIG_T::n_out; k++)
        acc[k] = 0;
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
    Bias:
        for (unsigned k = 0; k < CONFIG_T::n_out; k++)
            acc[k] += bias[k];
    Inputs:
        for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
            if (!data[t * CONFIG_T::n_in + i])
                continue;
            SPK_STAT(CONFIG_T, in_events, 1);
            unsigned n = scatter_add<CONFIG_T>(i, 0, 1, offsets, targets, weights, acc);
            SPK_STAT(CONFIG_T, synops, n);
        }
    }
Out:
    for (unsigned k = 0; k < CONFIG_T::n_out; k++)
        res[k] = acc[k];
}

// ------------------------------------------------------------------------------------------
// max pooling on spikes: OR over the window
// ------------------------------------------------------------------------------------------
template <class data_T, class res_T, typename CONFIG_T>
void spike_maxpool2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out]) {
    const unsigned I_HW = CONFIG_T::in_height * CONFIG_T::in_width;
    const unsigned O_HW = CONFIG_T::out_height * CONFIG_T::out_width;
    unsigned spikes = 0;
TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_time; t++) {
    Chan:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        OutY:
            for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++) {
            OutX:
                for (unsigned ox = 0; ox < CONFIG_T::out_width; ox++) {
                    #pragma HLS PIPELINE II = 1
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
    SPK_STAT(CONFIG_T, out_spikes, spikes);
#ifndef __SYNTHESIS__
    spike_capture<CONFIG_T::n_time * CONFIG_T::n_out>(CONFIG_T::layer_id, res);
#endif
}

} // namespace nnet

#endif
