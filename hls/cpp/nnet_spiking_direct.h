// spikehls: the direct-encoded first layer (8-bit pixels in, spikes out).
//
// With direct encoding the first layer sees pixel intensities, not spikes, so it is a
// quantized multiply-accumulate layer (reported as such, DESIGN.md section 3). It shares the
// event loop, the neuron and the nonzero table with the spiking layers; the element type of
// its input (ap_ufixed<8,0> = pixel * 2^-8, what QONNX feeds) selects input_event's
// multiply-accumulate overload (chunk_mac). Zero pixels and zero weights are skipped; the
// repeated frame's current is computed once (CONFIG_T::current_once) and, where the neuron's
// spike trains under a constant current fit a small table (CONFIG_T::fire_once,
// spikehls.hls.spike_trains), fired once for all T steps.
// These wrappers exist so that the generated firmware names such a layer for what it is.
#ifndef NNET_SPIKING_DIRECT_H_
#define NNET_SPIKING_DIRECT_H_

#include "nnet_spiking.h"

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void direct_conv2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                   typename CONFIG_T::bias_t bias[CONFIG_T::n_filt], typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                   typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                   typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                   typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                   typename CONFIG_T::break_t breaks[CONFIG_T::n_filt * CONFIG_T::n_breaks],
                   typename CONFIG_T::train_t trains[CONFIG_T::n_filt * (CONFIG_T::n_breaks + 1)]) {
    spike_t no_skip[1] = {0}; // never read: has_skip is false (the skip table types alias the main ones)
    spiking_conv2d_core<data_T, spike_t, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, no_skip, offsets,
                                                          groups, weights, breaks, trains);
}

template <class data_T, class skip_T, class res_T, typename CONFIG_T>
void direct_conv2d_skip(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[CONFIG_T::n_time * CONFIG_T::n_skip],
                        res_T res[CONFIG_T::n_time * CONFIG_T::n_out], typename CONFIG_T::bias_t bias[CONFIG_T::n_filt],
                        typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                        typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                        typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                        typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                        typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                        typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                        typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table],
                        typename CONFIG_T::break_t breaks[CONFIG_T::n_filt * CONFIG_T::n_breaks],
                        typename CONFIG_T::train_t trains[CONFIG_T::n_filt * (CONFIG_T::n_breaks + 1)]) {
    #pragma HLS ARRAY_RESHAPE variable = skip_weights cyclic factor = CONFIG_T::n_lanes
    spiking_conv2d_core<data_T, skip_T, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, skip, skip_offsets,
                                                         skip_groups, skip_weights, breaks, trains);
}

// A direct-encoded stream layer (the stem of a pre-activation ResNet: pixels in, stream out).
template <class data_T, class skip_T, class zin_T, class res_T, typename CONFIG_T>
void direct_stream_conv2d(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[], zin_T res_z[],
                          res_T res[CONFIG_T::n_time * CONFIG_T::n_out], typename CONFIG_T::bias_t bias[CONFIG_T::n_filt],
                          typename CONFIG_T::thr_t thr[CONFIG_T::n_filt], typename CONFIG_T::sign_t sign[CONFIG_T::n_filt],
                          typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                          typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                          typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                          typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                          typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                          typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    spiking_stream_conv2d<data_T, skip_T, zin_T, res_T, CONFIG_T>(data, skip, res_z, res, bias, thr, sign, offsets, groups, weights,
                                                                  skip_offsets, skip_groups, skip_weights);
}

template <class data_T, class skip_T, class zin_T, class res_T, class zout_T, typename CONFIG_T>
void direct_stream_conv2d_write(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], skip_T skip[], zin_T res_z[],
                                res_T res[CONFIG_T::n_time * CONFIG_T::n_out], zout_T out_z[CONFIG_T::n_time * CONFIG_T::n_out],
                                typename CONFIG_T::bias_t bias[CONFIG_T::n_filt], typename CONFIG_T::thr_t thr[CONFIG_T::n_filt],
                                typename CONFIG_T::sign_t sign[CONFIG_T::n_filt],
                                typename CONFIG_T::index_t offsets[CONFIG_T::n_rows + 1],
                                typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                                typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                                typename CONFIG_T::skip_index_t skip_offsets[CONFIG_T::skip_chan + 1],
                                typename CONFIG_T::skip_group_t skip_groups[CONFIG_T::skip_chunks],
                                typename CONFIG_T::skip_weight_t skip_weights[CONFIG_T::skip_table]) {
    spiking_stream_conv2d_write<data_T, skip_T, zin_T, res_T, zout_T, CONFIG_T>(data, skip, res_z, res, out_z, bias, thr, sign,
                                                                                offsets, groups, weights, skip_offsets,
                                                                                skip_groups, skip_weights);
}

template <class data_T, class res_T, typename CONFIG_T>
void direct_dense(data_T data[CONFIG_T::n_time * CONFIG_T::n_in], res_T res[CONFIG_T::n_time * CONFIG_T::n_out],
                  typename CONFIG_T::bias_t bias[CONFIG_T::n_out], typename CONFIG_T::thr_t thr[CONFIG_T::n_out],
                  typename CONFIG_T::index_t offsets[CONFIG_T::n_in + 1], typename CONFIG_T::group_t groups[CONFIG_T::n_chunks],
                  typename CONFIG_T::weight_t weights[CONFIG_T::n_table],
                  typename CONFIG_T::break_t breaks[CONFIG_T::n_out * CONFIG_T::n_breaks],
                  typename CONFIG_T::train_t trains[CONFIG_T::n_out * (CONFIG_T::n_breaks + 1)]) {
    spiking_dense_core<data_T, res_T, CONFIG_T>(data, res, bias, thr, offsets, groups, weights, breaks, trains);
}

} // namespace nnet

#endif
