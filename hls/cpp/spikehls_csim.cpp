// spikehls C-simulation driver: runs the generated firmware on many samples in one process.
//
// usage: spikehls_csim INPUT OUTPUT CAPTURE
//   INPUT : int64 n_samples, int64 n_elems, then n_samples * n_elems uint8 raw input values
//           (spikes 0/1, or 8-bit pixels for direct encoding), [T][C][H][W] order.
//   OUTPUT: per sample, int64 readout[N_OUTPUTS], uint64 counters[N_LAYERS][3]
//           (input events, weight additions, output spikes), then, if CAPTURE is 1, the output
//           spikes of every spiking layer packed 8 per byte (MSB first, like numpy.packbits).
// The layer table (ids and sizes) comes from spikehls_layers.h, written by spikehls.hls.csim.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "spikehls_layers.h"  // the project's top header (SPK_TOP), its namespace, the layer table
#include "nnet_utils/nnet_spiking_common.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s INPUT OUTPUT CAPTURE\n", argv[0]);
        return 2;
    }
    const bool capture = std::atoi(argv[3]) != 0;
    FILE *fin = std::fopen(argv[1], "rb");
    FILE *fout = std::fopen(argv[2], "wb");
    if (!fin || !fout) {
        std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    long long header[2];
    if (std::fread(header, sizeof(long long), 2, fin) != 2 || header[1] != (long long)SPK_N_INPUTS) {
        std::fprintf(stderr, "bad input header (expected %d values per sample)\n", (int)SPK_N_INPUTS);
        return 2;
    }
    const long long n_samples = header[0];
    std::vector<unsigned char> raw(SPK_N_INPUTS);
    std::vector<std::vector<unsigned char> > spikes(SPK_N_LAYERS);
    for (int l = 0; l < SPK_N_LAYERS; l++) {
        spikes[l].resize(spk_layer_size[l] > 0 ? spk_layer_size[l] : 1);
        if (capture && spk_layer_size[l] > 0)
            nnet::spike_capture_table()[spk_layer_id[l]] = spikes[l].data();
    }
    std::vector<unsigned char> packed;
    static input_t x[SPK_N_INPUTS];
    static result_t y[SPK_N_OUTPUTS];
    long long readout[SPK_N_OUTPUTS];
    unsigned long long counters[SPK_N_LAYERS][3];
    for (long long s = 0; s < n_samples; s++) {
        if (std::fread(raw.data(), 1, SPK_N_INPUTS, fin) != (size_t)SPK_N_INPUTS) {
            std::fprintf(stderr, "input file truncated at sample %lld\n", s);
            return 2;
        }
        for (int i = 0; i < SPK_N_INPUTS; i++)
            x[i].range(SPK_INPUT_BITS - 1, 0) = raw[i];
        nnet::spike_stats_reset();
        SPK_TOP(x, y);
        for (int k = 0; k < SPK_N_OUTPUTS; k++)
            readout[k] = y[k].to_int64();
        for (int l = 0; l < SPK_N_LAYERS; l++) {
            const nnet::spike_stats &st = nnet::spike_stats_table()[spk_layer_id[l]];
            counters[l][0] = st.in_events;
            counters[l][1] = st.synops;
            counters[l][2] = st.out_spikes;
        }
        std::fwrite(readout, sizeof(long long), SPK_N_OUTPUTS, fout);
        std::fwrite(counters, sizeof(unsigned long long), 3 * SPK_N_LAYERS, fout);
        if (capture) {
            for (int l = 0; l < SPK_N_LAYERS; l++) {
                const int n = spk_layer_size[l];
                if (n <= 0)
                    continue;
                packed.assign((n + 7) / 8, 0);
                for (int i = 0; i < n; i++)
                    if (spikes[l][i])
                        packed[i >> 3] |= (unsigned char)(0x80u >> (i & 7));
                std::fwrite(packed.data(), 1, packed.size(), fout);
            }
        }
    }
    std::fclose(fin);
    if (std::fclose(fout) != 0) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    return 0;
}
